package controller

// Fast reconciler tests without a control plane, in the style of
// external-secrets' fake-provider tests: a hand-built ImageShareReconciler on
// a controller-runtime fake client and the in-memory cloud (internal/cloud/fake),
// driven by calling Reconcile directly. Every test func is named TestUnit... so
// `go test -run TestUnit` runs them without the envtest suite.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	cloudfake "github.com/imageshare/imageshare-operator/internal/cloud/fake"
)

const (
	nsA = "tenant-a"
	nsB = "tenant-b"
)

// TestUnitDeletionWithoutCloudWork: an object with nothing to undo in the
// cloud is released at once, with no cloud call and whatever the state of its
// credentials.
func TestUnitDeletionWithoutCloudWork(t *testing.T) {
	cases := []struct {
		name  string
		build func() *cvmv1alpha1.ImageShare
	}{
		{"manages nothing, Secret missing", func() *cvmv1alpha1.ImageShare {
			return unitIMS(nsA, "web", unitImgA, "absent", cvmv1alpha1.ModeMerge, unitR2)
		}},
		{"manages nothing, no credentialsRef and no manager keys", func() *cvmv1alpha1.ImageShare {
			return unitIMS(nsA, "web", unitImgA, "", cvmv1alpha1.ModeExclusive, unitR2)
		}},
		{"Orphan policy with a managed share, Secret missing", func() *cvmv1alpha1.ImageShare {
			o := unitIMS(nsA, "web", unitImgA, "absent", cvmv1alpha1.ModeMerge, unitR2)
			o.Spec.DeletionPolicy = cvmv1alpha1.DeletionPolicyOrphan
			o.Status.ManagedAccountIDs = []string{unitR2}
			return o
		}},
		{"Observe object, Secret missing", func() *cvmv1alpha1.ImageShare {
			return unitIMS(nsA, "web", unitImgA, "absent", cvmv1alpha1.ModeObserve, unitR2)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newUnitEnv(t)
			unitImage(e.owner(), unitImgA, unitR2)
			o := tc.build()
			o.Finalizers = []string{Finalizer}
			e.create(o)
			e.remove(nsA, "web")
			if o := e.mustGet(nsA, "web"); o.DeletionTimestamp.IsZero() {
				t.Fatal("the fake client did not mark the object deleting")
			}
			e.mustReconcile(unitImgA, 1)
			e.expectGone(nsA, "web")
			if used := e.clouds.Used(); len(used) != 0 {
				t.Fatalf("credentials were used for a release with nothing to cancel: %v", used)
			}
			if calls := e.owner().Calls(); len(calls) != 0 {
				t.Fatalf("cloud calls for a release with nothing to cancel: %+v", calls)
			}
			expectStrings(t, "shares", e.owner().Shares(unitRegion, unitImgA), []string{unitR2})
		})
	}
}

// TestUnitDeletionCancelsManagedShares: deleting (policy Delete) cancels
// exactly the accounts the object manages, whether the status or only the
// write-ahead record says so, never the console's share, then releases.
func TestUnitDeletionCancelsManagedShares(t *testing.T) {
	cases := []struct {
		name string
		// setup leaves nsA/web holding r2 and r4 on unitImgA, shared with the
		// console account too.
		setup func(t *testing.T, e *unitEnv)
	}{
		{"shared by a reconcile (status.managedAccountIds)", func(t *testing.T, e *unitEnv) {
			e.create(unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR4))
			e.mustReconcile(unitImgA, 1)
			o := e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
			expectStrings(t, "managed", o.Status.ManagedAccountIDs, unitSorted(unitR2, unitR4))
			expectStrings(t, "unmanaged", o.Status.UnmanagedAccountIDs, []string{unitConsole})
			if _, ok := o.Annotations[PendingSharesAnnotation]; ok {
				t.Fatalf("pending-shares annotation left after the status recorded the shares: %v", o.Annotations)
			}
		}},
		{"only in the pending-shares record (crash before the status write)", func(t *testing.T, e *unitEnv) {
			if err := e.owner().Share(context.Background(), unitRegion, unitImgA, []string{unitR2, unitR4}); err != nil {
				t.Fatal(err)
			}
			o := unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR4)
			o.Finalizers = []string{Finalizer}
			o.Annotations = map[string]string{PendingSharesAnnotation: unitR2 + "," + unitR4}
			e.create(o)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newUnitEnv(t)
			e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
			unitImage(e.owner(), unitImgA, unitConsole)
			tc.setup(t, e)
			expectStrings(t, "shares before deletion", e.owner().Shares(unitRegion, unitImgA),
				unitSorted(unitConsole, unitR2, unitR4))
			e.owner().ResetCalls()
			e.drainEvents()

			e.remove(nsA, "web")
			e.mustReconcile(unitImgA, 1)
			e.expectGone(nsA, "web")
			calls := modifyCalls(e.owner())
			if len(calls) != 1 || calls[0].Op != "Cancel" {
				t.Fatalf("want exactly one Cancel, got %+v", calls)
			}
			expectStrings(t, "cancelled", accountsOf(calls), unitSorted(unitR2, unitR4))
			expectStrings(t, "shares after deletion", e.owner().Shares(unitRegion, unitImgA), []string{unitConsole})
			if evs := e.drainEvents(); !slices.ContainsFunc(evs, func(s string) bool {
				return strings.HasPrefix(s, "Normal Cancelled")
			}) {
				t.Fatalf("no Cancelled event: %q", evs)
			}
		})
	}
}

