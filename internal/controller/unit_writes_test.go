package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// TestUnitReleaseWaitsForTheHandover: a leaving member's managed account is
// handed to a live member; when the receiver's status patch fails, the giver
// keeps its finalizer (its claim is still on record) until a reconcile
// writes both, so the account is never in nobody's managedAccountIds.
func TestUnitReleaseWaitsForTheHandover(t *testing.T) {
	e := newHandoverEnv(t)

	e.failHandover()
	expectStrings(t, "one still manages", e.mustGet(nsA, "one").Status.ManagedAccountIDs, []string{unitR2})

	e.failStatus = nil
	e.mustReconcile(unitImgA, 1)
	e.expectGone(nsA, "one")
	expectStrings(t, "two managed after the handover", e.mustGet(nsA, "two").Status.ManagedAccountIDs,
		unitSorted(unitR2, unitR4))
	expectStrings(t, "shares", e.owner().Shares(unitRegion, unitImgA), unitSorted(unitR2, unitR4))
}

// TestUnitOneSecretReadPerReconcile: twenty ImageShares of one image and one
// Secret cost a fixed number of Secret GETs per reconcile (the credentials
// once, and fresh reads for the in-use finalizer before the SHARE and at the
// end), not one per ImageShare; and a second namespace's Secret of the same
// name is read for its own objects, never answered from the first.
func TestUnitOneSecretReadPerReconcile(t *testing.T) {
	e := newUnitEnv(t)
	e.r.ShareLimit = 100
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	e.secret(nsB, "creds", unitOtherID, unitOtherKey)
	unitImage(e.owner(), unitImgA)
	for i := range 20 {
		e.create(unitIMS(nsA, fmt.Sprintf("a%02d", i), unitImgA, "creds", cvmv1alpha1.ModeMerge,
			fmt.Sprintf("3000000000%02d", i)))
	}
	e.create(unitIMS(nsB, "b", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR6))
	e.secretGets.Store(0)
	e.mustReconcile(unitImgA, 1)
	if got := e.secretGets.Load(); got > 2*3 {
		t.Errorf("one reconcile of 21 ImageShares of two Secrets read Secrets %d times, want at most 3 each", got)
	}
	e.expectReason(nsA, "a00", cvmv1alpha1.ReasonShared)
	// nsB's keys are another account's: the image is not theirs to share.
	if r := e.reason(nsB, "b"); r == cvmv1alpha1.ReasonShared {
		t.Errorf("b acted with namespace %s's keys: %s", nsA, r)
	}
	if !e.getSecret(nsA, "creds").DeletionTimestamp.IsZero() || len(e.getSecret(nsA, "creds").Finalizers) != 1 {
		t.Errorf("Secret %s/creds finalizers %v, want the in-use finalizer", nsA, e.getSecret(nsA, "creds").Finalizers)
	}
}

// TestKeepRecentSyncTime: a lastSyncTime that is the only change and recent
// is kept (no patch for a read made for a sibling); with another change, or
// once it is a tenth of the read period old, the new time is written.
func TestKeepRecentSyncTime(t *testing.T) {
	r := &ImageShareReconciler{Options: Options{ResyncPeriod: time.Hour}}
	t0 := metav1.NewTime(unitNow)
	cases := []struct {
		name    string
		after   time.Duration
		change  bool
		wantNew bool
	}{
		{name: "only change, recent", after: time.Minute},
		{name: "only change, old enough", after: 10 * time.Minute, wantNew: true},
		{name: "with another change", after: time.Minute, change: true, wantNew: true},
	}
	for _, c := range cases {
		base := &cvmv1alpha1.ImageShare{Status: cvmv1alpha1.ImageShareStatus{LastSyncTime: &t0, Accounts: "1/1"}}
		obj := base.DeepCopy()
		next := metav1.NewTime(unitNow.Add(c.after))
		obj.Status.LastSyncTime = &next
		if c.change {
			obj.Status.Accounts = "0/1"
		}
		r.keepRecentSyncTime(&member{obj: obj, base: base})
		if got := obj.Status.LastSyncTime.Time; got.Equal(next.Time) != c.wantNew {
			t.Errorf("%s: lastSyncTime %s, want the new time: %v", c.name, got, c.wantNew)
		}
	}
}

