package controller

// Regression tests from a review: each is a way an account could end up in
// nobody's managedAccountIds, or a share made with keys nothing holds.

import (
	"context"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// A settled receiver whose verdict is Throttled (another member's SHARE was
// throttled) skips its status write; the giver is released anyway.
func TestUnitHandoverToAThrottledReceiver(t *testing.T) {
	e := newHandoverEnv(t)
	t.Logf("two: %s", unitReady(e.mustGet(nsA, "two")))

	e.create(unitIMS(nsA, "three", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR5))
	e.owner().ShareFn = func(context.Context, string, string, []string) error {
		return &cloud.Error{Op: "ModifyImageSharePermission", Code: "RequestLimitExceeded",
			Reason: cloud.ReasonThrottled}
	}
	e.remove(nsA, "one")
	_, err := e.reconcile(unitImgA)
	t.Logf("reconcile: %v", err)
	_, oneLeft := e.get(nsA, "one")
	two := e.mustGet(nsA, "two")
	t.Logf("one left: %v; two: %s managed %v", oneLeft, unitReady(two), two.Status.ManagedAccountIDs)
	if !oneLeft && !slices.Contains(two.Status.ManagedAccountIDs, unitR2) {
		t.Errorf("one released but %s is in nobody's managedAccountIds; shares %v", unitR2,
			e.owner().Shares(unitRegion, unitImgA))
	}
}

// A concurrent reconcile removes the Secret's in-use finalizer after this
// reconcile read the Secret; this reconcile then shares with its keys.
func TestUnitSecretReleasedMidReconcileIsHeldAgain(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	s := e.getSecret(nsA, "creds")
	controllerutil.AddFinalizer(s, SecretFinalizer) // held for another image's object
	if err := e.k8s.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	unitImage(e.owner(), unitImgA)
	e.create(unitIMS(nsA, "a", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
	once := false
	e.owner().ListSharesFn = func(_ context.Context, region, id string) ([]string, error) {
		if !once { // another image's reconcile released its last holder meanwhile
			once = true
			s := e.getSecret(nsA, "creds")
			controllerutil.RemoveFinalizer(s, SecretFinalizer)
			if err := e.k8s.Update(context.Background(), s); err != nil {
				t.Fatal(err)
			}
		}
		return e.owner().Shares(region, id), nil
	}
	_, err := e.reconcile(unitImgA)
	t.Logf("reconcile: %v", err)
	a := e.mustGet(nsA, "a")
	fin := e.getSecret(nsA, "creds").Finalizers
	t.Logf("a: %s managed %v; secret finalizers %v", unitReady(a), a.Status.ManagedAccountIDs, fin)
	if len(a.Status.ManagedAccountIDs) > 0 && !slices.Contains(fin, SecretFinalizer) {
		t.Errorf("a manages %v but the Secret has no in-use finalizer", a.Status.ManagedAccountIDs)
	}
}

// The Secret is deleted (namespace going) after credentials were resolved.
func TestUnitSecretDeletedMidReconcileSharesNothing(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	e.create(unitIMS(nsA, "a", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
	e.owner().ListSharesFn = func(_ context.Context, region, id string) ([]string, error) {
		if err := e.k8s.Delete(context.Background(), e.getSecret(nsA, "creds")); err != nil {
			t.Fatal(err)
		}
		e.owner().ListSharesFn = nil
		return e.owner().Shares(region, id), nil
	}
	_, err := e.reconcile(unitImgA)
	a := e.mustGet(nsA, "a")
	t.Logf("reconcile: %v; a: %s managed %v; shares %v", err, unitReady(a), a.Status.ManagedAccountIDs,
		e.owner().Shares(unitRegion, unitImgA))
	if len(e.owner().Shares(unitRegion, unitImgA)) > 0 {
		t.Errorf("PRE-EXISTING: shared with keys whose Secret is already gone")
	}
}

// A live member drops an account another lists: the handover's receiver
// status fails, the giver's status (phase 3) is still written.
func TestUnitLiveHandoverKeptWhenReceiverFails(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	e.create(unitIMS(nsA, "one", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR5))
	e.mustReconcile(unitImgA, 1)
	e.create(unitIMS(nsA, "two", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR4))
	e.mustReconcile(unitImgA, 1)
	e.update(nsA, "one", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR5} })
	e.failStatus = func(o client.Object) bool { return o.GetName() == "two" }
	_, err := e.reconcile(unitImgA)
	one, two := e.mustGet(nsA, "one"), e.mustGet(nsA, "two")
	t.Logf("reconcile: %v; one managed %v; two managed %v; shares %v", err, one.Status.ManagedAccountIDs,
		two.Status.ManagedAccountIDs, e.owner().Shares(unitRegion, unitImgA))
	if !slices.Contains(one.Status.ManagedAccountIDs, unitR2) && !slices.Contains(two.Status.ManagedAccountIDs, unitR2) {
		t.Errorf("%s is in nobody's managedAccountIds while shared", unitR2)
	}
	e.failStatus = nil
	e.mustReconcile(unitImgA, 2)
	e.update(nsA, "two", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR4} })
	e.mustReconcile(unitImgA, 2)
	t.Logf("after two drops R2: two managed %v; shares %v", e.mustGet(nsA, "two").Status.ManagedAccountIDs,
		e.owner().Shares(unitRegion, unitImgA))
}

// failHandover deletes "one" while the status of "two", which takes its
// account over, cannot be written: the reconcile fails and one is kept.
func (e *unitEnv) failHandover() {
	e.t.Helper()
	e.failStatus = func(o client.Object) bool { return o.GetName() == "two" }
	e.remove(nsA, "one")
	if _, err := e.reconcile(unitImgA); err == nil {
		e.t.Fatal("a failed status patch did not fail the reconcile")
	}
	if _, ok := e.get(nsA, "one"); !ok {
		e.t.Fatal("one was released while the status taking over its account was not written")
	}
}

// newHandoverEnv is the start of a handover: "one" shared and manages R2;
// "two", created after, lists R2 and R4 and manages only R4, the share it
// made itself. Deleting "one" hands R2 over to "two".
func newHandoverEnv(t *testing.T) *unitEnv {
	t.Helper()
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	e.create(unitIMS(nsA, "one", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
	e.mustReconcile(unitImgA, 1)
	e.create(unitIMS(nsA, "two", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR4))
	e.mustReconcile(unitImgA, 1)
	expectStrings(t, "two managed before", e.mustGet(nsA, "two").Status.ManagedAccountIDs, []string{unitR4})
	return e
}

// A leaving member hands its account to a sibling of the same identity that
// uses another Secret; the sibling's status fails to land, so the giver keeps
// its claim, and its own Secret must stay held for it until the retry.
func TestUnitGiverSecretHeldWhileTheHandoverFails(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "giver-creds", unitOwnerID, unitOwnerKey)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey) // the same account's keys, in another Secret
	unitImage(e.owner(), unitImgA)
	e.create(unitIMS(nsA, "one", unitImgA, "giver-creds", cvmv1alpha1.ModeMerge, unitR2))
	e.mustReconcile(unitImgA, 1)
	e.create(unitIMS(nsA, "two", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR4))
	e.mustReconcile(unitImgA, 1)
	held := func(name string) bool {
		return controllerutil.ContainsFinalizer(e.getSecret(nsA, name), SecretFinalizer)
	}
	if !held("giver-creds") || !held("creds") {
		t.Fatalf("Secrets not held before the handover: giver-creds %v, creds %v", held("giver-creds"), held("creds"))
	}

	e.failHandover()
	if !held("giver-creds") {
		t.Fatalf("giver-creds lost its in-use finalizer while one still manages %s", unitR2)
	}

	e.failStatus = nil
	e.mustReconcile(unitImgA, 1)
	e.expectGone(nsA, "one")
	expectStrings(t, "two managed after the handover", e.mustGet(nsA, "two").Status.ManagedAccountIDs,
		unitSorted(unitR2, unitR4))
	// one's deletion enqueues its Secret, which nothing holds any more.
	if _, err := e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{
		Namespace: secretKeyPrefix + nsA, Name: "giver-creds"}}); err != nil {
		t.Fatal(err)
	}
	if held("giver-creds") || !held("creds") {
		t.Fatalf("after the handover: giver-creds held %v (want false), creds held %v (want true)",
			held("giver-creds"), held("creds"))
	}
}

