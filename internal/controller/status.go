package controller

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/planner"
)

// Condition types: the kstatus triad, so Argo CD, Flux and kubectl wait agree.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// Ready reasons of contract §3.
const (
	ReasonProgressing        = "Progressing"
	ReasonImageNotReady      = "ImageNotReady"
	ReasonThrottled          = "Throttled"
	ReasonCloudError         = "CloudError"
	ReasonShared             = "Shared"
	ReasonInSync             = "InSync"
	ReasonShareLimitExceeded = "ShareLimitExceeded"
	ReasonRegionMismatch     = "RegionMismatch"
	ReasonImageNotFound      = "ImageNotFound"
	ReasonImageNotShareable  = "ImageNotShareable"
	ReasonInvalidAccounts    = "InvalidAccounts"
	ReasonCredentialsMissing = "CredentialsMissing"
	ReasonCredentialsInvalid = "CredentialsInvalid"
	ReasonConflict           = "Conflict"
	ReasonDriftDetected      = "DriftDetected"
)

var sharedAccounts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "imageshare_shared_accounts",
	Help: "Accounts each ImageShare manages that the cloud confirms shared.",
}, []string{"namespace", "name"})

func init() { ctrlmetrics.Registry.MustRegister(sharedAccounts) }

func forgetMetrics(obj *cvmv1alpha1.ImageShare) {
	sharedAccounts.DeleteLabelValues(obj.Namespace, obj.Name)
}

// decide picks the Ready reason once the plan ran, most actionable first.
func (r *ImageShareReconciler) decide(obj *cvmv1alpha1.ImageShare, self planner.Member, plan planner.Plan,
	view planner.View, failed []cvmv1alpha1.FailedAccount, res execResult, before []string) outcome {
	id := obj.Spec.ImageID
	if winner, ok := plan.Conflicts[self.Key]; ok {
		msg := fmt.Sprintf("ImageShare %s already targets image %s and one of them is Exclusive: "+
			"an Exclusive ImageShare must be the only one of its image; delete one or switch it to Merge", winner, id)
		return r.stalledOutcome(ReasonConflict, msg)
	}
	if self.Mode == planner.Observe {
		if len(view.Missing) == 0 && len(view.Unmanaged) == 0 {
			o := outcome{ready: metav1.ConditionTrue, reason: ReasonInSync, requeueAfter: jitter(r.ResyncPeriod),
				message: fmt.Sprintf("Image %s is shared with exactly the %s", id, listedAccounts(len(view.Shared)))}
			return o
		}
		var parts []string
		if len(view.Missing) > 0 {
			parts = append(parts, "not shared: "+listIDs(view.Missing))
		}
		if len(view.Unmanaged) > 0 {
			parts = append(parts, "shared but not listed: "+listIDs(view.Unmanaged))
		}
		return r.stalledOutcome(ReasonDriftDetected, fmt.Sprintf(
			"Image %s differs from the spec (%s): Observe mode never changes the cloud; switch to Merge or "+
				"Exclusive to correct it", id, strings.Join(parts, "; ")))
	}
	var overLimit, invalid []string
	for _, f := range failed {
		if f.Reason == string(planner.ShareLimitExceeded) {
			overLimit = append(overLimit, f.AccountID)
		} else {
			invalid = append(invalid, fmt.Sprintf("%s (%s)", f.AccountID, f.Reason))
		}
	}
	if len(overLimit) > 0 {
		others := len(res.sharedAfter) - len(view.Shared)
		return r.stalledOutcome(ReasonShareLimitExceeded, fmt.Sprintf(
			"%d of %d listed accounts do not fit the image's share limit of %d (other accounts hold %d of "+
				"it): %s; remove accounts from spec.accountIds, cancel other shares, or raise --share-limit",
			len(overLimit), len(obj.Spec.AccountIDs), r.ShareLimit, others, listIDs(overLimit)))
	}
	if len(invalid) > 0 {
		return r.stalledOutcome(ReasonInvalidAccounts, fmt.Sprintf(
			"%d listed accounts cannot receive shares: %s; remove them from spec.accountIds or list root accounts",
			len(invalid), strings.Join(invalid, ", ")))
	}
	if len(view.Missing) > 0 {
		o := progressing(ReasonProgressing, fmt.Sprintf("Sharing image %s with %d more accounts", id,
			len(view.Missing)))
		o.requeueAfter = jitter(freshWindow)
		return o
	}
	if self.Mode == planner.Exclusive && len(view.Unmanaged) > 0 {
		o := progressing(ReasonProgressing, fmt.Sprintf("Cancelling %d shares not listed: %s",
			len(view.Unmanaged), listIDs(view.Unmanaged)))
		o.requeueAfter = jitter(freshWindow)
		return o
	}
	_ = before
	return outcome{ready: metav1.ConditionTrue, reason: ReasonShared, requeueAfter: jitter(r.ResyncPeriod),
		message: fmt.Sprintf("Image %s is shared with all %s", id, listedAccounts(len(obj.Spec.AccountIDs)))}
}

