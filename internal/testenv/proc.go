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
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Process is one process a harness started. StartTime (from /proc in clock ticks since boot on
// Linux, from ps(1) in seconds since the epoch elsewhere) tells it apart from a later process that got the same pid, so that a stale record never
// leads to signalling a stranger.
type Process struct {
	// Name is one of the Process* names.
	Name string `json:"name"`
	// PID is the process ID.
	PID int `json:"pid"`
	// StartTime is field 22 of /proc/PID/stat on Linux, ps's lstart in Unix seconds elsewhere.
	StartTime uint64 `json:"startTime"`
}

// String is "name (pid N)".
func (p Process) String() string { return fmt.Sprintf("%s (pid %d)", p.Name, p.PID) }

// Alive reports whether the process still runs: its pid exists, was started at the recorded
// time (it is the same process) and is not a zombie.
func (p Process) Alive() bool {
	st, err := readStat(p.PID)
	return err == nil && st.startTime == p.StartTime && st.state != 'Z' && st.state != 'X'
}

// Running returns the processes of procs that are still alive.
func Running(procs []Process) []Process {
	return slices.DeleteFunc(slices.Clone(procs), func(p Process) bool { return !p.Alive() })
}

// Describe names processes the way the demo prints them: "manager (pid 123), etcd (pid 120)".
func Describe(procs []Process) string {
	parts := make([]string, 0, len(procs))
	for _, p := range procs {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ")
}

// Identify returns the Process record of a running pid, named name.
func Identify(name string, pid int) (Process, error) {
	st, err := readStat(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{Name: name, PID: pid, StartTime: st.startTime}, nil
}

// Terminate stops processes this program may not have started (what make demo KEEP=1 left
// running), last first: SIGTERM to each one's process group when it leads one (so nothing it
// started stays behind), else to it alone; up to timeout for it to go, then SIGKILL. It
// returns an error naming any process still alive at the end.
func Terminate(procs []Process, timeout time.Duration) error {
	for _, p := range slices.Backward(procs) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			if !p.Alive() {
				break
			}
			target := p.PID
			if st, err := readStat(p.PID); err == nil && st.pgid == p.PID {
				target = -p.PID
			}
			_ = syscall.Kill(target, sig)
			deadline := time.Now().Add(timeout)
			for p.Alive() && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	if left := Running(procs); len(left) > 0 {
		return fmt.Errorf("still running after SIGKILL: %s", Describe(left))
	}
	return nil
}

// WriteProcesses records procs in path, one "name pid starttime" line each, atomically (a
// reader never sees half a file).
func WriteProcesses(path string, procs []Process) error {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "%s %d %d\n", p.Name, p.PID, p.StartTime)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadProcesses reads what WriteProcesses recorded; a missing file is no processes.
func ReadProcesses(path string) ([]Process, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var procs []Process
	for line := range strings.Lines(string(data)) {
		var p Process
		if _, err := fmt.Sscanf(line, "%s %d %d", &p.Name, &p.PID, &p.StartTime); err != nil {
			return nil, fmt.Errorf("parse %s: %q: %w", path, line, err)
		}
		procs = append(procs, p)
	}
	return procs, nil
}

// procStat is what the harness needs to know about a process, from /proc on Linux and from
// ps(1) elsewhere (proc_linux.go, proc_other.go).
type procStat struct {
	pid   int
	name  string
	state byte
	ppid  int
	pgid  int
	// startTime tells a process from a later one with the same pid: clock ticks since boot on
	// Linux, seconds since the epoch elsewhere. Only ever compared with a value from the same
	// machine.
	startTime uint64
}

// childProcesses finds the children of parent that want says are the ones sought, given their
// executable name and command line.
func childProcesses(parent int, want func(name string, args []string) bool) ([]Process, error) {
	all, err := listProcesses()
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []Process
	for _, st := range all {
		if st.ppid != parent {
			continue
		}
		args, err := processArgs(st.pid)
		if err != nil || !want(st.name, args) {
			continue // gone meanwhile, or not sought
		}
		out = append(out, Process{Name: st.name, PID: st.pid, StartTime: st.startTime})
	}
	return out, nil
}
