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

package controller

import (
	"context"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/cloud/tencent"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
	// +kubebuilder:scaffold:imports
)

var (
	controlPlane *testenv.ControlPlane
	cfg          *rest.Config
	k8sClient    client.Client
	scheme       = runtime.NewScheme()
	// logs captures every manager log line of the suite, so a spec can assert
	// that a secret never appears in them.
	logs = &testenv.LockedBuffer{}
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	// Debug level (-4) so the secret-leak spec covers the most verbose logs.
	var sink io.Writer = logs
	if os.Getenv("TEST_LOGS") != "" {
		sink = io.MultiWriter(logs, GinkgoWriter)
	}
	logf.SetLogger(zap.New(zap.WriteTo(sink), zap.UseDevMode(true), zap.Level(zapLevel(-4))))
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(cvmv1alpha1.AddToScheme(scheme)).To(Succeed())
	// +kubebuilder:scaffold:scheme

	By("bootstrapping test environment")
	var err error
	controlPlane, err = testenv.StartControlPlane(testenv.ControlPlaneOptions{})
	Expect(err).NotTo(HaveOccurred())
	cfg = controlPlane.Config
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	credentialsRetry = time.Second
})

var _ = AfterSuite(func() {
	By("tearing down the test environment")
	if controlPlane != nil {
		Expect(controlPlane.Stop()).To(Succeed())
	}
})

// Accounts and keys every spec's seed starts from.
const (
	ownerID     = "100000000001"
	ownerSecret = "AKIDowner0001"
	ownerKey    = "owner-secret-key-0001"
	otherOwner  = "100000000099"
	collab      = "100000000003"
	unknownAcct = "100000000777"
)

// recipients are root accounts without keys that can receive shares.
var recipients = []string{"100000000002", "100000000004", "100000000005", "100000000006", "100000000007",
	"100000000008", "100000000009", "100000000010"}

// baseSeed is a cloud with an owner, recipients, a collaborator and a second
// owner; each spec adds the images it needs.
func baseSeed(images ...emulator.SeedImage) *emulator.Seed {
	f := false
	s := &emulator.Seed{
		Accounts: []emulator.SeedAccount{
			{ID: ownerID, SecretID: ownerSecret, SecretKey: ownerKey},
			{ID: otherOwner, SecretID: "AKIDother0099", SecretKey: "other-secret-key-0099"},
			{ID: collab, Root: &f},
		},
		Images: images,
	}
	for _, r := range recipients {
		s.Accounts = append(s.Accounts, emulator.SeedAccount{ID: r})
	}
	return s
}

// harness is one spec's world: an emulator, a manager pointed at it, and a
// namespace holding a credentials Secret.
type harness struct {
	emu      *emulator.Emulator
	endpoint string
	ns       string
	// ns2 is a second tenant's namespace (withSecondNamespace), watched too.
	ns2 string
	rec *ImageShareReconciler
	// front serves the emulator; a spec may swap the emulator (a restarted
	// cloud) or answer chosen calls itself (a fault the emulator has no knob for).
	front *testenv.CloudFront
}

// setIntercept makes the front answer calls for which fn returns a code.
func (h *harness) setIntercept(fn func(action string, body map[string]any) (code, message string)) {
	h.front.SetIntercept(fn)
}

// restartCloud replaces the emulator by a new one built from seed, at the
// same address: a restarted cloud, whose keys or policies may have changed.
func (h *harness) restartCloud(seed *emulator.Seed) {
	GinkgoHelper()
	emu, err := emulator.New(seed)
	Expect(err).NotTo(HaveOccurred())
	h.front.SetEmulator(emu)
	h.emu = emu
}

type harnessOption func(*harnessOptions)

// harnessOptions are the manager's options and what else a spec's world needs.
type harnessOptions struct {
	Options
	secondNamespace bool
}

// withSecondNamespace gives the spec a second tenant's namespace (h.ns2).
func withSecondNamespace() harnessOption { return func(o *harnessOptions) { o.secondNamespace = true } }

func withLimit(n int) harnessOption { return func(o *harnessOptions) { o.ShareLimit = n } }
func withResync(d time.Duration) harnessOption {
	return func(o *harnessOptions) { o.ResyncPeriod = d }
}

