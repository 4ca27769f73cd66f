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
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Child is a process this program started and waits for.
type Child struct {
	// Process identifies it.
	Process
	// Log is the file its stdout and stderr go to.
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit error, once done is closed
}

// StartChild starts path with args and env, stdout and stderr going to the file log. The child
// leads a process group of its own: a Ctrl-C in the terminal reaches only the program that
// started it, which then stops the parts in order, and it outlives that program when asked to
// (make demo KEEP=1).
// A nil log discards the output.
func StartChild(name, path string, args, env []string, log *os.File) (*Child, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	logName := os.DevNull
	if log != nil {
		cmd.Stdout, cmd.Stderr, logName = log, log, log.Name()
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Child{cmd: cmd, Log: logName, done: make(chan struct{}),
		Process: Process{Name: name, PID: cmd.Process.Pid}}
	if st, err := readStat(c.PID); err == nil {
		c.StartTime = st.startTime
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Done is closed once the child has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// WaitFor polls ready until it says yes, the child exits (an error with the end of its log),
// the timeout passes or ctx ends.
func (c *Child) WaitFor(ctx context.Context, timeout time.Duration, ready func() (bool, error)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok, err := ready(); err != nil || ok {
			return err
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited (%v); the end of %s:\n%s", c.Name, c.err, c.Log, c.tail())
		case <-deadline.C:
			return fmt.Errorf("%s not ready after %s; the end of %s:\n%s", c.Name, timeout, c.Log, c.tail())
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", c.Name, ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *Child) tail() string {
	data, err := os.ReadFile(c.Log)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	return "  " + strings.ReplaceAll(LastLines(string(data), 8), "\n", "\n  ")
}

// Kill sends SIGKILL and waits until the child is gone.
func (c *Child) Kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// Stop sends SIGTERM and waits up to timeout, then SIGKILL. A child that already exited is not
// an error here: whoever waited for it has reported that.
func (c *Child) Stop(timeout time.Duration) error {
	if c.Exited() {
		return nil
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", c.Process, err)
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(timeout):
	}
	c.Kill()
	return fmt.Errorf("stop %s: did not exit within %s of SIGTERM; killed", c.Process, timeout)
}
