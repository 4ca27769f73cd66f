package controller

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	cloudfake "github.com/imageshare/imageshare-operator/internal/cloud/fake"
)

func (e *unitEnv) configMap(ns, name string, data map[string]string) {
	e.t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	var cur corev1.ConfigMap
	if err := e.k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &cur); err == nil {
		cur.Data = data
		if err := e.k8s.Update(context.Background(), &cur); err != nil {
			e.t.Fatal(err)
		}
		return
	}
	if err := e.k8s.Create(context.Background(), cm); err != nil {
		e.t.Fatal(err)
	}
}

func fromConfigMap(o *cvmv1alpha1.ImageShare, name, key string) *cvmv1alpha1.ImageShare {
	o.Spec.AccountsFrom = append(o.Spec.AccountsFrom, cvmv1alpha1.AccountsSource{
		ConfigMapKeyRef: cvmv1alpha1.ConfigMapKeyReference{Name: name, Key: key}})
	return o
}

// TestUnitAccountsFrom: one account list in a ConfigMap serves several
// objects; edits add and remove accounts; bad lines are failed accounts; a
// missing source freezes the object.
func TestUnitAccountsFrom(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	unitImage(e.owner(), unitImgB)
	e.configMap(nsA, "consumers", map[string]string{"ids": "# platform consumers\n" + unitR4 + "\n\n" + unitR5 + " # vendor\n"})
	e.create(fromConfigMap(unitIMS(nsA, "a", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR4), "consumers", "ids"))
	e.create(fromConfigMap(unitIMS(nsA, "b", unitImgB, "creds", cvmv1alpha1.ModeMerge), "consumers", "ids"))
	e.mustReconcile(unitImgA, 1)
	e.mustReconcile(unitImgB, 1)
	a := e.expectReason(nsA, "a", cvmv1alpha1.ReasonShared)
	expectStrings(t, "shares of A", e.owner().Shares(unitRegion, unitImgA), unitSorted(unitR2, unitR4, unitR5))
	expectStrings(t, "shares of B", e.owner().Shares(unitRegion, unitImgB), unitSorted(unitR4, unitR5))
	if a.Status.ListedAccounts != 3 || a.Status.Accounts != "3/3" {
		t.Fatalf("listedAccounts = %d, accounts = %q; want 3 and 3/3", a.Status.ListedAccounts, a.Status.Accounts)
	}

	// The ConfigMap changes: r5 leaves, r6 arrives, and a line that is not an ID.
	e.configMap(nsA, "consumers", map[string]string{"ids": unitR4 + "\n" + unitR6 + "\nnot-an-account\n"})
	e.mustReconcile(unitImgA, 1)
	e.mustReconcile(unitImgB, 1)
	expectStrings(t, "shares of A after the edit", e.owner().Shares(unitRegion, unitImgA), unitSorted(unitR2, unitR4, unitR6))
	expectStrings(t, "shares of B after the edit", e.owner().Shares(unitRegion, unitImgB), unitSorted(unitR4, unitR6))
	b := e.expectReason(nsA, "b", cvmv1alpha1.ReasonInvalidAccounts)
	if f := b.Status.FailedAccounts; len(f) != 1 || f[0].AccountID != "not-an-account" ||
		f[0].Reason != cvmv1alpha1.AccountReasonInvalidID {
		t.Fatalf("failedAccounts = %+v, want the bad line as InvalidAccountId", f)
	}

	// The ConfigMap goes: the objects are frozen, nothing is cancelled.
	if err := e.k8s.Delete(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: nsA, Name: "consumers"}}); err != nil {
		t.Fatal(err)
	}
	e.owner().ResetCalls()
	e.mustReconcile(unitImgA, 1)
	a = e.expectReason(nsA, "a", cvmv1alpha1.ReasonAccountsSourceNotFound)
	if !strings.Contains(unitReady(a), "consumers") {
		t.Fatalf("the message does not name the ConfigMap: %s", unitReady(a))
	}
	if calls := modifyCalls(e.owner()); len(calls) != 0 {
		t.Fatalf("a frozen object changed the cloud: %+v", calls)
	}
	expectStrings(t, "shares of A while frozen", e.owner().Shares(unitRegion, unitImgA), unitSorted(unitR2, unitR4, unitR6))
}

