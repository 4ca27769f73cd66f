package tencent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
)

// syncBuffer is a bytes.Buffer the logger may write from any goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes the JSON lines written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// auditContext returns a context whose logger writes the manager's JSON
// format into the returned buffer and names an ImageShare, as the controller does.
func auditContext() (context.Context, *syncBuffer) {
	buf := &syncBuffer{}
	log := zap.New(zap.WriteTo(buf), zap.UseDevMode(false)).WithValues("imageShares", []string{"team-a/web"})
	return logf.IntoContext(context.Background(), log), buf
}

func findLine(t *testing.T, lines []map[string]any, msg string) map[string]any {
	t.Helper()
	for _, l := range lines {
		if l["msg"] == msg {
			return l
		}
	}
	t.Fatalf("no log line %q among %v", msg, lines)
	return nil
}

// TestAuditLines: every call that changes the cloud writes one info line
// with the image, region, accounts or regions, the ImageShares of the
// context and Tencent's RequestId; failures add the code; reads and calls
// the client held back write none; no line holds the secret key.
func TestAuditLines(t *testing.T) {
	c, _ := ownerClient(t)
	ctx, buf := auditContext()
	if err := c.Share(ctx, gz, imgA, []string{r2, r4}); err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, gz, imgA, []string{r4}); err != nil {
		t.Fatal(err)
	}
	_ = wantReason(t, c.Share(ctx, gz, imgA, []string{collab}), cloud.ReasonNotRootAccount, "")
	ids, err := c.Copy(ctx, gz, imgA, []string{sh}, "copy-name")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListShares(ctx, gz, imgA); err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, gz, imgA, []string{r2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, gz, imgA); err != nil {
		t.Fatal(err)
	}

	lines := buf.lines(t)
	if len(lines) != 6 {
		t.Errorf("got %d log lines, want 6 (one per mutation, none for the read): %v", len(lines), lines)
	}
	for _, l := range lines {
		if l["level"] != "info" || l["requestId"] == "" || l["requestId"] == nil {
			t.Errorf("audit line without info level or RequestId: %v", l)
		}
		if l["imageId"] != imgA || l["imageRegion"] != gz {
			t.Errorf("audit line without the image and its region: %v", l)
		}
		if names, _ := l["imageShares"].([]any); len(names) != 1 || names[0] != "team-a/web" {
			t.Errorf("audit line without the ImageShare of the context: %v", l)
		}
	}
	share := findLine(t, lines, "Shared image with accounts")
	if got := share["accounts"].([]any); len(got) != 2 || share["permission"] != permissionShare ||
		share["action"] != actionModifyShare {
		t.Errorf("share line = %v", share)
	}
	refused := findLine(t, lines, "Could not share image with accounts")
	if refused["code"] != "FailedOperation.NotMasterAccount" {
		t.Errorf("refused share line = %v", refused)
	}
	copied := findLine(t, lines, "Copied image to regions")
	if m, _ := copied["copies"].(map[string]any); m[sh] != ids[sh] {
		t.Errorf("copy line = %v, want copies %v", copied, ids)
	}
	findLine(t, lines, "Cancelled image shares")
	findLine(t, lines, "Deleted image")
	buf.mu.Lock()
	raw := buf.buf.String()
	buf.mu.Unlock()
	if strings.Contains(raw, ownerSK) {
		t.Fatal("an audit line holds the secret key")
	}
}

// TestAuditSkipsCallsNeverSent: a call the rate limiter holds back changed
// nothing, and logs nothing.
func TestAuditSkipsCallsNeverSent(t *testing.T) {
	_, addr := emulatortest.Start(t, seed())
	c := client(t, addr, cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK}, 1)
	ctx, buf := auditContext()
	_ = c.Share(ctx, gz, imgA, []string{r2})
	_ = wantReason(t, c.Share(ctx, gz, imgA, []string{r4}), cloud.ReasonThrottled, codeRateLimited)
	if n := len(buf.lines(t)); n != 1 {
		t.Fatalf("got %d audit lines, want 1 for the one call sent", n)
	}
}

// TestThrottleAndCircuitMetrics: RequestLimitExceeded counts in
// imageshare_cloud_throttled_total; an endpoint that does not answer opens
// imageshare_circuit_open until one answers.
func TestThrottleAndCircuitMetrics(t *testing.T) {
	emu, addr := emulatortest.Start(t, seed())
	emu.SetFaults(emulator.Faults{QPSByAction: map[string]float64{"DescribeImageSharePermission": 0.001}})
	c := client(t, addr, cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK}, 1000)
	before := testutil.ToFloat64(throttled.WithLabelValues("DescribeImageSharePermission"))
	var err error
	for i := 0; i < 5 && cloud.ReasonOf(err) != cloud.ReasonThrottled; i++ {
		_, err = c.ListShares(context.Background(), gz, imgA)
	}
	_ = wantReason(t, err, cloud.ReasonThrottled, "RequestLimitExceeded")
	if got := testutil.ToFloat64(throttled.WithLabelValues("DescribeImageSharePermission")); got <= before {
		t.Errorf("imageshare_cloud_throttled_total = %v, want more than %v", got, before)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	f := NewFactory(Options{Endpoint: down, Scheme: "http", QPS: 1000, Timeout: time.Second})
	open := func() float64 { return testutil.ToFloat64(circuitOpen.WithLabelValues(down)) }
	if open() != 0 {
		t.Fatalf("a new endpoint's circuit is open")
	}
	dc, _ := f.ClientFor(cloud.Credentials{SecretID: ownerID, SecretKey: ownerSK})
	if _, err := dc.ListShares(context.Background(), gz, imgA); err == nil {
		t.Fatal("a call to a closed port succeeded")
	}
	if open() != 1 {
		t.Errorf("imageshare_circuit_open{endpoint=%q} = %v after a network failure, want 1", down, open())
	}
	f.breaker.record(time.Now(), false)
	if open() != 0 {
		t.Errorf("imageshare_circuit_open = %v after an answer, want 0", open())
	}
}
