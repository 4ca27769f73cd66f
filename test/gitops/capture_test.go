package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/cloud/tencent"
	"github.com/imageshare/imageshare-operator/internal/controller"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// The cloud every capture runs against. Names are fixed, not generated, so that
// a recapture changes only UIDs, resource versions and timestamps.
const (
	namespace = "team-a"
	// otherNamespace is a namespace whose Secrets the manager may not read.
	otherNamespace = "team-b"
	// managerUser is who the manager runs as: the generated manager-role,
	// with Secrets readable in the test namespace only.
	managerUser = "imageshare-gitops-manager"
	gz          = "ap-guangzhou"
	sh          = "ap-shanghai"

	ownerID       = "100000000001"
	ownerSecretID = "AKIDowner0001"
	ownerKey      = "owner-secret-key-0001"
	otherOwner    = "100000000099"
	otherSecretID = "AKIDother0099"
	otherKey      = "other-secret-key-0099"
	collab        = "100000000003"
	unknownAcct   = "100000000777"
	r2, r4, r5    = "100000000002", "100000000004", "100000000005"
	r7            = "100000000007"

	// shareLimit is the manager's --share-limit: low, so one image goes over it.
	shareLimit = 3
	// settle bounds how long the manager may take to reach a situation on a
	// loaded machine; the wait ends as soon as it does.
	settle = 90 * time.Second
)

func seed() *emulator.Seed {
	f := false
	img := func(id, region, owner string, shared ...string) emulator.SeedImage {
		return emulator.SeedImage{ID: id, Region: region, Owner: owner, Name: id + "-base", SharedWith: shared}
	}
	syncing := img("img-syncing1", gz, ownerID)
	syncing.State = emulator.StateSyncing
	return &emulator.Seed{
		Accounts: []emulator.SeedAccount{
			{ID: ownerID, SecretID: ownerSecretID, SecretKey: ownerKey},
			{ID: otherOwner, SecretID: otherSecretID, SecretKey: otherKey},
			{ID: collab, Root: &f},
			{ID: r2}, {ID: r4}, {ID: r5}, {ID: r7},
		},
		Images: []emulator.SeedImage{
			img("img-nostat01", gz, ownerID),
			img("img-shared01", gz, ownerID),
			img("img-stale001", gz, ownerID),
			img("img-delete01", gz, ownerID),
			syncing,
			img("img-limit001", gz, ownerID, r7),
			img("img-region01", sh, ownerID),
			img("img-tome0001", gz, otherOwner, ownerID),
			img("img-invalid1", gz, ownerID),
			img("img-creds001", gz, ownerID),
			img("img-creds002", gz, ownerID),
			img("img-excl0001", gz, ownerID),
			img("img-drift001", gz, ownerID, r2, r7),
			img("img-insync01", gz, ownerID, r2),
			img("img-cloud001", gz, ownerID),
			img("img-thrott01", gz, otherOwner),
			img("img-progrs01", gz, ownerID),
		},
	}
}

// world is one capture run: the control plane, the emulator, and the manager.
type world struct {
	cp       *testenv.ControlPlane
	k8s      client.Client
	emu      *emulator.Emulator
	endpoint string
	logs     *testenv.LockedBuffer
	stop     func()
	captured map[string][]byte
}

