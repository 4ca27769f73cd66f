package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	cloudfake "github.com/imageshare/imageshare-operator/internal/cloud/fake"
	"github.com/imageshare/imageshare-operator/internal/credentials"
)

// The unit tests' world: one region, two images, two cloud identities (an
// image owner and a second tenant) and a handful of recipient accounts.
const (
	unitRegion = "ap-guangzhou"
	unitImgA   = "img-unit0001"
	unitImgB   = "img-unit0002"

	unitOwnerID  = "AKIDunitowner0001"
	unitOwnerKey = "unit-owner-secret-key-0001"
	unitOtherID  = "AKIDunitother0099"
	unitOtherKey = "unit-other-secret-key-0099"

	unitR2      = "200000000002"
	unitR4      = "200000000004"
	unitR5      = "200000000005"
	unitR6      = "200000000006"
	unitConsole = "200000000099" // shared from the console, never by an ImageShare
)

// unitNow is the reconciler's fixed clock; objects are created an hour
// before it, one second apart, so "older" is well defined.
var unitNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// unitEnv is a reconciler wired to a controller-runtime fake client and the
// in-memory cloud, with no control plane and no manager: tests call
// Reconcile themselves.
type unitEnv struct {
	t      *testing.T
	k8s    client.Client
	clouds *cloudfake.Factory
	events *events.FakeRecorder
	r      *ImageShareReconciler
	seq    int
	// failStatus, when set, fails the status patches of the objects it picks.
	failStatus func(client.Object) bool
	// secretGets counts Secret GETs.
	secretGets atomic.Int64
	// writes counts ImageShare patches, metadata and status.
	writes atomic.Int64
}

func newUnitEnv(t *testing.T) *unitEnv {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := cvmv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	e := &unitEnv{t: t, clouds: cloudfake.NewFactory(), events: events.NewFakeRecorder(1000)}
	// The same index functions SetupWithManager registers; the interceptor
	// lets a test fail a status patch or count Secret reads.
	k8s := crfake.NewClientBuilder().WithScheme(s).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object,
				opts ...client.GetOption) error {
				if _, ok := obj.(*corev1.Secret); ok {
					e.secretGets.Add(1)
				}
				return c.Get(ctx, key, obj, opts...)
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch,
				opts ...client.PatchOption) error {
				if _, ok := obj.(*cvmv1alpha1.ImageShare); ok {
					e.writes.Add(1)
				}
				return c.Patch(ctx, obj, patch, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object,
				patch client.Patch, opts ...client.SubResourcePatchOption) error {
				if e.failStatus != nil && e.failStatus(obj) {
					return errors.New("injected status patch failure")
				}
				e.writes.Add(1)
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
		}).
		WithStatusSubresource(&cvmv1alpha1.ImageShare{}).
		WithIndex(&cvmv1alpha1.ImageShare{}, imageKeyField, func(o client.Object) []string {
			return []string{keyOf(o.(*cvmv1alpha1.ImageShare)).String()}
		}).
		WithIndex(&cvmv1alpha1.ImageShare{}, copyKeyField, func(o client.Object) []string {
			return copyKeys(o.(*cvmv1alpha1.ImageShare))
		}).
		WithIndex(&cvmv1alpha1.ImageShare{}, credentialField, func(o client.Object) []string {
			return []string{credentialKey(o.(*cvmv1alpha1.ImageShare))}
		}).
		WithIndex(&cvmv1alpha1.ImageShare{}, holdingField, func(o client.Object) []string {
			return holdsSecret(o.(*cvmv1alpha1.ImageShare))
		}).
		Build()
	e.k8s = k8s
	e.r = &ImageShareReconciler{
		Client:    k8s,
		APIReader: k8s,
		Scheme:    s,
		Recorder:  e.events,
		Cloud:     e.clouds,
		Options:   Options{ShareLimit: 5, ResyncPeriod: time.Hour},
		reads:     newReadCache(maxCachedImages),
		rejected:  newRejectedKeys(),
		now:       func() time.Time { return unitNow },
	}
	return e
}

// owner is the fake cloud account of unitOwnerID.
func (e *unitEnv) owner() *cloudfake.Client { return e.clouds.Client(unitOwnerID) }

// other is the fake cloud account of unitOtherID, a second tenant.
func (e *unitEnv) other() *cloudfake.Client { return e.clouds.Client(unitOtherID) }

// unitImage puts a private NORMAL image in c, shared with shares.
func unitImage(c *cloudfake.Client, id string, shares ...string) {
	c.AddImage(cloud.Image{ID: id, Region: unitRegion, Name: "web-" + id}, shares...)
}

func (e *unitEnv) secret(ns, name, id, key string) {
	e.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data: map[string][]byte{credentials.SecretIDKey: []byte(id), credentials.SecretKeyKey: []byte(key)}}
	if err := e.k8s.Create(context.Background(), s); err != nil {
		e.t.Fatalf("create Secret %s/%s: %v", ns, name, err)
	}
}

func (e *unitEnv) getSecret(ns, name string) *corev1.Secret {
	e.t.Helper()
	s := &corev1.Secret{}
	if err := e.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
		e.t.Fatalf("get Secret %s/%s: %v", ns, name, err)
	}
	return s
}

// unitIMS builds an ImageShare of image in unitRegion; secret "" means no
// credentialsRef (the manager's own keys).
func unitIMS(ns, name, image, secret string, mode cvmv1alpha1.Mode, accounts ...string) *cvmv1alpha1.ImageShare {
	o := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cvmv1alpha1.ImageShareSpec{ImageID: image, Region: unitRegion, Mode: mode, AccountIDs: accounts}}
	if secret != "" {
		o.Spec.CredentialsRef = &cvmv1alpha1.SecretReference{Name: secret}
	}
	return o
}