// start builds a harness; everything it starts stops when the spec ends.
func start(seed *emulator.Seed, opts ...harnessOption) *harness {
	GinkgoHelper()
	emu, err := emulator.New(seed)
	Expect(err).NotTo(HaveOccurred())
	fr, err := testenv.StartFront(emu)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(fr.Stop)

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ims-"}}
	Expect(k8sClient.Create(context.Background(), ns)).To(Succeed())
	h := &harness{emu: emu, endpoint: fr.Addr(), ns: ns.Name, front: fr}
	h.secret("tencent-credentials", ownerSecret, ownerKey)

	o := harnessOptions{Options: Options{ShareLimit: 50, ResyncPeriod: time.Hour, Regions: []string{"ap-guangzhou", "ap-shanghai",
		"ap-beijing"}, MaxConcurrentReconciles: 4}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.secondNamespace {
		ns2 := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ims-b-"}}
		Expect(k8sClient.Create(context.Background(), ns2)).To(Succeed())
		h.ns2 = ns2.Name
	}
	h.rec = h.startManager(o.Options)
	return h
}

func (h *harness) startManager(o Options) *ImageShareReconciler {
	GinkgoHelper()
	var rec *ImageShareReconciler
	// Each spec's manager sees only its namespace, so specs never share images.
	stop, err := testenv.RunManager(cfg, ctrl.Options{Scheme: scheme,
		Cache: cache.Options{DefaultNamespaces: h.namespaces()}}, func(mgr ctrl.Manager) error {
		rec = &ImageShareReconciler{
			Client:             mgr.GetClient(),
			APIReader:          mgr.GetAPIReader(),
			Scheme:             mgr.GetScheme(),
			Recorder:           mgr.GetEventRecorder("imageshare-controller"),
			Cloud:              tencent.NewFactory(tencent.Options{Endpoint: h.endpoint, Scheme: "http", QPS: 50}),
			Options:            o,
			skipNameValidation: true,
		}
		return rec.SetupWithManager(mgr)
	})
	Expect(err).NotTo(HaveOccurred())
	// Stop the manager after the objects are cleaned up (cleanups run in reverse).
	DeferCleanup(func() { Expect(stop()).To(Succeed()) })
	DeferCleanup(h.cleanup)
	return rec
}

// cleanup deletes the spec's ImageShares while the manager still runs, and
// strips finalizers of any the spec left unable to finish.
// namespaces are the spec's namespaces, the manager's whole world.
func (h *harness) namespaces() map[string]cache.Config {
	out := map[string]cache.Config{h.ns: {}}
	if h.ns2 != "" {
		out[h.ns2] = cache.Config{}
	}
	return out
}

func (h *harness) cleanup() {
	ctx := context.Background()
	for ns := range h.namespaces() {
		Expect(k8sClient.DeleteAllOf(ctx, &cvmv1alpha1.ImageShare{}, client.InNamespace(ns))).To(Succeed())
	}
	Eventually(func() int {
		var list cvmv1alpha1.ImageShareList
		Expect(k8sClient.List(ctx, &list)).To(Succeed())
		list.Items = slices.DeleteFunc(list.Items, func(o cvmv1alpha1.ImageShare) bool {
			_, mine := h.namespaces()[o.Namespace]
			return !mine
		})
		for i := range list.Items {
			o := &list.Items[i]
			if time.Since(o.DeletionTimestamp.Time) > 5*time.Second && len(o.Finalizers) > 0 {
				base := o.DeepCopy()
				o.Finalizers = nil
				_ = k8sClient.Patch(ctx, o, client.MergeFrom(base))
			}
		}
		return len(list.Items)
	}, 20*time.Second, 200*time.Millisecond).Should(BeZero())
}

func (h *harness) secret(name, id, key string) {
	GinkgoHelper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		StringData: map[string]string{"secretId": id, "secretKey": key}}
	Expect(k8sClient.Create(context.Background(), s)).To(Succeed())
}

