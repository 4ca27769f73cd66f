package controller

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// TestUnitFrozenProtects: a frozen object (its accountsFrom source gone)
// changes nothing, and its siblings of the same identity change nothing of
// what it is known to list: an Exclusive sibling it owned the image against
// stays in Conflict, and a Merge sibling that drops an account the frozen
// object listed does not cancel it.
func TestUnitFrozenProtects(t *testing.T) {
	e := newUnitEnv(t)
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	unitImage(e.owner(), unitImgB)
	e.configMap(nsA, "consumers", map[string]string{"ids": unitR4 + "\n"})

	// Image A: an Exclusive owner listing r4 through the ConfigMap, and a
	// younger Exclusive object in conflict with it.
	e.create(fromConfigMap(unitIMS(nsA, "owner", unitImgA, "creds", cvmv1alpha1.ModeExclusive, unitR2), "consumers", "ids"))
	e.create(unitIMS(nsA, "rival", unitImgA, "creds", cvmv1alpha1.ModeExclusive, unitR5))
	// Image B: two Merge objects; "first" shares r4, "lister" lists it through the ConfigMap.
	e.create(unitIMS(nsA, "first", unitImgB, "creds", cvmv1alpha1.ModeMerge, unitR4))
	e.mustReconcile(unitImgB, 1)
	e.create(fromConfigMap(unitIMS(nsA, "lister", unitImgB, "creds", cvmv1alpha1.ModeMerge), "consumers", "ids"))
	e.mustReconcile(unitImgA, 1)
	e.mustReconcile(unitImgB, 1)
	e.expectReason(nsA, "rival", cvmv1alpha1.ReasonConflict)
	expectStrings(t, "shares of A", e.owner().Shares(unitRegion, unitImgA), unitSorted(unitR2, unitR4))
	expectStrings(t, "first manages", e.mustGet(nsA, "first").Status.ManagedAccountIDs, []string{unitR4})
	expectStrings(t, "lister reports", e.mustGet(nsA, "lister").Status.SharedAccountIDs, []string{unitR4})

	e.deleteConfigMap(nsA, "consumers")
	e.update(nsA, "first", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR5} })
	e.owner().ResetCalls()
	e.mustReconcile(unitImgA, 1)
	e.mustReconcile(unitImgB, 1)
	e.expectReason(nsA, "owner", cvmv1alpha1.ReasonAccountsSourceNotFound)
	e.expectReason(nsA, "lister", cvmv1alpha1.ReasonAccountsSourceNotFound)
	e.expectReason(nsA, "rival", cvmv1alpha1.ReasonConflict)
	expectStrings(t, "shares of A while its owner is frozen", e.owner().Shares(unitRegion, unitImgA),
		unitSorted(unitR2, unitR4))
	expectStrings(t, "shares of B while lister is frozen", e.owner().Shares(unitRegion, unitImgB),
		unitSorted(unitR4, unitR5))
	for _, c := range modifyCalls(e.owner()) {
		if c.Op == "Cancel" || slices.Contains(c.Accounts, unitR4) {
			t.Errorf("a sibling of a frozen object changed what it lists: %+v", c)
		}
	}
	e.expectReason(nsA, "first", cvmv1alpha1.ReasonShared)
	// r4 was first's; the frozen lister, which still lists it, now manages
	// it (its conditions stay frozen), so the cancel is owed by somebody.
	expectStrings(t, "first manages", e.mustGet(nsA, "first").Status.ManagedAccountIDs, []string{unitR5})
	expectStrings(t, "lister inherits", e.mustGet(nsA, "lister").Status.ManagedAccountIDs, []string{unitR4})
	e.expectReason(nsA, "lister", cvmv1alpha1.ReasonAccountsSourceNotFound)

	// The source comes back without r4: the lister cancels what it inherited.
	e.configMap(nsA, "consumers", map[string]string{"ids": "# nobody\n"})
	e.mustReconcile(unitImgB, 1)
	expectStrings(t, "shares of B once the lister's source is back", e.owner().Shares(unitRegion, unitImgB),
		[]string{unitR5})
	e.expectReason(nsA, "lister", cvmv1alpha1.ReasonShared)
	if got := e.mustGet(nsA, "lister").Status.ManagedAccountIDs; len(got) != 0 {
		t.Fatalf("lister still manages %v", got)
	}
}

