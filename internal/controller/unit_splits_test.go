package controller

import (
	"fmt"
	"testing"
	"time"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// TestUnitMoreRefusalsThanOnePassSplits: a SHARE or CANCEL that the cloud
// refuses for more accounts than one pass splits around (maxCallsPerOp)
// still converges: each pass records the accounts it set aside, the next
// skips them and goes on, and once all are known the object is Stalled and
// the cloud is left alone until the resync.
func TestUnitMoreRefusalsThanOnePassSplits(t *testing.T) {
	bad := make([]string, 15)
	refuse := map[string]cloud.Reason{}
	for i := range bad {
		bad[i] = fmt.Sprintf("3000000000%02d", i+1)
		refuse[bad[i]] = cloud.ReasonAccountNotFound
	}
	converge := func(e *unitEnv, name string) *cvmv1alpha1.ImageShare {
		t.Helper()
		for range 6 {
			e.mustReconcile(unitImgA, 1)
		}
		o := e.expectReason(nsA, name, cvmv1alpha1.ReasonInvalidAccounts)
		if len(o.Status.FailedAccounts) != len(bad) {
			t.Fatalf("failedAccounts lists %d accounts, want %d", len(o.Status.FailedAccounts), len(bad))
		}
		e.owner().ResetCalls()
		e.mustReconcile(unitImgA, 3)
		if n := len(e.owner().CallsTo("Share")) + len(e.owner().CallsTo("Cancel")); n != 0 {
			t.Fatalf("%d SHARE/CANCEL calls before the resync once every refused account is known", n)
		}
		return o
	}

	t.Run("share", func(t *testing.T) {
		e := newUnitEnv(t)
		e.r.ShareLimit = 50
		e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
		unitImage(e.owner(), unitImgA)
		e.owner().AccountErrors = refuse
		e.create(unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, append(bad, unitR2)...))
		converge(e, "web")
		expectStrings(t, "shares", e.owner().Shares(unitRegion, unitImgA), []string{unitR2})
	})

	t.Run("cancel", func(t *testing.T) {
		e := newUnitEnv(t)
		e.r.ShareLimit = 50
		e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
		unitImage(e.owner(), unitImgA)
		e.create(unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, append(bad, unitR2)...))
		e.mustReconcile(unitImgA, 1)
		e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)

		e.owner().AccountErrors = refuse
		e.update(nsA, "web", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR4} })
		o := converge(e, "web")
		expectStrings(t, "managed", o.Status.ManagedAccountIDs, unitSorted(append(bad, unitR4)...))
		expectStrings(t, "shares", e.owner().Shares(unitRegion, unitImgA), unitSorted(append(bad, unitR4)...))

		// At the resync the cloud accepts them: every cancel goes through.
		e.owner().AccountErrors = nil
		e.r.now = func() time.Time { return unitNow.Add(e.r.ResyncPeriod) }
		e.mustReconcile(unitImgA, 1)
		e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
		expectStrings(t, "shares after the resync", e.owner().Shares(unitRegion, unitImgA), []string{unitR4})
	})
}