// ims makes an ImageShare in the harness namespace with credentialsRef set.
func (h *harness) ims(name, image, region string, accounts ...string) *cvmv1alpha1.ImageShare {
	return &cvmv1alpha1.ImageShare{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns},
		Spec: cvmv1alpha1.ImageShareSpec{ImageID: image, Region: region, AccountIDs: accounts,
			CredentialsRef: &cvmv1alpha1.SecretReference{Name: "tencent-credentials"}},
	}
}

func (h *harness) create(o *cvmv1alpha1.ImageShare) *cvmv1alpha1.ImageShare {
	GinkgoHelper()
	Expect(k8sClient.Create(context.Background(), o)).To(Succeed())
	return o
}

func (h *harness) get(name string) *cvmv1alpha1.ImageShare {
	GinkgoHelper()
	o := &cvmv1alpha1.ImageShare{}
	Expect(k8sClient.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, o)).To(Succeed())
	return o
}

// update applies change to the latest copy of the object, retrying conflicts.
func (h *harness) update(name string, change func(*cvmv1alpha1.ImageShare)) {
	GinkgoHelper()
	Eventually(func() error {
		o := h.get(name)
		change(o)
		return k8sClient.Update(context.Background(), o)
	}).Should(Succeed())
}

// readyReason waits until the object's status is for its current generation
// and returns the Ready condition's reason.
func (h *harness) readyReason(name string) func() string {
	return func() string {
		o := &cvmv1alpha1.ImageShare{}
		if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: name}, o); err != nil {
			return "get: " + err.Error()
		}
		c := meta.FindStatusCondition(o.Status.Conditions, cvmv1alpha1.ConditionReady)
		if c == nil || o.Status.ObservedGeneration != o.Generation || c.ObservedGeneration != o.Generation {
			return ""
		}
		return c.Reason
	}
}

// expectReason waits for the Ready reason and checks the triad matches it.
func (h *harness) expectReason(name, reason string) *cvmv1alpha1.ImageShare {
	GinkgoHelper()
	Eventually(h.readyReason(name), 30*time.Second, 100*time.Millisecond).Should(Equal(reason))
	o := h.get(name)
	ready := meta.FindStatusCondition(o.Status.Conditions, cvmv1alpha1.ConditionReady)
	stalled := meta.FindStatusCondition(o.Status.Conditions, cvmv1alpha1.ConditionStalled)
	reconciling := meta.FindStatusCondition(o.Status.Conditions, cvmv1alpha1.ConditionReconciling)
	switch reason {
	case cvmv1alpha1.ReasonShared, cvmv1alpha1.ReasonInSync, cvmv1alpha1.ReasonExpired:
		Expect(ready.Status).To(Equal(metav1.ConditionTrue))
		Expect(stalled).To(BeNil())
		Expect(reconciling).To(BeNil())
	case cvmv1alpha1.ReasonProgressing, cvmv1alpha1.ReasonImageNotReady, cvmv1alpha1.ReasonThrottled, cvmv1alpha1.ReasonCloudError:
		Expect(ready.Status).NotTo(Equal(metav1.ConditionTrue))
		Expect(reconciling).NotTo(BeNil())
		Expect(reconciling.Status).To(Equal(metav1.ConditionTrue))
		Expect(stalled).To(BeNil())
	default:
		Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
		Expect(stalled.Reason).To(Equal(reason))
		Expect(reconciling).To(BeNil())
	}
	return o
}

// sharedWith is the image's share list as the emulator holds it.
func (h *harness) sharedWith(id string) []string {
	for _, img := range h.emu.State().Images {
		if img.ID == id {
			return img.SharedWith
		}
	}
	return nil
}

func (h *harness) sharedWithFn(id string) func() []string {
	return func() []string { return h.sharedWith(id) }
}

func (h *harness) modifyCalls() int { return h.emu.Stats().Calls["ModifyImageSharePermission"] }

// ownerClient is an SDK-backed client with the owner's keys, for changes made
// "out of band", as a person at the console or CLI would.
func (h *harness) ownerClient() cloud.Client {
	GinkgoHelper()
	c, err := tencent.NewFactory(tencent.Options{Endpoint: h.endpoint, Scheme: "http", QPS: 100}).
		ClientFor(cloud.Credentials{SecretID: ownerSecret, SecretKey: ownerKey})
	Expect(err).NotTo(HaveOccurred())
	return c
}

func sorted(xs ...string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}
