package controller

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// TestEveryReadyReason: each Ready reason of an ImageShare the verdict
// tables above do not reach comes out of the function that decides it, with
// the triad's Stalled flag the contract gives it. TestJudge and TestFailure
// cover the others; this test fails when a reason constant is added to api/
// without a case anywhere.
func TestEveryReadyReason(t *testing.T) {
	covered := map[string]bool{ // by TestJudge and TestFailure
		cvmv1alpha1.ReasonProgressing: true, cvmv1alpha1.ReasonImageNotReady: true, cvmv1alpha1.ReasonThrottled: true,
		cvmv1alpha1.ReasonCloudError: true, cvmv1alpha1.ReasonShared: true, cvmv1alpha1.ReasonInSync: true,
		cvmv1alpha1.ReasonShareLimitExceeded: true, cvmv1alpha1.ReasonRegionMismatch: true,
		cvmv1alpha1.ReasonImageNotFound: true, cvmv1alpha1.ReasonImageNotShareable: true,
		cvmv1alpha1.ReasonInvalidAccounts: true, cvmv1alpha1.ReasonCredentialsInvalid: true,
		cvmv1alpha1.ReasonPermissionDenied: true, cvmv1alpha1.ReasonConflict: true,
		cvmv1alpha1.ReasonDriftDetected: true,
	}
	ctx := context.Background()
	cases := []struct {
		reason  string
		stalled bool
		ready   metav1.ConditionStatus
		verdict func(t *testing.T) verdict
	}{
		{cvmv1alpha1.ReasonCredentialsMissing, true, metav1.ConditionFalse, func(t *testing.T) verdict {
			e := newUnitEnv(t)
			_, _, v := e.r.credentials(ctx, unitIMS(nsA, "web", unitImgA, "no-such-secret", cvmv1alpha1.ModeMerge))
			return *v
		}},
		{cvmv1alpha1.ReasonAccountsSourceNotFound, true, metav1.ConditionFalse, func(t *testing.T) verdict {
			e := newUnitEnv(t)
			o := fromConfigMap(unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge), "gone", "ids")
			return *e.r.resolveAccounts(ctx, &member{obj: o, base: o.DeepCopy()})
		}},
		{cvmv1alpha1.ReasonCopyFailed, true, metav1.ConditionFalse, func(t *testing.T) verdict {
			m := testMember("web", cvmv1alpha1.ModeMerge, "100000000002")
			m.obj.Spec.ReplicaRegions = []string{"ap-shanghia"} //nolint:misspell // the typo is the point
			m.v = verdict{ready: metav1.ConditionTrue, reason: cvmv1alpha1.ReasonShared}
			c := &copyRegion{region: "ap-shanghia", entries: map[*member]*cvmv1alpha1.RegionStatus{ //nolint:misspell
				m: {Region: "ap-shanghia", Reason: cvmv1alpha1.ReasonCopyFailed, Message: "not accepted"}}} //nolint:misspell
			testReconciler().mergeRegions(m, []*copyRegion{c})
			return m.v
		}},
		{cvmv1alpha1.ReasonExpired, false, metav1.ConditionTrue, func(t *testing.T) verdict {
			e := newUnitEnv(t)
			e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
			unitImage(e.owner(), unitImgA)
			o := unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2)
			o.Spec.ExpiresAt = &metav1.Time{Time: unitNow.Add(-time.Minute)}
			e.create(o)
			e.mustReconcile(unitImgA, 1)
			got := e.mustGet(nsA, "web")
			for _, c := range got.Status.Conditions {
				if c.Type == cvmv1alpha1.ConditionReady {
					return verdict{ready: c.Status, reason: c.Reason, stalled: false}
				}
			}
			return verdict{}
		}},
	}
	for _, tc := range cases {
		covered[tc.reason] = true
		t.Run(tc.reason, func(t *testing.T) {
			v := tc.verdict(t)
			if v.reason != tc.reason || v.stalled != tc.stalled || v.ready != tc.ready {
				t.Fatalf("got %s (ready %s, stalled %v), want %s (ready %s, stalled %v): %s", v.reason, v.ready,
					v.stalled, tc.reason, tc.ready, tc.stalled, v.message)
			}
		})
	}
	for _, reason := range cvmv1alpha1.ReadyReasons {
		if !covered[reason] {
			t.Errorf("Ready reason %s has no verdict test", reason)
		}
	}
}
