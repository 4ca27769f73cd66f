package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// TestUnitRefusedCancelWaitsForResync: a CANCEL the cloud refuses for the
// account itself is not polled every second, during deletion or for an
// Exclusive owner's unlisted shares: the object is Stalled (InvalidAccounts,
// saying so), requeued at the resync, and retried then.
func TestUnitRefusedCancelWaitsForResync(t *testing.T) {
	cases := []struct {
		name string
		// act leaves nsA/web owing a cancel of unitR2 (deletion) or of the
		// console share (Exclusive).
		mode   cvmv1alpha1.Mode
		refuse string
		act    func(e *unitEnv)
		// gone: the object is deleted once the cloud accepts the cancel.
		gone bool
	}{
		{"a deleting Merge object", cvmv1alpha1.ModeMerge, unitR2,
			func(e *unitEnv) { e.remove(nsA, "web") }, true},
		{"an Exclusive owner", cvmv1alpha1.ModeExclusive, unitConsole,
			func(e *unitEnv) {}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newUnitEnv(t)
			e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
			unitImage(e.owner(), unitImgA)
			e.create(unitIMS(nsA, "web", unitImgA, "creds", tc.mode, unitR2, unitR4))
			e.mustReconcile(unitImgA, 1)
			if tc.mode == cvmv1alpha1.ModeExclusive {
				unitImage(e.owner(), unitImgA, unitR2, unitR4, unitConsole) // shared in the console meanwhile
				e.r.reads.forgetImage(imageKey{Region: unitRegion, ImageID: unitImgA})
			} else {
				e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
			}

			e.owner().AccountErrors = map[string]cloud.Reason{tc.refuse: cloud.ReasonAccountNotFound}
			tc.act(e)
			res, err := e.reconcile(unitImgA)
			if err != nil {
				t.Fatal(err)
			}
			o := e.expectReason(nsA, "web", cvmv1alpha1.ReasonInvalidAccounts)
			if !strings.Contains(unitReady(o), tc.refuse) || !strings.Contains(unitReady(o), "each resync") {
				t.Fatalf("message does not name %s and the retry: %s", tc.refuse, unitReady(o))
			}
			if res.RequeueAfter < e.r.ResyncPeriod {
				t.Fatalf("requeued after %s: a refused cancel must wait for the resync (%s), not be polled",
					res.RequeueAfter, e.r.ResyncPeriod)
			}

			// The cloud accepts it at the resync: the cancel is retried.
			e.owner().AccountErrors = nil
			e.r.now = func() time.Time { return unitNow.Add(e.r.ResyncPeriod) }
			e.mustReconcile(unitImgA, 1)
			if tc.gone {
				e.expectGone(nsA, "web")
			} else {
				e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
			}
			expectStrings(t, "shares after the retry", e.owner().Shares(unitRegion, unitImgA),
				map[bool][]string{true: nil, false: unitSorted(unitR2, unitR4)}[tc.gone])
		})
	}
}

// TestReconcileDelete covers every outcome of the one function that decides
// a deleting ImageShare.
func TestReconcileDelete(t *testing.T) {
	r := testReconciler()
	holding := func(mode cvmv1alpha1.Mode, policy cvmv1alpha1.DeletionPolicy) *member {
		m := testMember("web", mode, "100000000002")
		m.obj.Spec.DeletionPolicy = policy
		m.obj.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
		m.obj.Status.ManagedAccountIDs = []string{"100000000002"}
		return m
	}
	withCopy := func(m *member) *member {
		m.obj.Status.Regions = []cvmv1alpha1.RegionStatus{{Region: "ap-shanghai", ImageID: "img-copy0001"}}
		return m
	}
	cloudErr := &cloud.Error{Code: "InternalError", Reason: cloud.ReasonCloudError}
	managed := accountView{managed: []string{"100000000002"}}
	refused := accountView{managed: []string{"100000000002"}, failed: []cvmv1alpha1.FailedAccount{
		{AccountID: "100000000002", Reason: cvmv1alpha1.AccountReasonNotFound}}}
	cases := []struct {
		name    string
		m       *member
		st      deleteState
		release bool
		reason  string // "" with release false: not decided yet
		stalled bool
		err     bool
	}{
		{"Observe manages nothing", holding(cvmv1alpha1.ModeObserve, cvmv1alpha1.DeletionPolicyDelete),
			deleteState{}, true, "", false, false},
		{"Orphan leaves the shares", holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyOrphan),
			deleteState{}, true, "", false, false},
		{"nothing managed", testMemberDeleting(), deleteState{}, true, "", false, false},
		{"image gone", holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete),
			deleteState{gone: true}, true, "", false, false},
		{"not planned yet", holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete),
			deleteState{}, false, "", false, false},
		{"cancels done", holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete),
			deleteState{planned: true}, true, "", false, false},
		{"cancel owed", holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete),
			deleteState{planned: true, view: managed}, false, cvmv1alpha1.ReasonProgressing, false, false},
		{"cancel failed, retryable", holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete),
			deleteState{planned: true, view: managed, err: cloudErr}, false, cvmv1alpha1.ReasonCloudError, false, true},
		{"cancel refused for the account", holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete),
			deleteState{planned: true, view: refused}, false, cvmv1alpha1.ReasonInvalidAccounts, true, false},
		{"error on another member's share", holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete),
			deleteState{planned: true, err: cloudErr}, true, "", false, false},
		{"copies not looked at yet", withCopy(holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete)),
			deleteState{planned: true}, false, cvmv1alpha1.ReasonProgressing, false, false},
		{"copies cleaned up", withCopy(holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete)),
			deleteState{planned: true, regions: &regionSummary{}}, true, "", false, false},
		{"copy still held", withCopy(holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete)),
			deleteState{planned: true, regions: &regionSummary{entries: []cvmv1alpha1.RegionStatus{{}},
				pending: []string{"ap-shanghai (Cancelling)"}}}, false, cvmv1alpha1.ReasonProgressing, false, false},
		{"copy call failed", withCopy(holding(cvmv1alpha1.ModeMerge, cvmv1alpha1.DeletionPolicyDelete)),
			deleteState{planned: true, regions: &regionSummary{entries: []cvmv1alpha1.RegionStatus{{}},
				err: cloudErr}}, false, cvmv1alpha1.ReasonProgressing, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := r.reconcileDelete(tc.m, tc.st)
			if v.release != tc.release || v.reason != tc.reason || v.stalled != tc.stalled ||
				(v.err != nil) != tc.err {
				t.Fatalf("got release=%v reason=%q stalled=%v err=%v, want release=%v reason=%q stalled=%v err=%v",
					v.release, v.reason, v.stalled, v.err, tc.release, tc.reason, tc.stalled, tc.err)
			}
			if v.err != nil && !errors.Is(v.err, cloudErr) {
				t.Fatalf("err = %v, want the cloud's", v.err)
			}
			if !tc.release && tc.reason != "" && v.requeueAfter <= 0 && v.err == nil {
				t.Fatal("a deletion that waits must be requeued")
			}
		})
	}
}