// listedAccounts says "3 listed accounts", or "1 listed account".
func listedAccounts(n int) string {
	if n == 1 {
		return "1 listed account"
	}
	return fmt.Sprintf("%d listed accounts", n)
}

// listIDs prints sorted IDs, at most ten, so messages stay readable and stable.
func listIDs(ids []string) string {
	s := slices.Sorted(slices.Values(ids))
	if len(s) > 10 {
		return strings.Join(s[:10], ", ") + fmt.Sprintf(" and %d more", len(s)-10)
	}
	return strings.Join(s, ", ")
}

// writeStatus is the only place that shapes status; Reconcile's deferred patch
// sends it.
func (r *ImageShareReconciler) writeStatus(obj, base *cvmv1alpha1.ImageShare, out outcome) {
	st := &obj.Status
	st.ObservedGeneration = obj.Generation
	if out.image != nil {
		st.ImageName, st.ImageState = out.image.Name, out.image.State
	}
	if !out.syncedAt.IsZero() {
		t := metav1.NewTime(out.syncedAt.Truncate(1e9))
		st.LastSyncTime = &t
	}
	if out.view != nil {
		st.SharedAccountIDs = out.view.Shared
		st.UnmanagedAccountIDs = out.view.Unmanaged
		st.MissingAccountIDs = out.view.Missing
		st.FailedAccounts = out.failed
		if len(st.FailedAccounts) == 0 {
			st.FailedAccounts = nil
		}
		sharedAccounts.WithLabelValues(obj.Namespace, obj.Name).Set(float64(len(out.view.Shared)))
	}
	if out.regionsSet {
		st.Regions = out.regions
	}
	listed := 0
	for _, a := range obj.Spec.AccountIDs {
		if slices.Contains(st.SharedAccountIDs, a) {
			listed++
		}
	}
	st.Accounts = fmt.Sprintf("%d/%d", listed, len(obj.Spec.AccountIDs))

	ready := metav1.Condition{Type: ConditionReady, Status: out.ready, Reason: out.reason, Message: out.message,
		ObservedGeneration: obj.Generation}
	if ready.Status == "" {
		ready.Status, ready.Reason, ready.Message = metav1.ConditionUnknown, ReasonProgressing, "Reconciling"
	}
	meta.SetStatusCondition(&st.Conditions, ready)
	switch {
	case ready.Status == metav1.ConditionTrue:
		meta.RemoveStatusCondition(&st.Conditions, ConditionReconciling)
		meta.RemoveStatusCondition(&st.Conditions, ConditionStalled)
	case out.stalled:
		meta.RemoveStatusCondition(&st.Conditions, ConditionReconciling)
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: ConditionStalled, Status: metav1.ConditionTrue,
			Reason: ready.Reason, Message: ready.Message, ObservedGeneration: obj.Generation})
	default:
		meta.RemoveStatusCondition(&st.Conditions, ConditionStalled)
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: ConditionReconciling,
			Status: metav1.ConditionTrue, Reason: ready.Reason, Message: ready.Message,
			ObservedGeneration: obj.Generation})
	}

	// An event when the object newly enters a problem, never on a no-op resync.
	prev := meta.FindStatusCondition(base.Status.Conditions, ConditionStalled)
	if out.stalled && (prev == nil || prev.Reason != ready.Reason || prev.Message != ready.Message) {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, ready.Reason, "Reconcile", "%s", ready.Message)
	}
}

// recordEvents tells each ImageShare what was done for its accounts.
func (r *ImageShareReconciler) recordEvents(objs []*cvmv1alpha1.ImageShare, res execResult) {
	for _, o := range objs {
		if o.Spec.Mode == cvmv1alpha1.ModeObserve {
			continue
		}
		mine := func(ids []string, managedToo bool) []string {
			var out []string
			for _, a := range ids {
				if slices.Contains(o.Spec.AccountIDs, a) || managedToo && slices.Contains(o.Status.SharedAccountIDs, a) ||
					managedToo && o.Spec.Mode == cvmv1alpha1.ModeExclusive {
					out = append(out, a)
				}
			}
			return out
		}
		if s := mine(res.shared, false); len(s) > 0 {
			r.Recorder.Eventf(o, nil, corev1.EventTypeNormal, "Shared", "Share", "Shared image %s with %s",
				o.Spec.ImageID, listIDs(s))
		}
		if c := mine(res.cancelled, true); len(c) > 0 {
			r.Recorder.Eventf(o, nil, corev1.EventTypeNormal, "Cancelled", "Cancel", "Cancelled shares of image %s with %s",
				o.Spec.ImageID, listIDs(c))
		}
		var failed []string
		for a, b := range res.newlyBad {
			if slices.Contains(o.Spec.AccountIDs, a) {
				failed = append(failed, fmt.Sprintf("%s (%s)", a, b.reason))
			}
		}
		if len(failed) > 0 {
			slices.Sort(failed)
			r.Recorder.Eventf(o, nil, corev1.EventTypeWarning, "ShareFailed", "Share", "Could not share image %s with %s",
				o.Spec.ImageID, strings.Join(failed, ", "))
		}
	}
}
