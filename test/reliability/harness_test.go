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

package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// Condition types and reasons of contract §3, spelled out here rather than
// imported, so that a rename in the controller fails these tests.
const (
	condReady       = "Ready"
	condReconciling = "Reconciling"
	condStalled     = "Stalled"
	finalizer       = "cvm.imageshare.dev/finalizer"
	actionModify    = "ModifyImageSharePermission"
	codeAlready     = "FailedOperation.AccountAlreadyExists"
	codeOverQuota   = "OverQuota"
	codeInternal    = "InternalError"
	codeThrottled   = "RequestLimitExceeded"
	regionGZ        = "ap-guangzhou"
	regionSH        = "ap-shanghai"
)

// The owner account every scenario shares from, with the keys the manager uses.
const (
	ownerID        = "100000000001"
	ownerSecretID  = "AKIDreliabilityOwner01"
	ownerSecretKey = "owner-secret-key-do-not-leak-7f3a9c"
	credsSecret    = "tencent-credentials"
)

// ---------------------------------------------------------------------------
// The cloud: an emulator behind a front end the test can stop, restart and tap.

// startFront serves emu behind a front of its own, down when the test ends.
func startFront(t *testing.T, emu *emulator.Emulator) *testenv.CloudFront {
	t.Helper()
	f, err := testenv.StartFront(emu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

// restartFront serves the same emulator, state and all, on the same address
// again, once the port is free.
func restartFront(t *testing.T, f *testenv.CloudFront) {
	t.Helper()
	eventually(t, 10*time.Second, 100*time.Millisecond, f.Restart)
}

// modifyRequest is the body of a ModifyImageSharePermission call.
type modifyRequest struct {
	ImageID    string   `json:"ImageId"`
	AccountIDs []string `json:"AccountIds"`
	Permission string   `json:"Permission"`
}

func parseModify(c testenv.FrontCall) (modifyRequest, bool) {
	var m modifyRequest
	if c.Action != actionModify || json.Unmarshal(c.Body, &m) != nil {
		return m, false
	}
	return m, true
}

// sharedWith returns every image's share list as the emulator holds it.
func sharedWith(emu *emulator.Emulator) map[string][]string {
	out := map[string][]string{}
	for _, img := range emu.State().Images {
		out[img.ID] = img.SharedWith
	}
	return out
}

// ---------------------------------------------------------------------------
// The manager as a process.

// managerProc is one running manager binary.
type managerProc struct {
	t     *testing.T
	name  string
	child *testenv.Child
	// secrets must never appear in the process's output.
	secrets []string
	startAt time.Time
}

// managerConfig is how to start a manager.
type managerConfig struct {
	// endpoint is the emulator's host:port.
	endpoint string
	// args are extra flags; they come after the defaults, so they win.
	args []string
	// env are extra KEY=VALUE variables (TENCENTCLOUD_* credentials).
	env []string
	// secrets are values that must never appear in the output.
	secrets []string
}

// startManager runs the manager binary as managerUser against the test
// control plane. It is stopped when the test ends, and its output is checked
// for secrets then.
func startManager(t *testing.T, name string, cfg managerConfig) *managerProc {
	t.Helper()
	c := requireCluster(t)
	args := testenv.ManagerArgs(cfg.endpoint, "0", append([]string{
		"--env-credentials-namespaces=*",
		"--regions=" + strings.Join([]string{regionGZ, regionSH, "ap-beijing"}, ","),
	}, cfg.args...)...)
	m := &managerProc{t: t, name: name, secrets: cfg.secrets, startAt: time.Now()}
	// Only what the manager needs: nothing of the developer's environment
	// (TENCENTCLOUD_* in particular) leaks into a test.
	env := append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, cfg.env...)
	var err error
	m.child, err = testenv.ManagerProcess{Bin: managerBin, Kubeconfig: c.managerKubeconfig, Args: args, Env: env,
		LogPath: filepath.Join(t.TempDir(), name+".log")}.Start(context.Background())
	if err != nil {
		t.Fatalf("start manager %s: %v", name, err)
	}
	t.Cleanup(m.finish)
	return m
}

// kill sends SIGKILL and waits for the process to be gone.
func (m *managerProc) kill() { m.child.Kill() }

// stop asks the manager to shut down, as Kubernetes would, and kills it if it
// does not.
func (m *managerProc) stop() { _ = m.child.Stop(20 * time.Second) }

func (m *managerProc) alive() bool { return !m.child.Exited() }

func (m *managerProc) logs() string {
	data, err := os.ReadFile(m.child.Log)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", m.child.Log, err)
	}
	return string(data)
}