func testMemberDeleting() *member {
	m := testMember("web", cvmv1alpha1.ModeMerge, "100000000002")
	m.obj.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	return m
}

// TestUnitRefusedCopyCancelWaitsForResync: a refused CANCEL on a copy (the
// region was removed, or the object is deleting) stalls on InvalidAccounts
// until the resync instead of polling the copy every few seconds.
func TestUnitRefusedCopyCancelWaitsForResync(t *testing.T) {
	const sh = "ap-shanghai"
	for _, deleting := range []bool{false, true} {
		t.Run(map[bool]string{false: "region removed", true: "object deleted"}[deleting], func(t *testing.T) {
			e := newUnitEnv(t)
			e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
			unitImage(e.owner(), unitImgA)
			o := unitIMS(nsA, "web", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2)
			o.Spec.ReplicaRegions = []string{sh}
			e.create(o)
			e.mustReconcile(unitImgA, 2)
			e.expectReason(nsA, "web", cvmv1alpha1.ReasonShared)
			c := e.owner()
			c.CancelFn = func(_ context.Context, region, id string, accounts []string) error {
				if region == sh {
					return &cloud.Error{Op: "ModifyImageSharePermission", Code: "Fake.AccountNotFound",
						Reason: cloud.ReasonAccountNotFound, Account: accounts[0], Message: "closed account"}
				}
				img, _ := c.Image(region, id)
				c.AddImage(img, slices.DeleteFunc(c.Shares(region, id), func(a string) bool {
					return slices.Contains(accounts, a)
				})...)
				return nil
			}
			if deleting {
				e.remove(nsA, "web")
			} else {
				e.update(nsA, "web", func(o *cvmv1alpha1.ImageShare) { o.Spec.ReplicaRegions = nil })
			}
			res, err := e.reconcile(unitImgA)
			if err != nil {
				t.Fatal(err)
			}
			got := e.expectReason(nsA, "web", cvmv1alpha1.ReasonInvalidAccounts)
			if !strings.Contains(unitReady(got), sh) || !strings.Contains(unitReady(got), "each resync") {
				t.Fatalf("the message does not name the copy's region and the retry: %s", unitReady(got))
			}
			if res.RequeueAfter < e.r.ResyncPeriod {
				t.Fatalf("requeued after %s: a refused copy cancel must wait for the resync", res.RequeueAfter)
			}
		})
	}
}

// TestUnitDeferredShareWaitsForResync: at the share limit, a share that
// waits for room a refused cancel would have freed is ShareLimitExceeded
// until the resync, not Progressing with a one-second poll.
func TestUnitDeferredShareWaitsForResync(t *testing.T) {
	const r7 = "200000000007"
	e := newUnitEnv(t) // share limit 5
	e.secret(nsA, "creds", unitOwnerID, unitOwnerKey)
	unitImage(e.owner(), unitImgA, unitConsole)
	e.create(unitIMS(nsA, "a", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR2, unitR4))
	e.create(unitIMS(nsA, "b", unitImgA, "creds", cvmv1alpha1.ModeMerge, unitR5, unitR6))
	e.mustReconcile(unitImgA, 1)
	expectStrings(t, "shares at the limit", e.owner().Shares(unitRegion, unitImgA),
		unitSorted(unitConsole, unitR2, unitR4, unitR5, unitR6))

	e.owner().AccountErrors = map[string]cloud.Reason{unitR4: cloud.ReasonAccountNotFound}
	e.update(nsA, "a", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR2} })
	e.update(nsA, "b", func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{unitR5, unitR6, r7} })
	res, err := e.reconcile(unitImgA)
	if err != nil {
		t.Fatal(err)
	}
	e.expectReason(nsA, "a", cvmv1alpha1.ReasonInvalidAccounts)
	e.expectReason(nsA, "b", cvmv1alpha1.ReasonShareLimitExceeded)
	if res.RequeueAfter < e.r.ResyncPeriod {
		t.Fatalf("requeued after %s: nothing can change before the resync", res.RequeueAfter)
	}
}