// TestCapture drives the real manager into every situation and records each
// ImageShare with `kubectl get -o yaml`. With UPDATE_GITOPS_TESTDATA=1 it
// rewrites testdata/ and health_test.yaml; otherwise it checks that the
// committed objects exist and still get the same Argo CD health and kstatus as
// the live ones, so testdata cannot drift from what the controller writes.
func TestCapture(t *testing.T) {
	w := newWorld(t)
	w.run(t)
	for _, s := range situations {
		if len(w.captured[s.file]) == 0 {
			t.Fatalf("situation %s is never captured: add it to world.run", s.file)
		}
	}

	dir := filepath.Join(customizationDir(t), "testdata")
	if os.Getenv(updateEnv) != "" {
		for _, s := range situations {
			header := fmt.Sprintf("# Captured by test/gitops TestCapture (%s=1) with kubectl get -o yaml; do not edit.\n",
				updateEnv)
			if err := os.WriteFile(filepath.Join(dir, s.file+".yaml"), append([]byte(header), w.captured[s.file]...),
				0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	script := healthScript(t)
	liveHealth := map[string]healthStatus{}
	for _, s := range situations {
		t.Run(s.file, func(t *testing.T) {
			live, err := decodeObject(w.captured[s.file])
			if err != nil {
				t.Fatal(err)
			}
			health, err := argoHealth(script, live)
			if err != nil {
				t.Fatal(err)
			}
			if health.Status != s.argo {
				t.Fatalf("live object: Argo CD health %+v, want %s", health, s.argo)
			}
			liveHealth[s.file] = health
			liveKstatus := checkKstatus(t, s, live)

			committed := readTestdata(t, s.file)
			committedHealth, err := argoHealth(script, committed)
			if err != nil {
				t.Fatal(err)
			}
			committedKstatus, err := kstatusOf(committed)
			if err != nil {
				t.Fatal(err)
			}
			if committedHealth != health || committedKstatus.Status != liveKstatus.Status ||
				committedKstatus.Message != liveKstatus.Message {
				t.Errorf("testdata/%s.yaml is stale: the controller now writes an object with health %+v and "+
					"kstatus %s %q, the committed one has %+v and %s %q; refresh with %s=1",
					s.file, health, liveKstatus.Status, liveKstatus.Message, committedHealth,
					committedKstatus.Status, committedKstatus.Message, updateEnv)
			}
		})
	}
	// health_test.yaml is a golden file: its statuses are checked against the
	// rows of §3 above before it is written, its messages are the controller's.
	if os.Getenv(updateEnv) != "" && len(liveHealth) == len(situations) {
		writeHealthTests(t, liveHealth)
	}
}

// writeHealthTests writes health_test.yaml in Argo CD's format, in the order of
// situations, and reads it back to prove it says what was meant.
func writeHealthTests(t *testing.T, health map[string]healthStatus) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("# Argo CD's resource_customizations test format: each ImageShare in testdata/ (captured\n" +
		"# by test/gitops TestCapture from real runs of the manager) and the health that\n" +
		"# health.lua must give it. test/gitops TestHealthLua runs it; TestCapture rewrites it\n" +
		"# with " + updateEnv + "=1 after checking each status against contract §3.\n" +
		"tests:\n")
	for _, s := range situations {
		h := health[s.file]
		fmt.Fprintf(&b, "  - healthStatus:\n      status: %s\n      message: %s\n    inputPath: testdata/%s.yaml\n",
			h.Status, strconv.Quote(h.Message), s.file)
	}
	path := filepath.Join(customizationDir(t), "health_test.yaml")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, tc := range readHealthTests(t).Tests {
		if want := health[situations[i].file]; tc.HealthStatus != want {
			t.Fatalf("health_test.yaml reads back %+v for %s, want %+v", tc.HealthStatus, tc.InputPath, want)
		}
	}
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{cp: controlPlane(t), logs: &testenv.LockedBuffer{}, captured: map[string][]byte{}}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := cvmv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var err error
	w.k8s, err = client.New(w.cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	w.emu, w.endpoint = emulatortest.Start(t, seed())
	logf.SetLogger(zap.New(zap.WriteTo(w.logs), zap.UseDevMode(true)))
	t.Cleanup(func() {
		if w.stop != nil {
			w.stop()
		}
		if t.Failed() {
			t.Logf("manager log:\n%s", w.logs.String())
		}
	})
	return w
}

// run creates the objects, the manager and the faults, in the order that keeps
// each captured object in its situation.
func (w *world) run(t *testing.T) {
	ctx := t.Context()
	for _, ns := range []string{namespace, otherNamespace} {
		w.must(t, w.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
		w.secret(t, ns, "tencent-credentials", ownerSecretID, ownerKey)
	}
	w.secret(t, namespace, "wrong-credentials", ownerSecretID, "not-the-owner-key")
	w.secret(t, namespace, "other-credentials", otherSecretID, otherKey)
	w.grantManagerRole(t)

	// Before any manager runs, an object has no status at all.
	w.create(t, ims("no-status", "img-nostat01", gz, r2))
	w.capture(t, "no-status", "no-status")

	w.startManager(t)
	// The manager may not read Secrets in this namespace: a failure the
	// controller retries, so the object stays Progressing.
	progressing := ims("progressing", "img-progrs01", gz, r2)
	progressing.Namespace = otherNamespace
	w.create(t, progressing)
	w.create(t, ims("shared", "img-shared01", gz, r2, r4))
	w.create(t, ims("stale-generation", "img-stale001", gz, r2))
	w.create(t, ims("pending-deletion", "img-delete01", gz, r2))
	w.create(t, ims("image-not-ready", "img-syncing1", gz, r2))
	w.create(t, ims("share-limit-exceeded", "img-limit001", gz, r2, r4, r5))
	w.create(t, ims("region-mismatch", "img-region01", gz, r2))
	w.create(t, ims("image-not-found", "img-zzzz9999", gz, r2))
	w.create(t, ims("image-not-shareable", "img-tome0001", gz, r2))
	w.create(t, ims("invalid-accounts", "img-invalid1", gz, r2, unknownAcct, collab))
	missing := ims("credentials-missing", "img-creds001", gz, r2)
	missing.Spec.CredentialsRef.Name = "missing-credentials"
	w.create(t, missing)
	invalid := ims("credentials-invalid", "img-creds002", gz, r2)
	invalid.Spec.CredentialsRef.Name = "wrong-credentials"
	w.create(t, invalid)
	drift := ims("drift-detected", "img-drift001", gz, r2, r4)
	drift.Spec.Mode = cvmv1alpha1.ModeObserve
	w.create(t, drift)
	inSync := ims("in-sync", "img-insync01", gz, r2)
	inSync.Spec.Mode = cvmv1alpha1.ModeObserve
	w.create(t, inSync)
	// The Exclusive owner is older (or, within the same second, first by
	// name), so the later Merge object is the one in Conflict.
	owner := ims("base-exclusive", "img-excl0001", gz, r2)
	owner.Spec.Mode = cvmv1alpha1.ModeExclusive
	w.create(t, owner)
	w.waitReason(t, "base-exclusive", cvmv1alpha1.ReasonShared)
	w.create(t, ims("conflict", "img-excl0001", gz, r4))

	for _, s := range situations {
		if s.row == rowPending || s.reason == cvmv1alpha1.ReasonCloudError || s.reason == cvmv1alpha1.ReasonThrottled {
			continue
		}
		w.waitReason(t, s.file, s.reason)
		w.capture(t, s.file, s.file)
	}
	for _, name := range []string{"stale-generation", "pending-deletion"} {
		w.waitReason(t, name, cvmv1alpha1.ReasonShared)
	}

	// Every call fails with InternalError: a cloud error, retried with backoff.
	w.emu.SetFaults(emulator.Faults{ErrorRate: 1})
	w.create(t, ims("cloud-error", "img-cloud001", gz, r2))
	w.waitReason(t, "cloud-error", cvmv1alpha1.ReasonCloudError)
	w.capture(t, "cloud-error", "cloud-error")

	// Throttled: an object the manager has reported on is changed while its
	// owner's budget is spent (a new object waiting for its first slot gets
	// no status until the slot comes). One call per account and action
	// every 1000 s, and this test spends the other owner's: the manager's
	// read for the change is throttled, and so is every retry while the
	// test runs.
	w.emu.SetFaults(emulator.Faults{})
	throttled := ims("throttled", "img-thrott01", gz, r2)
	throttled.Spec.CredentialsRef.Name = "other-credentials"
	w.create(t, throttled)
	w.waitReason(t, "throttled", cvmv1alpha1.ReasonShared)
	w.emu.SetFaults(emulator.Faults{QPS: 0.001})
	other, err := tencent.NewFactory(tencent.Options{Endpoint: w.endpoint, Scheme: "http", QPS: 100}).
		ClientFor(cloud.Credentials{SecretID: otherSecretID, SecretKey: otherKey})
	w.must(t, err)
	for _, call := range []func() error{
		func() error { _, err := other.DescribeImages(t.Context(), gz, []string{"img-thrott01"}); return err },
		func() error { _, err := other.ListShares(t.Context(), gz, "img-thrott01"); return err },
		func() error { return other.Share(t.Context(), gz, "img-thrott01", []string{r2}) },
	} {
		w.must(t, call())
	}
	w.update(t, "throttled", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r2, r4} })
	w.waitReason(t, "throttled", cvmv1alpha1.ReasonThrottled)
	w.capture(t, "throttled", "throttled")

	// With the manager down, nothing observes what changes next.
	w.stop()
	w.stop = nil
	w.update(t, "stale-generation", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r2, r4} })
	w.capture(t, "stale-generation", "stale-generation")
	// The fix a user would make: drop the account that does not fit.
	w.update(t, "share-limit-exceeded", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{r2, r4} })
	w.capture(t, "share-limit-exceeded", "stale-generation-stalled")
	w.must(t, w.k8s.Delete(ctx, &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Name: "pending-deletion",
		Namespace: namespace}}))
	w.capture(t, "pending-deletion", "pending-deletion")
}

