package controller

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

func testReconciler() *ImageShareReconciler {
	return &ImageShareReconciler{Options: Options{ShareLimit: 5, ResyncPeriod: time.Minute}}
}

func testMember(name string, mode cvmv1alpha1.Mode, accounts ...string) *member {
	o := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: cvmv1alpha1.ImageShareSpec{ImageID: "img-aaaa0001", Region: "ap-guangzhou", Mode: mode,
			AccountIDs: accounts}}
	return &member{obj: o, base: o.DeepCopy()}
}

// TestJudge covers every Ready reason the pure verdict can give once a plan ran.
func TestJudge(t *testing.T) {
	r := testReconciler()
	cases := []struct {
		name    string
		in      judgeInput
		ready   metav1.ConditionStatus
		reason  string
		stalled bool
		say     string
	}{
		{"all shared", judgeInput{mode: cvmv1alpha1.ModeMerge, listed: ids(2),
			view: accountView{shared: []string{"10001", "10002"}}},
			metav1.ConditionTrue, cvmv1alpha1.ReasonShared, false, "all 2 listed accounts"},
		{"conflict wins over everything", judgeInput{mode: cvmv1alpha1.ModeMerge, conflict: "ns/owner",
			view: accountView{missing: []string{"10001"}}},
			metav1.ConditionFalse, cvmv1alpha1.ReasonConflict, true, "ImageShare ns/owner"},
		{"observe in sync", judgeInput{mode: cvmv1alpha1.ModeObserve, view: accountView{shared: []string{"10001"}}},
			metav1.ConditionTrue, cvmv1alpha1.ReasonInSync, false, "exactly the 1 listed account"},
		{"observe drift", judgeInput{mode: cvmv1alpha1.ModeObserve,
			view: accountView{missing: []string{"10002"}, unmanaged: []string{"10009"}}},
			metav1.ConditionFalse, cvmv1alpha1.ReasonDriftDetected, true, "not shared: 10002; shared but not listed: 10009"},
		{"over the limit", judgeInput{mode: cvmv1alpha1.ModeMerge, listed: ids(3), limit: 2, othersHold: 1,
			view: accountView{failed: []cvmv1alpha1.FailedAccount{
				{AccountID: "10003", Reason: cvmv1alpha1.AccountReasonShareLimitExceeded}}}},
			metav1.ConditionFalse, cvmv1alpha1.ReasonShareLimitExceeded, true, "1 of 3 listed accounts"},
		{"bad account", judgeInput{mode: cvmv1alpha1.ModeMerge, listed: ids(2),
			view: accountView{failed: []cvmv1alpha1.FailedAccount{
				{AccountID: "10002", Reason: cvmv1alpha1.AccountReasonNotFound}}}},
			metav1.ConditionFalse, cvmv1alpha1.ReasonInvalidAccounts, true, "1 listed accounts cannot receive shares: 10002 (AccountNotFound)"},
		{"a cancel refused for one account", judgeInput{mode: cvmv1alpha1.ModeMerge, listed: ids(1),
			view: accountView{cancelOwed: []string{"10004"}, failed: []cvmv1alpha1.FailedAccount{
				{AccountID: "10004", Reason: cvmv1alpha1.AccountReasonNotRoot}}}},
			metav1.ConditionFalse, cvmv1alpha1.ReasonInvalidAccounts, true, "The cloud refused to cancel the shares of 10004 (NotRootAccount)"},
		{"a retryable failure does not stall", judgeInput{mode: cvmv1alpha1.ModeMerge, listed: ids(1),
			view: accountView{cancelOwed: []string{"10004"}, failed: []cvmv1alpha1.FailedAccount{
				{AccountID: "10004", Reason: string(cloud.ReasonCloudError)}}}},
			metav1.ConditionFalse, cvmv1alpha1.ReasonProgressing, false, "Cancelling shares no longer listed: 10004"},
		{"missing", judgeInput{mode: cvmv1alpha1.ModeMerge, listed: ids(2), view: accountView{missing: []string{"10002"}}},
			metav1.ConditionFalse, cvmv1alpha1.ReasonProgressing, false, "1 more accounts"},
		{"exclusive cancelling", judgeInput{mode: cvmv1alpha1.ModeExclusive, listed: ids(1),
			view: accountView{unmanaged: []string{"10009"}}},
			metav1.ConditionFalse, cvmv1alpha1.ReasonProgressing, false, "Cancelling 1 shares not listed: 10009"},
		{"merge leaves unmanaged alone", judgeInput{mode: cvmv1alpha1.ModeMerge, listed: ids(1),
			view: accountView{shared: []string{"10001"}, unmanaged: []string{"10009"}}},
			metav1.ConditionTrue, cvmv1alpha1.ReasonShared, false, "all 1 listed account"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.in.imageID = "img-aaaa0001"
			v := r.judge(c.in)
			if v.ready != c.ready || v.reason != c.reason || v.stalled != c.stalled {
				t.Fatalf("got %s/%s stalled=%v, want %s/%s stalled=%v (%s)", v.ready, v.reason, v.stalled,
					c.ready, c.reason, c.stalled, v.message)
			}
			if !strings.Contains(v.message, c.say) {
				t.Fatalf("message %q does not say %q", v.message, c.say)
			}
			if strings.HasSuffix(v.message, ".") || v.message[:1] != strings.ToUpper(v.message[:1]) {
				t.Fatalf("message %q is not capitalised without a trailing period", v.message)
			}
		})
	}
}

