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

package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one process a stack started. StartTime (from /proc, in clock ticks since boot)
// tells it apart from a later process that got the same pid, so that a stale record never
// leads to signalling a stranger.
type Process struct {
	// Name is one of the Process* names.
	Name string `json:"name"`
	// PID is the process ID.
	PID int `json:"pid"`
	// StartTime is field 22 of /proc/PID/stat.
	StartTime uint64 `json:"startTime"`
}

// String is "name (pid N)".
func (p Process) String() string { return fmt.Sprintf("%s (pid %d)", p.Name, p.PID) }

// Alive reports whether the process still runs: its pid exists, was started at the recorded
// time (it is the same process) and is not a zombie.
func Alive(p Process) bool {
	st, err := readStat(p.PID)
	return err == nil && st.startTime == p.StartTime && st.state != 'Z' && st.state != 'X'
}

// Running returns the processes of procs that are still alive.
func Running(procs []Process) []Process {
	var out []Process
	for _, p := range procs {
		if Alive(p) {
			out = append(out, p)
		}
	}
	return out
}

// Signal sends sig to p if p is still the process that was recorded.
func Signal(p Process, sig syscall.Signal) error {
	if !Alive(p) {
		return nil
	}
	if err := syscall.Kill(p.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", p, err)
	}
	return nil
}

// Terminate stops the given processes: SIGTERM, up to timeout for them to go, then SIGKILL. It is
// for processes this program did not start itself (a stack left running by another process).
func Terminate(procs []Process, timeout time.Duration) error {
	var errs []error
	for _, p := range procs {
		errs = append(errs, Signal(p, syscall.SIGTERM))
	}
	deadline := time.Now().Add(timeout)
	for len(Running(procs)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range Running(procs) {
		errs = append(errs, Signal(p, syscall.SIGKILL))
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(Running(procs)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if left := Running(procs); len(left) > 0 {
		errs = append(errs, fmt.Errorf("still running after SIGKILL: %s", Describe(left)))
	}
	return errors.Join(errs...)
}

type procStat struct {
	name      string
	state     byte
	ppid      int
	startTime uint64
}

// readStat parses /proc/PID/stat. The name is in parentheses and may hold spaces and
// parentheses itself, so the fields are counted from the last ')'.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("parse stat of pid %d: no name", pid)
	}
	fields := strings.Fields(string(data[end+1:]))
	// fields[0] is field 3 (state); field N is fields[N-3].
	if len(fields) < 20 {
		return procStat{}, fmt.Errorf("parse stat of pid %d: %d fields", pid, len(fields)+2)
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return procStat{}, fmt.Errorf("parse ppid of pid %d: %w", pid, err)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse start time of pid %d: %w", pid, err)
	}
	return procStat{name: string(data[open+1 : end]), state: fields[0][0], ppid: ppid, startTime: start}, nil
}

// Identify returns the Process record of a running pid, named name.
func Identify(name string, pid int) (Process, error) {
	st, err := readStat(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{Name: name, PID: pid, StartTime: st.startTime}, nil
}

// childProcesses finds the children of parent that want says are the ones sought, given their
// executable name and command line. envtest starts etcd and kube-apiserver without telling their
// pids; they are children of this process, told apart from any other control plane this process
// runs (a test suite's) by their data and certificate directories.
func childProcesses(parent int, want func(name string, args []string) bool) ([]Process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.ppid != parent {
			continue // gone meanwhile, or not ours
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !want(st.name, strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")) {
			continue
		}
		out = append(out, Process{Name: st.name, PID: pid, StartTime: st.startTime})
	}
	slices.SortFunc(out, func(a, b Process) int { return a.PID - b.PID })
	return out, nil
}

// child is a process this program started and waits for.
type child struct {
	proc Process
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // the exit error, once done is closed
}

// startChild starts path with args, stdout and stderr going to log. The child gets its own
// process group, so that a Ctrl-C in the terminal reaches only the demo, which then stops the
// parts in order; and it gets SIGTERM if this program dies without stopping it.
func startChild(name, path string, args, env []string, log *os.File) (*child, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{cmd: cmd, log: log.Name(), done: make(chan struct{}),
		proc: Process{Name: name, PID: cmd.Process.Pid}}
	if st, err := readStat(c.proc.PID); err == nil {
		c.proc.StartTime = st.startTime
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// waitFor polls ready until it says yes, the child exits (an error with the end of its log),
// the timeout passes or ctx ends.
func (c *child) waitFor(ctx context.Context, timeout time.Duration, ready func() (bool, error)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := ready()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited (%w); the end of %s:\n%s", c.proc.Name, c.exitErr(), c.log, tail(c.log, 8))
		case <-deadline.C:
			return fmt.Errorf("%s not ready after %s; the end of %s:\n%s", c.proc.Name, timeout, c.log,
				tail(c.log, 8))
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", c.proc.Name, ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *child) exitErr() error {
	if c.err == nil {
		return errors.New("exit status 0")
	}
	return c.err
}

// stop sends SIGTERM and waits up to timeout, then SIGKILL. A child that already exited is
// not an error here: waitFor has reported it, or the stack ran its course.
func (c *child) stop(timeout time.Duration) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", c.proc, err)
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(timeout):
	}
	_ = c.cmd.Process.Kill()
	<-c.done
	return fmt.Errorf("stop %s: did not exit within %s of SIGTERM; killed", c.proc, timeout)
}

// tail returns the last n lines of a file, indented, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	lines = lines[max(0, len(lines)-n):]
	return "  " + strings.Join(lines, "\n  ")
}
