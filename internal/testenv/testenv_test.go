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
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// The parts of the harness that need no control plane; every suite that starts one tests the rest.

func TestShareTable(t *testing.T) {
	many := []string{"300000000003", "100000000002", "300000000001", "300000000002", "300000000004",
		"300000000005"}
	got := ShareTable(emulator.State{Images: []emulator.StateImage{
		{ID: "img-aaaa0001", Name: "web-base", Region: "ap-guangzhou", Owner: "100000000001",
			SharedWith: []string{"100000000004", "100000000002"}},
		{ID: "img-bbbb0002", Name: "ci-runner", Region: "ap-guangzhou", Owner: "100000000001", SharedWith: many},
		{ID: "img-cccc0003", Name: "db-base", Region: "ap-shanghai", Owner: "100000000001"},
	}})
	want := strings.Join([]string{
		"IMAGE         NAME       REGION        OWNER         SHARED  ACCOUNTS",
		"img-aaaa0001  web-base   ap-guangzhou  100000000001  2       100000000002, 100000000004",
		"img-bbbb0002  ci-runner  ap-guangzhou  100000000001  6       " +
			"100000000002, 300000000001, 300000000002, 300000000003 and 2 more",
		"img-cccc0003  db-base    ap-shanghai   100000000001  0       -",
		"",
	}, "\n")
	if got != want {
		t.Errorf("ShareTable:\n%s\nwant:\n%s", got, want)
	}
}