// finish stops the process and checks what it printed: no secret, no panic.
func (m *managerProc) finish() {
	m.stop()
	out := m.logs()
	for _, s := range m.secrets {
		if s != "" && strings.Contains(out, s) {
			m.t.Errorf("manager %s printed a secret value (%d bytes) in its output", m.name, len(s))
		}
	}
	if i := strings.Index(out, "panic:"); i >= 0 || strings.Contains(out, "Observed a panic") {
		i = max(i, strings.Index(out, "Observed a panic"))
		m.t.Errorf("manager %s panicked: %s", m.name, excerpt(out, i))
	}
	if m.t.Failed() {
		m.t.Logf("last lines of manager %s:\n%s", m.name, testenv.LastLines(out, 15))
	}
	// RELIABILITY_LOG_DIR keeps every manager's full output for a post-mortem.
	if dir := os.Getenv("RELIABILITY_LOG_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, m.t.Name()+"-"+m.name+".log"), []byte(out), 0o600); err != nil {
			m.t.Logf("keep the log of manager %s: %v", m.name, err)
		}
	}
}

func excerpt(s string, i int) string {
	return s[max(0, i-200):min(len(s), i+800)]
}

// scrape reads a Prometheus text endpoint and sums the samples of metric
// whose labels contain every one of labels (for example `code="InternalError"`).
func scrape(body, metric string, labels ...string) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, metric) {
			continue
		}
		rest := line[len(metric):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		if !allContained(rest, labels) {
			continue
		}
		fields := strings.Fields(rest)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

func allContained(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// httpGet GETs url within 10 s and returns the body and the status code.
func httpGet(url string) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data, code, err := testenv.Get(ctx, nil, url, nil)
	return string(data), code, err
}

// ---------------------------------------------------------------------------
// Waiting.

// eventually polls check until it returns nil, or fails the test with the
// last error once timeout has passed. Timeouts are generous: they bound a
// hang, they do not measure speed.
func eventually(t *testing.T, timeout, interval time.Duration, check func() error) {
	t.Helper()
	if err := waitFor(timeout, interval, check); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls check until it returns nil, or returns its last error once
// timeout has passed, for a test that goes on after a failed expectation.
func waitFor(timeout, interval time.Duration, check func() error) error {
	if err := testenv.Eventually(context.Background(), timeout, interval, check); err != nil {
		return fmt.Errorf("still not true after %v: %w", timeout, err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Kubernetes objects.

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := kube.admin.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

func createSecret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	if err := kube.admin.Create(context.Background(), s); err != nil {
		t.Fatalf("create Secret %s/%s: %v", ns, name, err)
	}
}

func ownerKeys() map[string][]byte {
	return map[string][]byte{"secretId": []byte(ownerSecretID), "secretKey": []byte(ownerSecretKey)}
}

// ownerEnv gives a manager the owner's keys through its environment.
func ownerEnv() []string {
	return []string{"TENCENTCLOUD_SECRET_ID=" + ownerSecretID, "TENCENTCLOUD_SECRET_KEY=" + ownerSecretKey}
}

// newShare builds an ImageShare; credRef "" means the manager's own keys.
func newShare(ns, name, image, region string, mode cvmv1alpha1.Mode, credRef string,
	accounts ...string) *cvmv1alpha1.ImageShare {
	o := &cvmv1alpha1.ImageShare{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cvmv1alpha1.ImageShareSpec{ImageID: image, Region: region, Mode: mode,
			AccountIDs: slices.Clone(accounts)},
	}
	if credRef != "" {
		o.Spec.CredentialsRef = &cvmv1alpha1.SecretReference{Name: credRef}
	}
	return o
}

func getShare(ns, name string) (*cvmv1alpha1.ImageShare, error) {
	o := &cvmv1alpha1.ImageShare{}
	err := kube.admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, o)
	return o, err
}

// updateShare applies change to the latest copy, retrying write conflicts.
func updateShare(t *testing.T, ns, name string, change func(*cvmv1alpha1.ImageShare)) {
	t.Helper()
	eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		o, err := getShare(ns, name)
		if err != nil {
			return err
		}
		change(o)
		return kube.admin.Update(context.Background(), o)
	})
}

func allShares(t *testing.T) []cvmv1alpha1.ImageShare {
	t.Helper()
	var list cvmv1alpha1.ImageShareList
	if err := kube.admin.List(context.Background(), &list); err != nil {
		t.Fatalf("list ImageShares: %v", err)
	}
	return list.Items
}

// purgeShares removes every ImageShare of the cluster, finalizers and all, so
// that the next test's manager starts from an empty cluster. Register it
// before starting a manager: cleanups run last-in first-out, so the manager is
// stopped first and cannot race the purge.
func purgeShares(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 3*time.Minute, 200*time.Millisecond, func() error {
		var list cvmv1alpha1.ImageShareList
		if err := kube.admin.List(ctx, &list); err != nil {
			return err
		}
		for i := range list.Items {
			o := &list.Items[i]
			if len(o.Finalizers) > 0 {
				base := o.DeepCopy()
				o.Finalizers = nil
				if err := kube.admin.Patch(ctx, o, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
			if o.DeletionTimestamp.IsZero() {
				if err := kube.admin.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("%d ImageShares left", len(list.Items))
		}
		return nil
	})
}

// condition returns the condition of type typ, or nil.
func condition(o *cvmv1alpha1.ImageShare, typ string) *metav1.Condition {
	return meta.FindStatusCondition(o.Status.Conditions, typ)
}

// checkTriad checks that the object's status is for its current generation,
// that Ready has reason, and that Reconciling and Stalled agree with it as
// contract §3 lays out.
func checkTriad(o *cvmv1alpha1.ImageShare, reason string) error {
	key := o.Namespace + "/" + o.Name
	ready := condition(o, condReady)
	switch {
	case o.Status.ObservedGeneration != o.Generation:
		return fmt.Errorf("%s: status is for generation %d, object is at %d", key, o.Status.ObservedGeneration,
			o.Generation)
	case ready == nil:
		return fmt.Errorf("%s: no Ready condition", key)
	case ready.Reason != reason:
		return fmt.Errorf("%s: Ready reason %s (%q), want %s", key, ready.Reason, ready.Message, reason)
	case ready.ObservedGeneration != o.Generation:
		return fmt.Errorf("%s: Ready is for generation %d", key, ready.ObservedGeneration)
	}
	reconciling, stalled := condition(o, condReconciling), condition(o, condStalled)
	switch kind := reasonKind(reason); {
	case kind == "ready" && (ready.Status != metav1.ConditionTrue || reconciling != nil || stalled != nil):
		return fmt.Errorf("%s: %s wants Ready=True alone, got %+v", key, reason, o.Status.Conditions)
	case kind == "reconciling" && (ready.Status == metav1.ConditionTrue || reconciling == nil ||
		reconciling.Status != metav1.ConditionTrue || stalled != nil):
		return fmt.Errorf("%s: %s wants Reconciling=True, got %+v", key, reason, o.Status.Conditions)
	case kind == "stalled" && (ready.Status != metav1.ConditionFalse || stalled == nil ||
		stalled.Status != metav1.ConditionTrue || stalled.Reason != reason || reconciling != nil):
		return fmt.Errorf("%s: %s wants Ready=False and Stalled=True, got %+v", key, reason, o.Status.Conditions)
	}
	return checkMessage(key, ready.Message)
}

// reasonKind places a Ready reason in the rows of the table of contract §3.
func reasonKind(reason string) string {
	switch reason {
	case "Shared", "InSync":
		return "ready"
	case "Progressing", "ImageNotReady", "Throttled", "CloudError":
		return "reconciling"
	}
	return "stalled"
}

// checkMessage holds a condition message to contract §3: for people,
// capitalised, no trailing period.
func checkMessage(key, msg string) error {
	switch {
	case msg == "":
		return fmt.Errorf("%s: empty Ready message", key)
	case strings.ToUpper(msg[:1]) != msg[:1]:
		return fmt.Errorf("%s: Ready message not capitalised: %q", key, msg)
	case strings.HasSuffix(msg, "."):
		return fmt.Errorf("%s: Ready message ends with a period: %q", key, msg)
	}
	return nil
}

// sortedCopy returns xs sorted, never nil, so that empty lists compare equal.
func sortedCopy(xs []string) []string {
	out := append([]string{}, xs...)
	slices.Sort(out)
	return out
}

func sameSet(a, b []string) bool { return slices.Equal(sortedCopy(a), sortedCopy(b)) }

// joinErrs keeps the first few of many errors readable.
func joinErrs(errs []error) error {
	if len(errs) > 8 {
		errs = append(errs[:8], fmt.Errorf("and %d more", len(errs)-8))
	}
	return errors.Join(errs...)
}
