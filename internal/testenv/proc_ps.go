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
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The process table from ps(1), for systems without /proc (proc_other.go). It builds on every
// system so that the Linux tests compare it with /proc.

// psColumns are the columns psStat and psList ask for. lstart (the start time, to the second)
// has five words, and comm (the executable: a full path on macOS) comes last because it may
// hold spaces.
const psColumns = "pid=,ppid=,pgid=,stat=,lstart=,comm="

// psStartLayout is lstart's format in the C locale: "Wed Dec  2 10:57:16 2026".
const psStartLayout = "Mon Jan _2 15:04:05 2006"

// runPS runs ps with args in the C locale. A pid that does not exist makes ps exit 1 with no
// output: that is os.ErrNotExist.
func runPS(args ...string) (string, error) {
	cmd := exec.Command("ps", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && len(strings.TrimSpace(string(out))) == 0 {
			return "", os.ErrNotExist
		}
		return "", fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// psStat is readStat from ps.
func psStat(pid int) (procStat, error) {
	out, err := runPS("-o", psColumns, "-p", strconv.Itoa(pid))
	if err != nil {
		return procStat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	for line := range strings.Lines(out) {
		if st, err := parsePSLine(line); err != nil || st.pid == pid {
			return st, err
		}
	}
	return procStat{}, fmt.Errorf("read stat of pid %d: %w", pid, os.ErrNotExist)
}

// psList is listProcesses from ps.
func psList() ([]procStat, error) {
	out, err := runPS("-A", "-o", psColumns)
	if err != nil {
		return nil, err
	}
	var procs []procStat
	for line := range strings.Lines(out) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		st, err := parsePSLine(line)
		if err != nil {
			return nil, err
		}
		procs = append(procs, st)
	}
	return procs, nil
}

// psArgs is processArgs from ps: the command line split at spaces (ps does not say where an
// argument with a space in it ends, which the harness's own arguments never have).
func psArgs(pid int) ([]string, error) {
	out, err := runPS("-o", "args=", "-p", strconv.Itoa(pid))
	if err != nil {
		return nil, fmt.Errorf("read command line of pid %d: %w", pid, err)
	}
	return strings.Fields(out), nil
}

// parsePSLine parses one line of `ps -o psColumns`.
func parsePSLine(line string) (procStat, error) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return procStat{}, fmt.Errorf("parse ps line %q: %d fields", line, len(f))
	}
	var st procStat
	var errs [3]error
	st.pid, errs[0] = strconv.Atoi(f[0])
	st.ppid, errs[1] = strconv.Atoi(f[1])
	st.pgid, errs[2] = strconv.Atoi(f[2])
	if err := errors.Join(errs[:]...); err != nil {
		return procStat{}, fmt.Errorf("parse ps line %q: %w", line, err)
	}
	st.state = f[3][0]
	start, err := time.ParseInLocation(psStartLayout, strings.Join(f[4:9], " "), time.Local)
	if err != nil {
		return procStat{}, fmt.Errorf("parse ps line %q: %w", line, err)
	}
	st.startTime = uint64(start.Unix())
	st.name = filepath.Base(strings.Join(f[9:], " "))
	return st, nil
}