func (w *world) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) secret(t *testing.T, ns, name, id, key string) {
	t.Helper()
	w.must(t, w.k8s.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		StringData: map[string]string{"secretId": id, "secretKey": key}}))
}

// grantManagerRole gives managerUser the manager-role controller-gen writes
// from the reconciler's RBAC markers (config/rbac/role.yaml), so the capture
// also proves that role is enough, except that Secrets are readable in the
// test namespace only, through a Role.
func (w *world) grantManagerRole(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(projectPath(t, "config", "rbac", "role.yaml"))
	w.must(t, err)
	var generated rbacv1.ClusterRole
	w.must(t, yaml.UnmarshalStrict(data, &generated))
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: managerUser}}
	var secretRules []rbacv1.PolicyRule
	for _, rule := range generated.Rules {
		if slices.Contains(rule.Resources, "secrets") {
			secretRules = append(secretRules, rule)
			continue
		}
		role.Rules = append(role.Rules, rule)
	}
	if len(secretRules) == 0 {
		t.Fatal("config/rbac/role.yaml grants nothing on Secrets: the manager could not read credentials")
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: managerUser}}
	ctx := t.Context()
	w.must(t, w.k8s.Create(ctx, role))
	w.must(t, w.k8s.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: managerUser},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: managerUser},
		Subjects: subjects}))
	w.must(t, w.k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: managerUser, Namespace: namespace},
		Rules: secretRules}))
	w.must(t, w.k8s.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: managerUser, Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: managerUser},
		Subjects:   subjects}))
}

