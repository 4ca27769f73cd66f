/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// heartbeat is how often a long step says it is still working (a variable for the tests).
var heartbeat = 30 * time.Second

// Build compiles the manager (cmd/) and the emulator (cmd/cvm-emulator) into binDir, or
// only the named ones of ManagerBinary and EmulatorBinary. The Go build cache makes this take
// seconds after the first time.
func Build(ctx context.Context, projectDir, binDir string, progress func(string, ...any), only ...string) error {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("find the go command (Go 1.26 is needed): %w", err)
	}
	for _, b := range []struct{ out, pkg string }{
		{ManagerBinary, "./cmd"}, {EmulatorBinary, "./cmd/cvm-emulator"},
	} {
		if len(only) > 0 && !slices.Contains(only, b.out) {
			continue
		}
		out := filepath.Join(binDir, b.out)
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, b.pkg)
		cmd.Dir = projectDir
		if _, err := runLong(cmd, progress, "compiling "+RelPath(projectDir, out), "", nil); err != nil {
			return fmt.Errorf("build %s: %w", b.pkg, err)
		}
	}
	return nil
}

// ProvideAssets runs hack/envtest-assets.sh, which finds, downloads or (offline) builds
// kube-apiserver, etcd and kubectl, and returns the directory it prints. Its progress lines are
// passed on, and every half minute a line says the step is still working: the first build on a
// machine without internet takes about 12 minutes.
func ProvideAssets(ctx context.Context, projectDir, setupEnvtest, k8sVersion, binDir string,
	progress func(string, ...any)) (string, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	if _, err := os.Stat(setupEnvtest); err != nil {
		return "", fmt.Errorf("setup-envtest not found at %s: run `make envtest` (make demo does)", setupEnvtest)
	}
	script := filepath.Join(projectDir, "hack", "envtest-assets.sh")
	cmd := exec.CommandContext(ctx, script, setupEnvtest, k8sVersion, binDir)
	cmd.Dir = projectDir
	out, err := runLong(cmd, progress, "providing kube-apiserver, etcd and kubectl",
		"the first build from the Go module proxy takes about 12 minutes on 2 cores", func(line string) {
			progress("  %s", line)
		})
	if err != nil {
		return "", fmt.Errorf("provide envtest binaries with %s: %w", RelPath(projectDir, script), err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// runLong runs cmd, returning its stdout. Each stderr line goes to onLine when it is set;
// otherwise stderr is kept for the error. While cmd runs, a heartbeat line says what is still
// going on and for how long, so a slow first run never looks hung.
func runLong(cmd *exec.Cmd, progress func(string, ...any), what, hint string, onLine func(string)) (string,
	error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		scan := bufio.NewScanner(io.TeeReader(pipe, &stderr))
		for scan.Scan() {
			if onLine != nil {
				onLine(scan.Text())
			}
		}
	})
	stop := make(chan struct{})
	var beat sync.WaitGroup
	beat.Go(func() {
		start := time.Now()
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				msg := fmt.Sprintf("  ... still %s (%s so far", what, time.Since(start).Round(time.Second))
				if hint != "" {
					msg += "; " + hint
				}
				progress("%s)", msg)
			}
		}
	})
	wg.Wait()
	err = cmd.Wait()
	close(stop)
	beat.Wait()
	if err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(LastLines(stderr.String(), 20)))
	}
	return stdout.String(), nil
}