// TestUnitExpiresAt: at expiresAt a Merge object cancels what it manages and
// is Ready with reason Expired; the reconcile is requeued for that moment;
// moving expiresAt into the future shares again.
func TestUnitExpiresAt(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA, unitConsole)
	o := unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR4)
	o.Spec.ExpiresAt = &metav1.Time{Time: unitNow.Add(30 * time.Second)}
	e.create(o)
	res, err := e.reconcile(unitImgA)
	if err != nil {
		t.Fatal(err)
	}
	got := e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
	if res.RequeueAfter <= 0 || res.RequeueAfter > 31*time.Second {
		t.Fatalf("requeued after %s, want at the expiry (30s)", res.RequeueAfter)
	}
	if got.Status.ExpiresAt == nil || !got.Status.ExpiresAt.Equal(o.Spec.ExpiresAt) {
		t.Fatalf("status.expiresAt = %v, want the spec's", got.Status.ExpiresAt)
	}

	e.r.now = func() time.Time { return unitNow.Add(31 * time.Second) }
	e.mustReconcile(unitImgA, 1)
	got = e.expectReason(nsA, "web", cvmv1alpha1.ReasonExpired)
	expectStrings(t, "shares after expiry", e.owner().Shares(unitRegion, unitImgA), []string{unitConsole})
	if len(got.Status.ManagedAccountIDs) != 0 {
		t.Fatalf("still manages %v after expiry", got.Status.ManagedAccountIDs)
	}

	e.update(nsA, "web", func(o *cvmv1alpha1.ImageShare) {
		o.Spec.ExpiresAt = &metav1.Time{Time: unitNow.Add(time.Hour)}
	})
	e.mustReconcile(unitImgA, 1)
	e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
	expectStrings(t, "shares after moving expiresAt", e.owner().Shares(unitRegion, unitImgA),
		unitSorted(unitConsole, unitR2, unitR4))
}

// TestUnitPublishAndForceRead: spec.publish writes the image and its copy
// per region, owned by the ImageShare; the reconcile-requested-at
// annotation forces a fresh read and is echoed.
func TestUnitPublishAndForceRead(t *testing.T) {
	const sh = "ap-shanghai"
	e, o := newReplicaEnv(t, sh)
	o.Spec.Publish = &cvmv1alpha1.PublishSpec{ConfigMapName: "app-base-images"}
	e.create(o)
	e.mustReconcile(unitImgA, 2)
	got := e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
	var cm corev1.ConfigMap
	if err := e.k8s.Get(context.Background(), types.NamespacedName{Namespace: nsA, Name: "app-base-images"}, &cm); err != nil {
		t.Fatalf("published ConfigMap: %v", err)
	}
	copyID := regionStatus(got, sh).ImageID
	if cm.Data[unitRegion] != unitImgA || cm.Data[sh] != copyID || len(cm.Data) != 2 {
		t.Fatalf("published %v, want %s: %s and %s: %s", cm.Data, unitRegion, unitImgA, sh, copyID)
	}
	if !metav1.IsControlledBy(&cm, got) {
		t.Fatalf("the ConfigMap is not owned by the ImageShare: %+v", cm.OwnerReferences)
	}

	// Cached reads serve the next reconcile; the annotation forces fresh ones.
	e.owner().ResetCalls()
	e.mustReconcile(unitImgA, 1)
	if n := len(e.owner().CallsTo("ListShares")); n != 0 {
		t.Fatalf("a plain re-reconcile read the share list %d times", n)
	}
	e.r.now = func() time.Time { return unitNow.Add(minForcedReadInterval + time.Second) }
	e.update(nsA, "web", func(o *cvmv1alpha1.ImageShare) {
		o.Generation-- // an annotation is not a spec change
		o.Annotations = map[string]string{ReconcileRequestedAnnotation: "2026-03-04T05:06:07Z"}
	})
	e.mustReconcile(unitImgA, 1)
	calls := e.owner().CallsTo("ListShares")
	if !slices.ContainsFunc(calls, func(c cloudfake.Call) bool { return c.ImageID == unitImgA }) ||
		!slices.ContainsFunc(calls, func(c cloudfake.Call) bool { return c.ImageID == copyID }) {
		t.Fatalf("the annotation did not force fresh share-list reads of the image and its copy: %+v", calls)
	}
	if got = e.mustGet(nsA, "web"); got.Status.LastHandledReconcileAt != "2026-03-04T05:06:07Z" {
		t.Fatalf("lastHandledReconcileAt = %q", got.Status.LastHandledReconcileAt)
	}
	e.owner().ResetCalls()
	e.mustReconcile(unitImgA, 1)
	if n := len(e.owner().CallsTo("ListShares")); n != 0 {
		t.Fatalf("a handled request kept forcing reads: %d", n)
	}

	// A tenant rewriting the annotation in a loop: a read younger than
	// minForcedReadInterval counts as fresh, so no call is spent on it.
	e.update(nsA, "web", func(o *cvmv1alpha1.ImageShare) {
		o.Generation--
		o.Annotations = map[string]string{ReconcileRequestedAnnotation: "again"}
	})
	e.mustReconcile(unitImgA, 1)
	if n := len(e.owner().CallsTo("ListShares")); n != 0 {
		t.Fatalf("a request right after a read forced %d more reads", n)
	}
	if got = e.mustGet(nsA, "web"); got.Status.LastHandledReconcileAt != "again" {
		t.Fatalf("lastHandledReconcileAt = %q, want the request echoed", got.Status.LastHandledReconcileAt)
	}
}

func (e *unitEnv) deleteConfigMap(ns, name string) {
	e.t.Helper()
	if err := e.k8s.Delete(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: name}}); err != nil {
		e.t.Fatal(err)
	}
}