// TestFailure covers the Ready reasons a failed call gives.
func TestFailure(t *testing.T) {
	r := testReconciler()
	m := testMember("a", cvmv1alpha1.ModeMerge)
	key := keyOf(m.obj)
	cases := []struct {
		reason  cloud.Reason
		want    string
		stalled bool
		retried bool
	}{
		{cloud.ReasonThrottled, cvmv1alpha1.ReasonThrottled, false, false},
		{cloud.ReasonImageNotReady, cvmv1alpha1.ReasonImageNotReady, false, false},
		{cloud.ReasonCredentialsInvalid, cvmv1alpha1.ReasonCredentialsInvalid, true, false},
		{cloud.ReasonPermissionDenied, cvmv1alpha1.ReasonPermissionDenied, true, false},
		{cloud.ReasonRegionMismatch, cvmv1alpha1.ReasonRegionMismatch, true, false},
		{cloud.ReasonImageNotFound, cvmv1alpha1.ReasonImageNotFound, true, false},
		{cloud.ReasonImageNotShareable, cvmv1alpha1.ReasonImageNotShareable, true, false},
		{cloud.ReasonCloudError, cvmv1alpha1.ReasonCloudError, false, true},
	}
	for _, c := range cases {
		t.Run(string(c.reason), func(t *testing.T) {
			err := &cloud.Error{Op: "ModifyImageSharePermission", Code: "Some.Code", Reason: c.reason}
			v := r.failure(m, key, err)
			if v.reason != c.want || v.stalled != c.stalled || (v.err != nil) != c.retried || v.requeueAfter == 0 &&
				!c.retried {
				t.Fatalf("got %s stalled=%v err=%v requeue=%v", v.reason, v.stalled, v.err, v.requeueAfter)
			}
		})
	}
	v := r.failure(m, key, &cloud.Error{Op: "ModifyImageSharePermission", Code: "AuthFailure.UnauthorizedOperation",
		Reason: cloud.ReasonPermissionDenied})
	if !strings.Contains(v.message, "cvm:ModifyImageSharePermission") || strings.Contains(v.message, "fix the Secret") {
		t.Fatalf("PermissionDenied must name the action and the policy, not blame the keys: %q", v.message)
	}
	if v := r.failure(m, key, errors.New("connection reset")); v.reason != cvmv1alpha1.ReasonCloudError || v.err == nil {
		t.Fatalf("an unclassified error must be retried as CloudError, got %s", v.reason)
	}
}

// ids are n listed accounts 10001, 10002, ...
func ids(n int) []string {
	out := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("1000%d", i))
	}
	return out
}