// TestUnitDeletionHandsSharesOver: deleting one of two Merge objects that list
// the same account cancels nothing; the survivor manages the account from then
// on, so deleting it cancels it.
func TestUnitDeletionHandsSharesOver(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA, unitConsole)
	e.create(unitIMS(nsA, "one", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
	e.mustReconcile(unitImgA, 1)
	e.expectReason(nsA, "one", cvmv1alpha1.ReasonShared)

	// "two" arrives once r2 is shared: it shares only r4 itself, so it does
	// not manage r2 yet.
	e.create(unitIMS(nsA, "two", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR4))
	e.mustReconcile(unitImgA, 1)
	two := e.expectReason(nsA, "two", cvmv1alpha1.ReasonShared)
	expectStrings(t, "two managed before", two.Status.ManagedAccountIDs, []string{unitR4})
	expectStrings(t, "one managed before", e.mustGet(nsA, "one").Status.ManagedAccountIDs, []string{unitR2})

	e.owner().ResetCalls()
	e.remove(nsA, "one")
	e.mustReconcile(unitImgA, 1)
	e.expectGone(nsA, "one")
	if calls := modifyCalls(e.owner()); len(calls) != 0 {
		t.Fatalf("releasing a shared account called the cloud: %+v", calls)
	}
	two = e.expectReason(nsA, "two", cvmv1alpha1.ReasonShared)
	expectStrings(t, "two managed after the handover", two.Status.ManagedAccountIDs, unitSorted(unitR2, unitR4))
	expectStrings(t, "shares", e.owner().Shares(unitRegion, unitImgA), unitSorted(unitConsole, unitR2, unitR4))

	e.remove(nsA, "two")
	e.mustReconcile(unitImgA, 1)
	e.expectGone(nsA, "two")
	expectStrings(t, "cancelled by the survivor", accountsOf(e.owner().CallsTo("Cancel")), unitSorted(unitR2, unitR4))
	expectStrings(t, "shares at the end", e.owner().Shares(unitRegion, unitImgA), []string{unitConsole})
}

// TestUnitConflictClearsWhenExclusiveOwnerGoes: a younger Merge object is in
// Conflict with an older Exclusive one, and is Shared in the very reconcile
// that releases the Exclusive one (deletionPolicy Orphan).
func TestUnitConflictClearsWhenExclusiveOwnerGoes(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	owner := unitIMS(nsA, "a-owner", unitImgA, "creds", cvmv1alpha1.ModeExclusive, unitR2)
	owner.Spec.DeletionPolicy = cvmv1alpha1.DeletionPolicyOrphan
	e.create(owner)
	e.mustReconcile(unitImgA, 1)
	e.expectReason(nsA, "a-owner", cvmv1alpha1.ReasonShared)

	e.create(unitIMS(nsA, "late", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR4))
	e.mustReconcile(unitImgA, 1)
	e.expectReason(nsA, "late", cvmv1alpha1.ReasonConflict)
	e.expectReason(nsA, "a-owner", cvmv1alpha1.ReasonShared)
	expectStrings(t, "shares during the conflict", e.owner().Shares(unitRegion, unitImgA), []string{unitR2})

	e.owner().ResetCalls()
	e.remove(nsA, "a-owner")
	e.mustReconcile(unitImgA, 1) // exactly one reconcile
	e.expectGone(nsA, "a-owner")
	late := e.expectReason(nsA, "late", cvmv1alpha1.ReasonShared)
	expectStrings(t, "late managed", late.Status.ManagedAccountIDs, []string{unitR4})
	expectStrings(t, "shares", e.owner().Shares(unitRegion, unitImgA), unitSorted(unitR2, unitR4))
	if c := e.owner().CallsTo("Cancel"); len(c) != 0 {
		t.Fatalf("an Orphan Exclusive owner's deletion cancelled shares: %+v", c)
	}
}

// TestUnitTenancy: objects of another cloud identity on the same image id are
// planned with their own keys only; a keyless object never reaches the cloud.
func TestUnitTenancy(t *testing.T) {
	cases := []struct {
		name string
		// seedOther gives the second identity its view of unitImgA.
		seedOther  func(e *unitEnv)
		grabReason string
	}{
		{"image absent for the other identity", func(*unitEnv) {}, cvmv1alpha1.ReasonImageNotFound},
		{"image shared to the other identity", func(e *unitEnv) {
			e.other().AddImage(cloud.Image{ID: unitImgA, Region: unitRegion, Type: cloud.ImageTypeShared})
		}, cvmv1alpha1.ReasonImageNotShareable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newUnitEnv(t)
			e.secret(nsA, "ours", unitOwnerID, unitOwnerKey)
			e.secret(nsB, "theirs", unitOtherID, unitOtherKey)
			unitImage(e.owner(), unitImgA, unitR6)
			tc.seedOther(e)
			// The other tenant's Exclusive object is the oldest: planned
			// together with the owner's, it would win and cancel r2 and r6.
			e.create(unitIMS(nsB, "grab", unitImgA, "theirs", cvmv1alpha1.ModeExclusive, unitR4))
			e.create(unitIMS(nsA, "owner", unitImgA, "ours", cvmv1alpha1.ModeMerge, unitR2))
			e.create(unitIMS(nsB, "watch", unitImgA, "theirs", cvmv1alpha1.ModeObserve, unitR2))
			e.create(unitIMS(nsB, "keyless", unitImgA, "", cvmv1alpha1.ModeMerge, unitR5))
			e.mustReconcile(unitImgA, 3)

			e.expectReason(nsA, "owner", cvmv1alpha1.ReasonShared)
			e.expectReason(nsB, "grab", tc.grabReason)
			e.expectReason(nsB, "keyless", cvmv1alpha1.ReasonCredentialsMissing)
			expectStrings(t, "owner's shares", e.owner().Shares(unitRegion, unitImgA), unitSorted(unitR2, unitR6))
			if c := e.owner().CallsTo("Cancel"); len(c) != 0 {
				t.Fatalf("the owner's keys cancelled shares for another identity's plan: %+v", c)
			}
			expectStrings(t, "shared with the owner's keys", accountsOf(e.owner().CallsTo("Share")), []string{unitR2})
			if c := modifyCalls(e.other()); len(c) != 0 {
				t.Fatalf("the other identity modified shares of an image it does not own: %+v", c)
			}
			expectStrings(t, "identities used", e.clouds.UsedSecretIDs(), unitSorted(unitOwnerID, unitOtherID))

			// The owner drops r2: an Observe object of another identity listing
			// it does not protect it.
			e.update(nsA, "owner", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR4} })
			e.mustReconcile(unitImgA, 2)
			e.expectReason(nsA, "owner", cvmv1alpha1.ReasonShared)
			expectStrings(t, "owner's shares after the change", e.owner().Shares(unitRegion, unitImgA),
				unitSorted(unitR4, unitR6))
			expectStrings(t, "cancelled with the owner's keys", accountsOf(e.owner().CallsTo("Cancel")),
				[]string{unitR2})
			for _, c := range append(e.owner().Calls(), e.other().Calls()...) {
				if slices.Contains(c.Accounts, unitR5) {
					t.Fatalf("the keyless object's account reached the cloud: %+v", c)
				}
			}
			if c := modifyCalls(e.other()); len(c) != 0 {
				t.Fatalf("the other identity modified shares: %+v", c)
			}
		})
	}
}