// TestNeedsFreshRead: a member changed or deleted after this period's share
// list was read needs a read of its own; one the read already followed does
// not, even while the informer still shows our own status write missing.
func TestNeedsFreshRead(t *testing.T) {
	read := unitNow
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(read.Add(d).Truncate(time.Second)) }
	cases := []struct {
		name string
		obj  func(o *cvmv1alpha1.ImageShare)
		want bool
	}{
		{name: "created well before the read, status behind", obj: func(o *cvmv1alpha1.ImageShare) {
			o.CreationTimestamp = at(-5 * time.Second)
		}, want: false},
		{name: "created in the second of the read", obj: func(o *cvmv1alpha1.ImageShare) {
			o.CreationTimestamp = at(0)
		}, want: true},
		{name: "created after the read", obj: func(o *cvmv1alpha1.ImageShare) {
			o.CreationTimestamp = at(3 * time.Second)
		}, want: true},
		{name: "no creation time", obj: func(o *cvmv1alpha1.ImageShare) {}, want: true},
		{name: "edited (second generation), status behind", obj: func(o *cvmv1alpha1.ImageShare) {
			o.CreationTimestamp, o.Generation, o.Status.ObservedGeneration = at(-time.Hour), 2, 1
		}, want: true},
		{name: "edited and observed", obj: func(o *cvmv1alpha1.ImageShare) {
			o.CreationTimestamp, o.Generation, o.Status.ObservedGeneration = at(-time.Hour), 2, 2
		}, want: false},
		{name: "deleted before the read", obj: func(o *cvmv1alpha1.ImageShare) {
			o.CreationTimestamp, o.Status.ObservedGeneration = at(-time.Hour), 1
			d := at(-2 * time.Second)
			o.DeletionTimestamp = &d
		}, want: false},
		{name: "deleted after the read", obj: func(o *cvmv1alpha1.ImageShare) {
			o.CreationTimestamp, o.Status.ObservedGeneration = at(-time.Hour), 1
			d := at(2 * time.Second)
			o.DeletionTimestamp = &d
		}, want: true},
		{name: "a reconcile requested", obj: func(o *cvmv1alpha1.ImageShare) {
			o.CreationTimestamp, o.Status.ObservedGeneration = at(-time.Hour), 1
			o.Annotations = map[string]string{ReconcileRequestedAnnotation: "now"}
		}, want: true},
	}
	for _, c := range cases {
		o := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
		c.obj(o)
		quiet := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Generation: 1, CreationTimestamp: at(-time.Hour)},
			Status: cvmv1alpha1.ImageShareStatus{ObservedGeneration: 1}}
		members := []*member{{obj: quiet}, {obj: o}}
		if got := needsFreshRead(members, read, read.Add(time.Minute)); got != c.want {
			t.Errorf("%s: needsFreshRead %v, want %v", c.name, got, c.want)
		}
	}
}

// TestUnitNewObjectWrites: a new object that shares costs three writes (the
// finalizer with the write-ahead record, the status, clearing the record);
// one that shares nothing costs two (the finalizer, the status). Both end
// with the finalizer and no record.
func TestUnitNewObjectWrites(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	unitImage(e.owner(), unitImgB, unitR4)
	e.create(unitIMS(nsA, "shares", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
	e.create(unitIMS(nsA, "watches", unitImgB, "creds", cvmv1alpha1.ModeObserve, unitR4))
	for _, c := range []struct {
		image, name string
		writes      int64
	}{{unitImgA, "shares", 3}, {unitImgB, "watches", 2}} {
		e.writes.Store(0)
		e.mustReconcile(c.image, 1)
		o := e.mustGet(nsA, c.name)
		if got := e.writes.Load(); got != c.writes {
			t.Errorf("%s: %d writes, want %d", c.name, got, c.writes)
		}
		if !controllerutil.ContainsFinalizer(o, Finalizer) {
			t.Errorf("%s: no finalizer after its first reconcile", c.name)
		}
		if _, ok := o.Annotations[PendingSharesAnnotation]; ok {
			t.Errorf("%s: the write-ahead record is still there", c.name)
		}
	}
	e.expectReason(nsA, "shares", cvmv1alpha1.ReasonShared)
}

// TestUnitGenerationFromThePlan: the spec changes during a new object's first
// reconcile; the finalizer patch's answer carries the new generation, but
// the status reports the generation the plan was made for.
func TestUnitGenerationFromThePlan(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA, unitR2)
	e.create(unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
	cl := e.owner()
	bumped := false
	cl.ListSharesFn = func(_ context.Context, region, id string) ([]string, error) {
		if !bumped {
			bumped = true
			e.update(nsA, "web", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR2, unitR4} })
		}
		return cl.Shares(region, id), nil
	}
	e.mustReconcile(unitImgA, 1)
	o := e.mustGet(nsA, "web")
	if o.Generation != 2 || o.Status.ObservedGeneration != 1 {
		t.Fatalf("generation %d, observedGeneration %d; want 2 and 1 (the plan saw generation 1)", o.Generation,
			o.Status.ObservedGeneration)
	}
	if !controllerutil.ContainsFinalizer(o, Finalizer) {
		t.Fatal("no finalizer")
	}
}

// TestUnitThrottledNewObjectNotWritten: a new object whose first read waits
// for a rate-limit slot gets no write (no finalizer, no status) until the
// slot comes; then it is written and shared as usual.
func TestUnitThrottledNewObjectNotWritten(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	e.create(unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
	cl := e.owner()
	booked := false
	cl.ListSharesFn = func(context.Context, string, string) ([]string, error) {
		return nil, &cloud.Error{Op: "DescribeImageSharePermission", Code: "ClientError.RateLimited",
			Reason: cloud.ReasonThrottled, RetryAfter: time.Second, Booked: booked}
	}
	// A call told to come back later without a slot of its own (a
	// background re-check) goes back at normal priority...
	res, err := e.reconcile(unitImgA)
	if err != nil || res.Priority == nil || *res.Priority != 0 {
		t.Fatalf("unbooked throttled reconcile: %+v, %v; want priority 0", res, err)
	}
	// ...a booked one ahead of the initial list.
	booked = true
	e.writes.Store(0)
	res, err = e.reconcile(unitImgA)
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("throttled reconcile: %+v, %v; want a requeue and no error", res, err)
	}
	if res.Priority == nil || *res.Priority <= 0 {
		t.Fatalf("a retry at a booked slot must go ahead of the initial list (priority %v)", res.Priority)
	}
	if n := e.writes.Load(); n != 0 {
		t.Fatalf("%d writes for a new object waiting for its slot, want none", n)
	}
	cl.ListSharesFn = nil
	if res, _ := e.reconcile(unitImgA); res.Priority == nil || *res.Priority != 0 {
		t.Fatalf("priority after the slot: %v; want 0, not the slot's for ever", res.Priority)
	}
	o := e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
	if !controllerutil.ContainsFinalizer(o, Finalizer) {
		t.Fatal("no finalizer once shared")
	}
}
