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

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/imageshare/imageshare-operator/hack/demo/stack"
)

// lockFD is where the --serve process finds the inherited lock (the first of ExtraFiles).
const lockFD = 3

// heldLock keeps the inherited lock's *os.File reachable: a collected *os.File closes its
// descriptor, and with it the background process's hold on the lock.
var heldLock *os.File

// runKeep starts the stack in a background copy of this program (--serve) that outlives this
// one, follows its progress, shows the samples like a normal run and prints how to use and stop
// what stays running. The background process gets its own session, so neither Ctrl-C nor closing
// the terminal reaches it, and it shares this process's lock.
func runKeep(ctx context.Context, cfg config, lock *os.File, start time.Time) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to run it in the background: %w", err)
	}
	logPath := filepath.Join(cfg.dir, "demo.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", logPath, err)
	}
	defer func() { _ = log.Close() }()
	args := []string{"--serve", "--dir", cfg.dir, "--bin-dir", cfg.binDir, "--assets", cfg.assets,
		"--seed", cfg.seed, "--emulator-listen", cfg.emulatorListen, "--share-limit", fmt.Sprint(cfg.shareLimit),
		"--api-qps", fmt.Sprint(cfg.apiQPS)}
	cmd := exec.Command(exe, args...)
	cmd.Dir = cfg.projectDir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{lock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the background process: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	say("Starting the stack in a background process (pid %d; its log: %s)", cmd.Process.Pid, cfg.rel(logPath))

	info, err := followServe(ctx, cfg, cmd.Process.Pid, logPath, exited)
	if err != nil {
		return err
	}
	rep, showErr := showcase(ctx, cfg, info)
	rep.Elapsed = time.Since(start).Round(time.Second).String()
	if err := rep.write(cfg.report); err != nil {
		showErr = errors.Join(showErr, err)
	}
	printKeep(cfg, info)
	if showErr != nil {
		return fmt.Errorf("%w (the demo is left running for inspection; `make demo-stop` stops it)", showErr)
	}
	return nil
}

// followServe relays the background process's progress lines from its log until it records
// itself ready in state.json, and fails with the end of its log if it exits first.
func followServe(ctx context.Context, cfg config, pid int, logPath string, exited <-chan error) (stack.Info,
	error) {
	var offset int64
	relay := func() {
		data, err := os.ReadFile(logPath)
		if err != nil || int64(len(data)) <= offset {
			return
		}
		chunk := data[offset:]
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			_, _ = os.Stdout.Write(chunk[:i+1])
			offset += int64(i + 1)
		}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		relay()
		if st, ok := readState(cfg); ok && st.Owner.PID == pid && st.Ready {
			return st.Info, nil
		}
		select {
		case err := <-exited:
			relay()
			return stack.Info{}, fmt.Errorf("the background process stopped before the demo was up (%v); see %s",
				err, cfg.rel(logPath))
		case <-ctx.Done():
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Signal(syscall.SIGTERM)
			}
			<-exited
			relay()
			return stack.Info{}, fmt.Errorf("interrupted; the background process has stopped: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// printKeep says how to use the running demo and how to stop it.
func printKeep(cfg config, info stack.Info) {
	var b strings.Builder
	fmt.Fprintf(&b, "The demo keeps running (KEEP=1). Use it from this shell with:\n\n")
	fmt.Fprintf(&b, "  export KUBECONFIG=%s\n", info.Kubeconfig)
	fmt.Fprintf(&b, "  export PATH=%s:$PATH   # for its kubectl, if you have none\n", filepath.Dir(info.KubectlPath))
	fmt.Fprintf(&b, "  kubectl get ims -A\n")
	fmt.Fprintf(&b, "  curl -s http://%s/_emulator/state\n\n", info.Emulator)
	fmt.Fprintf(&b, "Logs: %s\n", strings.Join([]string{
		cfg.rel(filepath.Join(cfg.dir, "manager.log")), cfg.rel(filepath.Join(cfg.dir, "emulator.log")),
		cfg.rel(filepath.Join(cfg.dir, "demo.log"))}, ", "))
	fmt.Fprintf(&b, "Running: %s\n", stack.Describe(info.Processes))
	fmt.Fprintf(&b, "Stop everything with: make demo-stop\n")
	_, _ = io.WriteString(os.Stdout, b.String())
}

// serve is the background process of --keep: it starts the stack, records it in state.json and
// runs until SIGTERM (from `make demo-stop`), then stops everything it started.
func serve(ctx context.Context, cfg config) error {
	heldLock = os.NewFile(lockFD, lockName)
	// Holding the inherited lock again is a no-op for the same open file; it fails only when
	// there is no lock, i.e. when --serve was run by hand.
	if heldLock == nil || syscall.Flock(lockFD, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return errors.New("--serve is internal to --keep: run `make demo KEEP=1`")
	}
	// The parts of the stack must not inherit the lock: it is this process's to release.
	syscall.CloseOnExec(lockFD)
	signal.Ignore(syscall.SIGHUP)
	if cfg.assets == "" {
		return errors.New("--serve needs --assets")
	}
	st, err := stack.Start(ctx, cfg.options())
	if err != nil {
		return err
	}
	if err := writeState(cfg, demoState{Keep: true, Ready: true, Info: st.Info}); err != nil {
		return errors.Join(err, st.Stop())
	}
	say("Running until `make demo-stop`")
	<-ctx.Done()
	say("Stopping %s", stack.Describe(reversed(st.Processes)))
	err = st.Stop()
	removeState(cfg)
	if err == nil {
		say("Stopped; no process left behind")
	}
	return err
}
