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
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestEventually(t *testing.T) {
	calls := 0
	err := Eventually(t.Context(), time.Minute, time.Millisecond, func() error {
		if calls++; calls < 3 {
			return fmt.Errorf("attempt %d", calls)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Eventually = %v after %d calls, want nil after 3", err, calls)
	}

	// On timeout the last error comes back as it is, for the caller to word.
	calls = 0
	start := time.Now()
	err = Eventually(t.Context(), 50*time.Millisecond, 10*time.Millisecond, func() error {
		calls++
		return fmt.Errorf("attempt %d", calls)
	})
	if err == nil || err.Error() != fmt.Sprintf("attempt %d", calls) {
		t.Fatalf("Eventually = %v after %d calls, want the last error", err, calls)
	}
	if calls < 2 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("gave up after %d calls and %v, want several over at least 50ms", calls, time.Since(start))
	}

	// A cancelled context ends the wait and says so, with the last error.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	last := errors.New("not yet")
	err = Eventually(ctx, time.Hour, time.Hour, func() error { return last })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, last) {
		t.Errorf("Eventually with a cancelled context = %v, want both context.Canceled and the last error", err)
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = fmt.Fprint(w, "hello "+r.Header.Get("Authorization"))
		default:
			http.Error(w, "no such page", http.StatusNotFound)
		}
	}))
	defer srv.Close()

	body, code, err := Get(t.Context(), srv.Client(), srv.URL+"/ok", http.Header{"Authorization": {"Bearer x"}})
	if err != nil || code != http.StatusOK || string(body) != "hello Bearer x" {
		t.Errorf("Get /ok = %q %d %v, want the body with the header, 200", body, code, err)
	}
	// Get reports any status; GetBody wants 200.
	body, code, err = Get(t.Context(), nil, srv.URL+"/missing", nil)
	if err != nil || code != http.StatusNotFound || !strings.Contains(string(body), "no such page") {
		t.Errorf("Get /missing = %q %d %v, want the body and 404 without an error", body, code, err)
	}
	if body, err := GetBody(t.Context(), srv.URL+"/ok"); err != nil || string(body) != "hello " {
		t.Errorf("GetBody /ok = %q %v", body, err)
	}
	_, err = GetBody(t.Context(), srv.URL+"/missing")
	if err == nil || !strings.Contains(err.Error(), "HTTP 404 Not Found: no such page") ||
		!strings.Contains(err.Error(), srv.URL+"/missing") {
		t.Errorf("GetBody /missing = %v, want an error with the URL, the status and the body", err)
	}
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	if _, code, err := Get(t.Context(), nil, "http://"+addr+"/", nil); err == nil || code != 0 {
		t.Errorf("Get from a closed port = %d %v, want an error", code, err)
	}
}

// fakeTB records what SharedControlPlane tells a test.
type fakeTB struct {
	mu    sync.Mutex
	fatal string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fatal = fmt.Sprintf(format, args...)
}

// TestSharedControlPlaneFails checks, without binaries, that a start that cannot succeed is
// tried once and fails every test that asks, and that Main then has nothing to stop.
func TestSharedControlPlaneFails(t *testing.T) {
	t.Setenv(AssetsEnv, t.TempDir()) // no kube-apiserver there
	var s SharedControlPlane
	for range 2 {
		tb := &fakeTB{}
		if cp := s.Get(tb); cp != nil || !strings.HasPrefix(tb.fatal, "start the control plane: ") {
			t.Errorf("Get = %v, fatal %q; want nil and a fatal start error", cp, tb.fatal)
		}
	}
	if s.cp != nil {
		t.Error("a failed start left a control plane to stop")
	}
}

// TestManagerProcessLogPath starts a stand-in for the manager with a LogPath: Start creates the
// file and the child's output lands in it.
func TestManagerProcessLogPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manager.log")
	c, err := ManagerProcess{Bin: "/bin/sh", Args: []string{"-c", `echo "started as $KUBECONFIG"`},
		Kubeconfig: "/dev/null/kubeconfig", LogPath: path}.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		c.Kill()
		t.Fatal("the child did not exit")
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "started as /dev/null/kubeconfig\n" || c.Log != path {
		t.Errorf("log %s (child's %s) = %q %v", path, c.Log, data, err)
	}
}

func TestPodHardening(t *testing.T) {
	yes, no := true, false
	hardened := func() *corev1.PodSpec {
		return &corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "manager", SecurityContext: &corev1.SecurityContext{
				ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}},
		}
	}
	if p := PodHardening(hardened()); len(p) != 0 {
		t.Errorf("the manager's own security context has problems: %v", p)
	}
	for name, tc := range map[string]struct {
		change func(*corev1.PodSpec)
		want   string
	}{
		"root":          {func(p *corev1.PodSpec) { p.SecurityContext.RunAsNonRoot = &no }, "runAsNonRoot"},
		"no pod sc":     {func(p *corev1.PodSpec) { p.SecurityContext = nil }, "seccomp"},
		"no sc":         {func(p *corev1.PodSpec) { p.Containers[0].SecurityContext = nil }, "manager has no"},
		"writable root": {func(p *corev1.PodSpec) { p.Containers[0].SecurityContext.ReadOnlyRootFilesystem = nil }, "readOnly"},
		"escalation":    {func(p *corev1.PodSpec) { p.Containers[0].SecurityContext.AllowPrivilegeEscalation = &yes }, "Escalation"},
		"privileged":    {func(p *corev1.PodSpec) { p.Containers[0].SecurityContext.Privileged = &yes }, "privileged"},
		"adds a cap": {func(p *corev1.PodSpec) {
			p.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}, "capabilities"},
	} {
		p := hardened()
		tc.change(p)
		if got := PodHardening(p); len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.want) {
			t.Errorf("%s: PodHardening = %q, want a problem about %s", name, got, tc.want)
		}
	}
}

func TestMustFreeAddr(t *testing.T) {
	tb := &fakeTB{}
	addr := MustFreeAddr(tb)
	if tb.fatal != "" || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("MustFreeAddr = %q, fatal %q", addr, tb.fatal)
	}
}

func TestDemoReportWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	want := DemoReport{Kubeconfig: "/k", Processes: []Process{{Name: "etcd", PID: 7}}, ShareTable: "IMAGE\n",
		Stopped: true}
	if err := want.Write(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got DemoReport
	if err := json.Unmarshal(data, &got); err != nil || got.Kubeconfig != "/k" || !got.Stopped ||
		len(got.Processes) != 1 || got.Processes[0].PID != 7 {
		t.Errorf("read back %+v %v from\n%s", got, err, data)
	}
	if err := (&DemoReport{}).Write(""); err != nil {
		t.Errorf("Write with no path = %v, want nothing written", err)
	}
}