// TestUnitSecretInUseFinalizer: a Secret is held while an ImageShare using it
// manages shares, and let go once none does (an Observe object using it
// does not count).
func TestUnitSecretInUseFinalizer(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	unitImage(e.owner(), unitImgB)
	locked := func() bool {
		return controllerutil.ContainsFinalizer(e.getSecret(nsA, "creds"), SecretFinalizer)
	}
	if locked() {
		t.Fatal("a fresh Secret has the in-use finalizer")
	}
	e.create(unitIMS(nsA, "a", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
	e.create(unitIMS(nsA, "b", unitImgB, "creds", cvmv1alpha1.ModeMerge, unitR4))
	// An Observe object uses the Secret too but never manages a share: it
	// must not hold the Secret.
	e.create(unitIMS(nsA, "watch", unitImgA, "creds", cvmv1alpha1.ModeObserve, unitR2))
	e.mustReconcile(unitImgA, 1)
	e.expectReason(nsA, "a", cvmv1alpha1.ReasonShared)
	e.expectReason(nsA, "watch", cvmv1alpha1.ReasonInSync)
	if !locked() {
		t.Fatal("no in-use finalizer on the Secret after a share")
	}
	e.mustReconcile(unitImgB, 1)
	e.expectReason(nsA, "b", cvmv1alpha1.ReasonShared)

	e.remove(nsA, "a")
	e.mustReconcile(unitImgA, 1)
	e.expectGone(nsA, "a")
	if !locked() {
		t.Fatal("the Secret was let go while b still manages a share with it")
	}

	e.remove(nsA, "b")
	e.mustReconcile(unitImgB, 1)
	e.expectGone(nsA, "b")
	if locked() {
		t.Fatal("the in-use finalizer stayed once no ImageShare using the Secret manages a share")
	}
	// The Observe object still lists r2, so a's deletion let go of it
	// without a cancel (nextManaged: "only an Observe object still lists it").
	expectStrings(t, "shares of A", e.owner().Shares(unitRegion, unitImgA), []string{unitR2})
	expectStrings(t, "shares of B", e.owner().Shares(unitRegion, unitImgB), nil)
}

// TestUnitCancelRefusedForOneAccount: a CANCEL the cloud refuses for one
// account keeps that account managed and failed, while the other account is
// cancelled and the new one shared; once the cloud accepts, it is cancelled.
func TestUnitCancelRefusedForOneAccount(t *testing.T) {
	cases := []struct {
		name   string
		refuse func(e *unitEnv)
	}{
		{"the cloud names the account (AccountErrors)", func(e *unitEnv) {
			e.owner().AccountErrors = map[string]cloud.Reason{unitR2: cloud.ReasonAccountNotFound}
		}},
		{"the cloud does not name it (CancelFn)", func(e *unitEnv) {
			c := e.owner()
			c.CancelFn = func(_ context.Context, region, id string, accounts []string) error {
				if slices.Contains(accounts, unitR2) {
					return &cloud.Error{Op: "ModifyImageSharePermission", Code: "Fake.AccountNotFound",
						Reason: cloud.ReasonAccountNotFound, Message: "one of the accounts does not exist"}
				}
				img, _ := c.Image(region, id)
				c.AddImage(img, slices.DeleteFunc(c.Shares(region, id), func(a string) bool {
					return slices.Contains(accounts, a)
				})...)
				return nil
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newUnitEnv(t)
			e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
			unitImage(e.owner(), unitImgA)
			e.create(unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR4))
			e.mustReconcile(unitImgA, 1)
			e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)

			tc.refuse(e)
			e.owner().ResetCalls()
			e.update(nsA, "web", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR5} })
			e.mustReconcile(unitImgA, 1)
			o := e.expectReason(nsA, "web", cvmv1alpha1.ReasonInvalidAccounts)
			expectStrings(t, "shares", e.owner().Shares(unitRegion, unitImgA), unitSorted(unitR2, unitR5))
			expectStrings(t, "managed", o.Status.ManagedAccountIDs, unitSorted(unitR2, unitR5))
			if !slices.ContainsFunc(e.owner().CallsTo("Cancel"), func(c cloudfake.Call) bool {
				return slices.Equal(c.Accounts, []string{unitR4})
			}) {
				t.Fatalf("r4 was not cancelled on its own after the refusal: %+v", e.owner().CallsTo("Cancel"))
			}
			if f := o.Status.FailedAccounts; len(f) != 1 || f[0].AccountID != unitR2 ||
				f[0].Reason != cvmv1alpha1.AccountReasonNotFound {
				t.Fatalf("failedAccounts = %+v, want only %s (%s)", f, unitR2, cvmv1alpha1.AccountReasonNotFound)
			}

			// The cloud accepts the cancel again. An account-scoped refusal is
			// not polled: another reconcile before the resync leaves it...
			e.owner().AccountErrors, e.owner().CancelFn = nil, nil
			e.owner().ResetCalls()
			e.mustReconcile(unitImgA, 1)
			e.expectReason(nsA, "web", cvmv1alpha1.ReasonInvalidAccounts)
			if calls := e.owner().CallsTo("Cancel"); len(calls) != 0 {
				t.Fatalf("a refused cancel was tried again before the resync: %+v", calls)
			}
			// ...and the resync retries it.
			e.r.now = func() time.Time { return unitNow.Add(e.r.ResyncPeriod) }
			e.mustReconcile(unitImgA, 1)
			o = e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
			expectStrings(t, "shares after the retry", e.owner().Shares(unitRegion, unitImgA), []string{unitR5})
			expectStrings(t, "managed after the retry", o.Status.ManagedAccountIDs, []string{unitR5})
			if len(o.Status.FailedAccounts) != 0 {
				t.Fatalf("failedAccounts after the retry = %+v", o.Status.FailedAccounts)
			}
		})
	}
}