// ims is an ImageShare in the test namespace using the owner's Secret.
func ims(name, image, region string, accounts ...string) *cvmv1alpha1.ImageShare {
	return &cvmv1alpha1.ImageShare{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: cvmv1alpha1.ImageShareSpec{ImageID: image, Region: region, AccountIDs: accounts,
			CredentialsRef: &cvmv1alpha1.SecretReference{Name: "tencent-credentials"}},
	}
}

func (w *world) create(t *testing.T, o *cvmv1alpha1.ImageShare) {
	t.Helper()
	w.must(t, w.k8s.Create(t.Context(), o))
}

// update changes the object's spec; the manager is stopped, so nothing else writes it.
func (w *world) update(t *testing.T, name string, change func(*cvmv1alpha1.ImageShare)) {
	t.Helper()
	o := &cvmv1alpha1.ImageShare{}
	w.must(t, w.k8s.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: name}, o))
	change(o)
	w.must(t, w.k8s.Update(t.Context(), o))
}

// capture records the object as `kubectl get -o yaml` prints it.
func (w *world) capture(t *testing.T, name, file string) {
	t.Helper()
	out, _, err := w.cp.Kubectl(t.Context(), "get", "imageshares.cvm.imageshare.dev", name,
		"-n", namespaceOf(name), "-o", "yaml")
	w.must(t, err)
	w.captured[file] = []byte(out)
}

// namespaceOf is where run creates the object called name.
func namespaceOf(name string) string {
	if name == "progressing" {
		return otherNamespace
	}
	return namespace
}

// waitReason waits until the object's status describes its current generation
// with the given Ready reason.
func (w *world) waitReason(t *testing.T, name, reason string) {
	t.Helper()
	last := ""
	err := testenv.Eventually(t.Context(), settle, 100*time.Millisecond, func() error {
		o := &cvmv1alpha1.ImageShare{}
		w.must(t, w.k8s.Get(t.Context(), client.ObjectKey{Namespace: namespaceOf(name), Name: name}, o))
		ready := meta.FindStatusCondition(o.Status.Conditions, cvmv1alpha1.ConditionReady)
		if ready != nil && o.Status.ObservedGeneration == o.Generation && ready.ObservedGeneration == o.Generation {
			if ready.Reason == reason {
				return nil
			}
			last = ready.Reason + ": " + ready.Message
		}
		return errors.New("not yet") // the failure below quotes the last Ready condition
	})
	if err != nil {
		t.Fatalf("%s did not reach reason %s within %s (last: %q)", name, reason, settle, last)
	}
}

// startManager runs the reconciler in-process as cmd/main.go wires it, against
// the emulator.
func (w *world) startManager(t *testing.T) {
	t.Helper()
	cfg := rest.CopyConfig(w.cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: managerUser}
	stop, err := testenv.RunManager(cfg, ctrl.Options{Scheme: w.k8s.Scheme()}, func(mgr ctrl.Manager) error {
		rec := &controller.ImageShareReconciler{
			Client:    mgr.GetClient(),
			APIReader: mgr.GetAPIReader(),
			Scheme:    mgr.GetScheme(),
			Recorder:  mgr.GetEventRecorder("imageshare-controller"),
			Cloud:     tencent.NewFactory(tencent.Options{Endpoint: w.endpoint, Scheme: "http", QPS: 50}),
			Options: controller.Options{ShareLimit: shareLimit, ResyncPeriod: time.Hour,
				Regions: []string{gz, sh, "ap-beijing"}, MaxConcurrentReconciles: 4},
		}
		return rec.SetupWithManager(mgr)
	})
	w.must(t, err)
	w.stop = func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}
}