func TestSettled(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, gen int64) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, ObservedGeneration: gen, Reason: "R"}
	}
	for _, tc := range []struct {
		name        string
		conds       []metav1.Condition
		settled, ok bool
	}{
		{"not reconciled yet", nil, false, false},
		{"ready", []metav1.Condition{cond("Ready", metav1.ConditionTrue, 2)}, true, true},
		{"stalled", []metav1.Condition{cond("Ready", metav1.ConditionFalse, 2), cond("Stalled", metav1.ConditionTrue, 2)},
			true, false},
		{"reconciling", []metav1.Condition{cond("Ready", metav1.ConditionFalse, 2),
			cond("Reconciling", metav1.ConditionTrue, 2)}, false, false},
		{"ready for an older spec", []metav1.Condition{cond("Ready", metav1.ConditionTrue, 1)}, false, false},
		{"stalled for an older spec", []metav1.Condition{cond("Stalled", metav1.ConditionTrue, 1)}, false, false},
	} {
		obj := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Generation: 2},
			Status: cvmv1alpha1.ImageShareStatus{Conditions: tc.conds}}
		if got := Settled(obj); got != tc.settled {
			t.Errorf("%s: Settled = %v, want %v", tc.name, got, tc.settled)
		}
		if got := Ready(obj); got != tc.ok {
			t.Errorf("%s: Ready = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestProcessIdentity(t *testing.T) {
	self, err := Identify("test", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !self.Alive() {
		t.Fatalf("%s is not alive", self)
	}
	// Another start time is another process that got the same pid: never ours to signal.
	stranger := self
	stranger.StartTime++
	if stranger.Alive() {
		t.Errorf("a process with another start time counts as alive")
	}
	if err := Terminate([]Process{stranger}, time.Second); err != nil {
		t.Errorf("Terminate of a stranger: %v", err)
	}

	log, err := os.Create(filepath.Join(t.TempDir(), "sleep.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = log.Close() }()
	// A child that leads its process group and has a child of its own: Terminate stops both.
	c, err := StartChild("sh", "/bin/sh", []string{"-c", "sleep 60 & wait"}, os.Environ(), log)
	if err != nil {
		t.Fatal(err)
	}
	if got := Running([]Process{c.Process, stranger}); len(got) != 1 || got[0] != c.Process {
		t.Errorf("Running = %v, want [%v]", got, c.Process)
	}
	if err := Terminate([]Process{c.Process}, 10*time.Second); err != nil {
		t.Errorf("Terminate: %v", err)
	}
	<-c.Done()
	if c.Alive() {
		t.Errorf("%s is alive after Terminate", c.Process)
	}
	deadline := time.Now().Add(5 * time.Second)
	for groupMembers(c.PID) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := groupMembers(c.PID); n > 0 {
		t.Errorf("%d processes left in the group of %s", n, c.Process)
	}
}

// groupMembers counts the live (not zombie) processes of process group pgid.
func groupMembers(pgid int) int {
	procs, _ := listProcesses()
	n := 0
	for _, st := range procs {
		if st.pgid == pgid && st.state != 'Z' {
			n++
		}
	}
	return n
}

// TestPSProcessTable checks the ps(1) reader that systems without /proc use against the /proc
// one (on Linux; elsewhere they are the same reader).
func TestPSProcessTable(t *testing.T) {
	if _, err := exec.LookPath("ps"); err != nil {
		t.Skip("no ps on this machine")
	}
	cmd := exec.Command("sleep", "58")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for _, pid := range []int{os.Getpid(), cmd.Process.Pid} {
		want, err := readStat(pid)
		if err != nil {
			t.Fatal(err)
		}
		got, err := psStat(pid)
		if err != nil {
			t.Fatal(err)
		}
		if got.pid != pid || got.ppid != want.ppid || got.pgid != want.pgid || got.name != want.name ||
			got.state == 0 || got.startTime == 0 {
			t.Errorf("psStat(%d) = %+v; /proc says %+v", pid, got, want)
		}
	}
	if args, err := psArgs(cmd.Process.Pid); err != nil || !slices.Equal(args, []string{"sleep", "58"}) {
		t.Errorf("psArgs = %q, %v", args, err)
	}
	all, err := psList()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(all, func(st procStat) bool { return st.pid == cmd.Process.Pid && st.ppid == os.Getpid() }) {
		t.Errorf("psList has no sleep child %d", cmd.Process.Pid)
	}
	if _, err := psStat(1 << 30); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("psStat of a pid that does not exist: %v", err)
	}
	st, err := parsePSLine("  412     1   412 Ss   Wed Dec  2 10:47:33 2026 /Users/me/Library/Application Support/x/etcd\n")
	if err != nil || st.pid != 412 || st.ppid != 1 || st.pgid != 412 || st.state != 'S' || st.name != "etcd" ||
		st.startTime == 0 {
		t.Errorf("parsePSLine = %+v, %v", st, err)
	}
}

func TestProcessesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pids")
	if procs, err := ReadProcesses(path); err != nil || procs != nil {
		t.Fatalf("missing file: %v, %v", procs, err)
	}
	want := []Process{{Name: "etcd", PID: 10, StartTime: 99}, {Name: "manager", PID: 12, StartTime: 100}}
	if err := WriteProcesses(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadProcesses(path)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ReadProcesses = %v, %v; want %v", got, err, want)
	}
}

func TestRunLongHeartbeat(t *testing.T) {
	old := heartbeat
	heartbeat = 20 * time.Millisecond
	t.Cleanup(func() { heartbeat = old })
	// The command runs until the first heartbeat has been printed, so the test does not depend
	// on how fast this machine is.
	beaten := filepath.Join(t.TempDir(), "beaten")
	cmd := exec.Command("sh", "-c", `echo "step one" >&2; while [ ! -e "$1" ]; do sleep 0.01; done; echo result`,
		"sh", beaten)
	var mu sync.Mutex
	var progress, relayed []string
	out, err := runLong(cmd, func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		progress = append(progress, fmt.Sprintf(format, args...))
		_ = os.WriteFile(beaten, nil, 0o600)
	}, "compiling things", "it takes a while", func(line string) {
		mu.Lock()
		defer mu.Unlock()
		relayed = append(relayed, line)
	})
	if err != nil {
		t.Fatal(err)
	}
	if out != "result\n" {
		t.Errorf("stdout = %q, want %q", out, "result\n")
	}
	if !slices.Equal(relayed, []string{"step one"}) {
		t.Errorf("relayed stderr = %q", relayed)
	}
	if len(progress) == 0 || !strings.HasPrefix(progress[0], "  ... still compiling things (") ||
		!strings.HasSuffix(progress[0], "; it takes a while)") {
		t.Errorf("heartbeat lines = %q", progress)
	}

	_, err = runLong(exec.Command("sh", "-c", "echo broken >&2; exit 3"), func(string, ...any) {}, "failing", "",
		nil)
	if err == nil || !strings.Contains(err.Error(), "exit status 3: broken") {
		t.Errorf("error = %v, want the exit status and stderr", err)
	}
}

func TestChildProcesses(t *testing.T) {
	cmd := exec.Command("sleep", "59") // one operand: BSD and macOS sleep take no more
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found, err := childProcesses(os.Getpid(), func(name string, args []string) bool {
		return name == "sleep" && slices.Equal(args, []string{"sleep", "59"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].PID != cmd.Process.Pid || found[0].Name != "sleep" {
		t.Errorf("childProcesses = %v, want the sleep child pid %d", found, cmd.Process.Pid)
	}
}

func TestLockedBuffer(t *testing.T) {
	var b LockedBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _, _ = b.Write([]byte("x")) })
	}
	wg.Wait()
	if b.String() != "xxxx" {
		t.Errorf("LockedBuffer = %q", b.String())
	}
}

func TestCloudFront(t *testing.T) {
	emu, err := emulator.New(&emulator.Seed{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := StartFront(emu)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	var calls []FrontCall
	var mu sync.Mutex
	f.SetHook(func(c FrontCall) { mu.Lock(); calls = append(calls, c); mu.Unlock() })
	post := func(action string) (string, error) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+f.Addr()+"/", strings.NewReader(`{"ImageIds":["img-1"]}`))
		req.Header.Set("X-TC-Action", action)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}
	// Unsigned: the emulator refuses it, and the hook sees its code.
	if _, err := post("DescribeImages"); err != nil {
		t.Fatal(err)
	}
	f.SetIntercept(func(action string, body map[string]any) (string, string) {
		if action == "DescribeImages" && body["ImageIds"] != nil {
			return "InternalError", "injected"
		}
		return "", ""
	})
	if body, err := post("DescribeImages"); err != nil || !strings.Contains(body, `"Code":"InternalError"`) ||
		!strings.Contains(body, "injected") {
		t.Errorf("intercepted answer = %s, %v", body, err)
	}
	mu.Lock()
	if len(calls) != 2 || calls[0].Code == "" || calls[1].Code != "InternalError" || f.TotalCalls() != 2 {
		t.Errorf("calls = %+v, total %d", calls, f.TotalCalls())
	}
	mu.Unlock()
	f.Stop()
	if _, err := post("DescribeImages"); err == nil {
		t.Errorf("a stopped front answered")
	}
	if err := f.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := post("DescribeImages"); err != nil {
		t.Errorf("after Restart: %v", err)
	}
}