// staleList answers a List of an image's ImageShares with extra objects the
// informer has not yet seen deleted.
type staleList struct {
	client.Client
	extra []*cvmv1alpha1.ImageShare
}

func (s *staleList) List(ctx context.Context, l client.ObjectList, opts ...client.ListOption) error {
	if err := s.Client.List(ctx, l, opts...); err != nil {
		return err
	}
	lo := &client.ListOptions{}
	lo.ApplyOptions(opts)
	if il, ok := l.(*cvmv1alpha1.ImageShareList); ok && lo.FieldSelector != nil &&
		strings.Contains(lo.FieldSelector.String(), imageKeyField) {
		for _, o := range s.extra {
			il.Items = append(il.Items, *o.DeepCopy())
		}
	}
	return nil
}

// A giver hands its account to a new sibling that is deleted (it had no
// finalizer yet, so it is gone at once) before its status is written: the
// handover failed, the giver keeps its claim, and the retry cancels the share.
func TestUnitHandoverToAVanishedTaker(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	e.create(unitIMS(nsA, "giver", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
	e.mustReconcile(unitImgA, 1)
	e.create(unitIMS(nsA, "taker", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
	taker := e.mustGet(nsA, "taker")
	e.remove(nsA, "taker")
	e.r.Client = &staleList{Client: e.k8s, extra: []*cvmv1alpha1.ImageShare{taker}}
	e.remove(nsA, "giver")
	res, err := e.reconcile(unitImgA)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.get(nsA, "giver"); !ok {
		t.Fatalf("giver released although its account went to an object that no longer exists; shares %v",
			e.owner().Shares(unitRegion, unitImgA))
	}
	if res.RequeueAfter == 0 {
		t.Error("the failed handover was not requeued")
	}
	e.r.Client = e.k8s
	e.mustReconcile(unitImgA, 1)
	e.expectGone(nsA, "giver")
	expectStrings(t, "shares after the retry", e.owner().Shares(unitRegion, unitImgA), nil)
}
