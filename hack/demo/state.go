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
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/imageshare/imageshare-operator/hack/demo/stack"
)

const (
	lockName  = "demo.lock"
	stateName = "state.json"
	// ownerName is how the demo's own process is named in state.json.
	ownerName = "demo"
	// stopWait is how long --stop waits for the demo to stop its parts before it kills them.
	stopWait = 90 * time.Second
)

// demoState is bin/demo/state.json: the process that owns the running demo (this program, or
// its background copy with --keep) and, once it is up, the stack's files and processes.
type demoState struct {
	Owner   stack.Process `json:"owner"`
	Started time.Time     `json:"started"`
	Keep    bool          `json:"keep"`
	Ready   bool          `json:"ready"`
	Info    stack.Info    `json:"info"`
}

// processes are the owner and every process of the stack.
func (s demoState) processes() []stack.Process {
	return append([]stack.Process{s.Owner}, s.Info.Processes...)
}

// acquireLock takes bin/demo/demo.lock, or says which demo holds it. flock(2) is released by
// the kernel when the holder dies, so a crashed demo never leaves a stale lock; the lock is
// shared with the --keep background process by passing it the descriptor.
func acquireLock(cfg config) (*os.File, error) {
	f, err := tryLock(cfg)
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, err
	}
	msg := "another demo is running"
	if st, ok := readState(cfg); ok {
		msg += fmt.Sprintf(" (pid %d, started %s)", st.Owner.PID, st.Started.Format(time.TimeOnly))
		if st.Ready {
			msg += fmt.Sprintf("; use it with `export KUBECONFIG=%s`", st.Info.Kubeconfig)
		}
	}
	return nil, fmt.Errorf("%s; stop it with `make demo-stop` before starting another", msg)
}

// tryLock opens and locks the lock file without waiting; EWOULDBLOCK means it is held.
func tryLock(cfg config) (*os.File, error) {
	path := filepath.Join(cfg.dir, lockName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

func statePath(cfg config) string { return filepath.Join(cfg.dir, stateName) }

// writeState records st with this process as its owner, atomically (a reader never sees half).
func writeState(cfg config, st demoState) error {
	self, err := stack.Identify(ownerName, os.Getpid())
	if err != nil {
		return err
	}
	st.Owner, st.Started = self, time.Now()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp := statePath(cfg) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, statePath(cfg)); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

func readState(cfg config) (demoState, bool) {
	data, err := os.ReadFile(statePath(cfg))
	if err != nil {
		return demoState{}, false
	}
	var st demoState
	if json.Unmarshal(data, &st) != nil {
		return demoState{}, false
	}
	return st, true
}

// removeState removes state.json if this process owns it: with --keep, the file belongs to the
// background process once it has started.
func removeState(cfg config) {
	if st, ok := readState(cfg); ok && st.Owner.PID == os.Getpid() {
		_ = os.Remove(statePath(cfg))
	}
}

// cleanLeftovers stops processes that a demo killed without cleaning up (SIGKILL, a power cut
// of the terminal) recorded and left running. The caller holds the lock, so no demo owns them.
func cleanLeftovers(cfg config) error {
	st, ok := readState(cfg)
	if !ok {
		return nil
	}
	left := stack.Running(st.processes())
	if len(left) > 0 {
		say("A previous demo was killed and left %s running; stopping them", stack.Describe(left))
		if err := stack.Terminate(left, stopWaitLeftovers); err != nil {
			return fmt.Errorf("stop what a previous demo left running: %w", err)
		}
	}
	return os.Remove(statePath(cfg))
}

// stopWaitLeftovers is how long leftovers get to stop after SIGTERM.
const stopWaitLeftovers = 20 * time.Second

// stopDemo is `make demo-stop`: it asks the owner of the running demo to stop everything,
// waits until the lock is free, and makes sure no recorded process is left.
func stopDemo(cfg config) error {
	if _, err := os.Stat(cfg.dir); errors.Is(err, os.ErrNotExist) {
		say("No demo is running")
		return nil
	}
	lock, err := tryLock(cfg)
	if err == nil {
		defer func() { _ = lock.Close() }()
		if _, ok := readState(cfg); !ok {
			say("No demo is running")
			return nil
		}
		return cleanLeftovers(cfg)
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return err
	}
	st, ok := readState(cfg)
	if !ok {
		return fmt.Errorf("a demo holds %s but has not recorded itself in %s yet; try again in a moment",
			filepath.Join(cfg.dir, lockName), statePath(cfg))
	}
	say("Stopping the demo: %s", stack.Describe(reversed(st.processes())))
	if err := stack.Signal(st.Owner, syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(stopWait)
	for {
		if lock, err = tryLock(cfg); err == nil {
			defer func() { _ = lock.Close() }()
			break
		}
		if time.Now().After(deadline) {
			say("The demo did not stop within %s; killing its processes", stopWait)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if left := stack.Running(st.processes()); len(left) > 0 {
		if err := stack.Terminate(left, stopWaitLeftovers); err != nil {
			return err
		}
	}
	_ = os.Remove(statePath(cfg))
	say("Stopped; no process left behind")
	return nil
}