// TestUnitFrozenEdges: a frozen object past its expiry protects nothing; a
// reconcile request on a frozen object forces no read at every pass; the
// ImageShare of a frozen object's copy is still planned; a frozen object's
// copies are held like its image.
func TestUnitFrozenEdges(t *testing.T) {
	t.Run("expired", func(t *testing.T) {
		e := newUnitEnv(t)
		e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
		unitImage(e.owner(), unitImgA)
		e.create(unitIMS(nsA, "first", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR4))
		e.mustReconcile(unitImgA, 1)
		f := fromConfigMap(unitIMS(nsA, "f", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR4), "missing", "ids")
		f.Spec.ExpiresAt = &metav1.Time{Time: unitNow.Add(-time.Minute)}
		e.create(f)
		e.mustReconcile(unitImgA, 1)
		e.update(nsA, "first", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR5} })
		e.mustReconcile(unitImgA, 2)
		expectStrings(t, "shares", e.owner().Shares(unitRegion, unitImgA), []string{unitR5})
	})
	t.Run("reconcile requested", func(t *testing.T) {
		e := newUnitEnv(t)
		e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
		unitImage(e.owner(), unitImgA)
		e.create(unitIMS(nsA, "a", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2))
		f := fromConfigMap(unitIMS(nsA, "f", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR4), "missing", "ids")
		f.Annotations = map[string]string{ReconcileRequestedAnnotation: "x"}
		e.create(f)
		e.mustReconcile(unitImgA, 2)
		e.owner().ResetCalls()
		e.mustReconcile(unitImgA, 5)
		if n := len(e.owner().CallsTo("ListShares")) + len(e.owner().CallsTo("DescribeImages")); n != 0 {
			t.Fatalf("%d reads in 5 idle passes for a request on a frozen object", n)
		}
	})
	t.Run("copy of a frozen maintainer", func(t *testing.T) {
		e := newUnitEnv(t)
		e.create(replicatedFromConfigMap(e, "src", unitR2))
		e.mustReconcile(unitImgA, 2)
		c1 := regionStatus(e.mustGet(nsA, "src"), sh).ImageID
		cm := unitIMS(nsA, "cm", c1, "creds", cvmv1alpha1.ModeMerge, unitR5)
		cm.Spec.Region = sh
		e.create(cm)
		e.mustReconcile(unitImgA, 2)
		e.expectReason(nsA, "cm", cvmv1alpha1.ReasonShared)
		e.deleteConfigMap(nsA, "consumers")
		e.update(nsA, "cm", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR5, unitR6} })
		e.mustReconcile(unitImgA, 2)
		e.expectReason(nsA, "cm", cvmv1alpha1.ReasonShared)
		if !slices.Contains(e.owner().Shares(sh, c1), unitR6) {
			t.Fatalf("copy %s shares %v, want %s too", c1, e.owner().Shares(sh, c1), unitR6)
		}
	})
	t.Run("its copies are held too", func(t *testing.T) {
		e := newUnitEnv(t)
		e.create(replicatedFromConfigMap(e, "a"))
		b := unitIMS(nsA, "b", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR4)
		b.Spec.ReplicaRegions = []string{sh}
		e.create(b)
		e.mustReconcile(unitImgA, 3)
		c1 := regionStatus(e.mustGet(nsA, "a"), sh).ImageID
		expectStrings(t, "copy shares", e.owner().Shares(sh, c1), []string{unitR4})

		// a's source goes, then b drops r4: a still lists it, on the copy as on the image.
		e.deleteConfigMap(nsA, "consumers")
		e.update(nsA, "b", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR5} })
		e.mustReconcile(unitImgA, 2)
		e.expectReason(nsA, "a", cvmv1alpha1.ReasonAccountsSourceNotFound)
		expectStrings(t, "image shares", e.owner().Shares(unitRegion, unitImgA), unitSorted(unitR4, unitR5))
		expectStrings(t, "copy shares", e.owner().Shares(sh, c1), unitSorted(unitR4, unitR5))
		st := regionStatus(e.mustGet(nsA, "a"), sh)
		expectStrings(t, "a's copy entry, shared", st.SharedAccountIDs, []string{unitR4})
		expectStrings(t, "a's copy entry, managed", st.ManagedAccountIDs, []string{unitR4})
	})
}

// replicatedFromConfigMap sets up the owner's Secret, image A and a
// ConfigMap listing r4, and returns a Merge ImageShare of image A listing
// accounts plus that ConfigMap, with replica region sh.
func replicatedFromConfigMap(e *unitEnv, name string, accounts ...string) *cvmv1alpha1.ImageShare {
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA)
	e.configMap(nsA, "consumers", map[string]string{"ids": unitR4 + "\n"})
	o := fromConfigMap(unitIMS(nsA, name, unitImgA, "creds", cvmv1alpha1.ModeMerge, accounts...), "consumers", "ids")
	o.Spec.ReplicaRegions = []string{sh}
	return o
}
