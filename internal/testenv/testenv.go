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

// Package testenv is the one harness of the project's tests, benchmark and demo. It provides
// the control plane binaries (hack/envtest-assets.sh), starts kube-apiserver and etcd through
// envtest, the CVM emulator (in process with emulatortest, or as the cmd/cvm-emulator binary),
// and the manager (in process for the controller suites, as the cmd/ binary for the end-to-end
// and reliability tests, hack/bench and hack/demo). It has the one kubectl runner and the one
// "wait until every ImageShare is Ready or Stalled" helper, so that what the tests prove is what
// the demo shows. It lives under internal/ so that hack/ may import it; nothing imports hack/.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// AssetsEnv is the variable that names the directory holding kube-apiserver, etcd and kubectl,
// as envtest and setup-envtest define it.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// assetsHint tells a developer how to get the binaries; `make test` sets the variable itself,
// so only a bare `go test` run ever needs this.
const assetsHint = "run `make test` (or `make envtest-assets`), or set it to the directory that " +
	"hack/envtest-assets.sh prints (for example ~/.local/share/kubebuilder-envtest/k8s/1.37.2-linux-amd64)"

// kubectlTimeout bounds one kubectl call whose context has no deadline of its own: far above
// what a call takes on a loaded 2-core machine, it only turns a hang into an error.
const kubectlTimeout = 2 * time.Minute

// ProjectDir is the repository root: the nearest directory above the working directory that
// holds go.mod, so that suites in any package and the hack/ programs find config/ alike.
func ProjectDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run inside the repository: no go.mod above the working directory")
		}
		dir = parent
	}
}

// AssetsDir returns the directory named by KUBEBUILDER_ASSETS once CheckAssets passes. Its
// error says what to do, instead of the envtest error about /usr/local/kubebuilder a developer
// would otherwise see.
func AssetsDir() (string, error) {
	dir := os.Getenv(AssetsEnv)
	if dir == "" {
		return "", fmt.Errorf("%s is not set: %s", AssetsEnv, assetsHint)
	}
	if err := CheckAssets(dir); err != nil {
		return "", fmt.Errorf("%s=%s: %w", AssetsEnv, dir, err)
	}
	return dir, nil
}

// CheckAssets fails, and says what to do, when dir lacks kube-apiserver, etcd or kubectl.
func CheckAssets(dir string) error {
	if missing := missingExecutables(filepath.Join(dir, "etcd"), filepath.Join(dir, "kube-apiserver"),
		filepath.Join(dir, "kubectl")); len(missing) > 0 {
		return fmt.Errorf("missing %s: %s", strings.Join(missing, ", "), assetsHint)
	}
	return nil
}

func missingExecutables(paths ...string) []string {
	var missing []string
	for _, p := range paths {
		if info, err := os.Stat(p); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	return missing
}

// Kubectl runs the kubectl binary at path against the cluster of kubeconfig, as a user would,
// and returns what it printed. A non-zero exit is an error that carries stderr; stdout and
// stderr are returned either way, so a test can check the message of a command meant to fail.
func Kubectl(ctx context.Context, path, kubeconfig string, args ...string) (stdout, stderr string, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, kubectlTimeout)
		defer cancel()
	}
	// A discovery cache beside the kubeconfig keeps runs apart: a later API server on the same
	// port must not be answered from an earlier one's resource list.
	cacheDir := filepath.Join(filepath.Dir(kubeconfig), "kubectl-cache")
	cmd := exec.CommandContext(ctx, path, append([]string{"--cache-dir=" + cacheDir}, args...)...)
	// KUBECTL_KUBERC=false keeps a developer's ~/.kube/kuberc aliases and defaults out; later
	// entries win over the inherited environment.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "KUBECTL_KUBERC=false")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), errOut.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err,
			strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), nil
}

// FreeAddr returns a loopback address with a port nobody listens on right now. Another process
// may take it before the caller binds it; the caller's start then fails and says so.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

// RelPath shortens path to be relative to base when it is inside it, for messages.
func RelPath(base, path string) string {
	if rel, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// LastLines returns the last n lines of s, for error messages that quote a log.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// LockedBuffer is a goroutine-safe log sink: a manager's goroutines write while a test reads.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