// create stores o as the API server would: a UID, generation 1 and a
// creation time (the fake client sets none of them), each object one
// second younger than the one before. The status, if any, is written
// through the status subresource.
func (e *unitEnv) create(o *cvmv1alpha1.ImageShare) {
	e.t.Helper()
	e.seq++
	status := o.Status
	o.UID = types.UID(fmt.Sprintf("uid-%s-%s", o.Namespace, o.Name))
	o.Generation = 1
	o.CreationTimestamp = metav1.NewTime(unitNow.Add(-time.Hour + time.Duration(e.seq)*time.Second))
	if err := e.k8s.Create(context.Background(), o); err != nil {
		e.t.Fatalf("create %s/%s: %v", o.Namespace, o.Name, err)
	}
	if !equality.Semantic.DeepEqual(status, cvmv1alpha1.ImageShareStatus{}) {
		o.Status = status
		if err := e.k8s.Status().Update(context.Background(), o); err != nil {
			e.t.Fatalf("write status of %s/%s: %v", o.Namespace, o.Name, err)
		}
	}
}

// update changes the spec as a user would; the fake client does not bump
// the generation, so this does.
func (e *unitEnv) update(ns, name string, change func(*cvmv1alpha1.ImageShare)) {
	e.t.Helper()
	o := e.mustGet(ns, name)
	change(o)
	o.Generation++
	if err := e.k8s.Update(context.Background(), o); err != nil {
		e.t.Fatalf("update %s/%s: %v", ns, name, err)
	}
}

// remove deletes the object; with our finalizer on it, the fake client only
// sets its deletionTimestamp, as the API server does.
func (e *unitEnv) remove(ns, name string) {
	e.t.Helper()
	if err := e.k8s.Delete(context.Background(), e.mustGet(ns, name)); err != nil {
		e.t.Fatalf("delete %s/%s: %v", ns, name, err)
	}
}

func (e *unitEnv) get(ns, name string) (*cvmv1alpha1.ImageShare, bool) {
	e.t.Helper()
	o := &cvmv1alpha1.ImageShare{}
	err := e.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, o)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		e.t.Fatalf("get %s/%s: %v", ns, name, err)
	}
	return o, true
}

func (e *unitEnv) mustGet(ns, name string) *cvmv1alpha1.ImageShare {
	e.t.Helper()
	o, ok := e.get(ns, name)
	if !ok {
		e.t.Fatalf("%s/%s is gone", ns, name)
	}
	return o
}

func (e *unitEnv) expectGone(ns, name string) {
	e.t.Helper()
	if o, ok := e.get(ns, name); ok {
		e.t.Fatalf("%s/%s still exists: finalizers %v, %s", ns, name, o.Finalizers, unitReady(o))
	}
}

// reconcile runs one reconcile of image, as the workqueue would.
func (e *unitEnv) reconcile(image string) (ctrl.Result, error) {
	ctx := logf.IntoContext(context.Background(), crzap.New(crzap.WriteTo(io.Discard)))
	return e.r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: unitRegion, Name: image}})
}

// mustReconcile reconciles image n times, failing on any error.
func (e *unitEnv) mustReconcile(image string, n int) {
	e.t.Helper()
	for i := range n {
		if _, err := e.reconcile(image); err != nil {
			e.t.Fatalf("reconcile %s (pass %d): %v", image, i+1, err)
		}
	}
}

// reason is the Ready reason of ns/name ("" when it has none or is gone).
func (e *unitEnv) reason(ns, name string) string {
	e.t.Helper()
	o, ok := e.get(ns, name)
	if !ok {
		return ""
	}
	if c := meta.FindStatusCondition(o.Status.Conditions, cvmv1alpha1.ConditionReady); c != nil {
		return c.Reason
	}
	return ""
}

func (e *unitEnv) expectReason(ns, name, want string) *cvmv1alpha1.ImageShare {
	e.t.Helper()
	o := e.mustGet(ns, name)
	if got := e.reason(ns, name); got != want {
		e.t.Fatalf("%s/%s Ready reason = %q, want %q; %s", ns, name, got, want, unitReady(o))
	}
	return o
}

// drainEvents returns the events recorded so far.
func (e *unitEnv) drainEvents() []string {
	var out []string
	for {
		select {
		case ev := <-e.events.Events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func unitReady(o *cvmv1alpha1.ImageShare) string {
	c := meta.FindStatusCondition(o.Status.Conditions, cvmv1alpha1.ConditionReady)
	if c == nil {
		return "no Ready condition"
	}
	return fmt.Sprintf("Ready=%s %s: %s (managed %v, failed %+v)", c.Status, c.Reason, c.Message,
		o.Status.ManagedAccountIDs, o.Status.FailedAccounts)
}

// modifyCalls are the Share and Cancel calls of c, in order.
func modifyCalls(c *cloudfake.Client) []cloudfake.Call {
	return slices.DeleteFunc(c.Calls(), func(call cloudfake.Call) bool {
		return call.Op != "Share" && call.Op != "Cancel"
	})
}

// accountsOf are the accounts of calls, each call's sorted, all concatenated.
func accountsOf(calls []cloudfake.Call) []string {
	out := make([]string, 0, len(calls))
	for _, c := range calls {
		out = append(out, slices.Sorted(slices.Values(c.Accounts))...)
	}
	return out
}

func unitSorted(xs ...string) []string { return slices.Sorted(slices.Values(xs)) }

func expectStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}
