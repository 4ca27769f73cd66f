package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// writeMember sends what the reconcile decided about m: the status patch
// (only when it changed), the write-ahead record cleared once the status holds
// its outcome, and the finalizer released.
// errVanished: the object was deleted and gone before its status was
// written. Nothing is left to write for it, but an account it was to take
// over was not taken: the handover is retried.
var errVanished = errors.New("deleted before its status was written")

func (r *ImageShareReconciler) writeMember(ctx context.Context, m *member) error {
	if m.v.gone {
		return nil
	}
	if m.v.release {
		base := m.obj.DeepCopy()
		controllerutil.RemoveFinalizer(m.obj, Finalizer)
		if err := r.Patch(ctx, m.obj, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("remove finalizer from %s: %w", m.name(), err)
		}
		return nil
	}
	if m.v.reason == cvmv1alpha1.ReasonThrottled && !takesOver(m) && !setsAside(m) &&
		(settled(m.base) || neverReported(m.base)) {
		// Waiting for a rate-limit slot says nothing new about a settled
		// object (unless it just took accounts over, or the cloud refused
		// accounts the next pass must skip): keep its status, so
		// Ready stays Ready across a manager restart instead of flickering
		// for every GitOps tool. A new object is not written either (no
		// finalizer, no status) until its slot comes: on a cold start of
		// thousands of objects those writes would take the API server's
		// time from the reconciles whose slots are due.
		return nil
	}
	if m.needsFinalizer && !m.deleting() {
		if err := r.addFinalizer(ctx, m); err != nil {
			return err
		}
		if m.v.gone {
			return errVanished
		}
	}
	if m.resolved {
		m.v.list, m.v.listSet = m.list, true
	}
	r.writeStatus(m.obj, m.base, m.v)
	r.keepRecentSyncTime(m)
	if !equality.Semantic.DeepEqual(m.base.Status, m.obj.Status) {
		if err := r.Status().Patch(ctx, m.obj, client.MergeFrom(m.base)); err != nil {
			if apierrors.IsNotFound(err) {
				return errVanished
			}
			return fmt.Errorf("patch status of %s: %w", m.name(), err)
		}
	}
	if m.v.accounts != nil && m.v.err == nil && !m.v.keepPending {
		return client.IgnoreNotFound(r.clearPending(ctx, m))
	}
	return nil
}

// keepRecentSyncTime keeps m's lastSyncTime when it is the only change and
// the recorded one is recent (a tenth of the read period): a read made for a
// sibling (a deletion, a new object on a hot image) would otherwise cost a
// status patch for every ImageShare of the image, and the next resync or any
// real change moves it anyway.
func (r *ImageShareReconciler) keepRecentSyncTime(m *member) {
	prev, next := m.base.Status.LastSyncTime, m.obj.Status.LastSyncTime
	if prev == nil || next == nil || next.Sub(prev.Time) >= r.readMaxAge()/10 {
		return
	}
	m.obj.Status.LastSyncTime = prev
	if !equality.Semantic.DeepEqual(m.base.Status, m.obj.Status) {
		m.obj.Status.LastSyncTime = next // something else changed: the patch carries the new time
	}
}

// writeStatus is the only place that shapes status.
func (r *ImageShareReconciler) writeStatus(obj, base *cvmv1alpha1.ImageShare, v verdict) {
	st := &obj.Status
	st.ObservedGeneration = obj.Generation
	if v.image != nil {
		st.ImageName, st.ImageState = v.image.Name, v.image.State
	}
	if !v.syncedAt.IsZero() {
		t := metav1.NewTime(v.syncedAt.Truncate(1e9))
		st.LastSyncTime = &t
	}
	if a := v.accounts; a != nil {
		st.SharedAccountIDs, st.ManagedAccountIDs = nilIfEmpty(a.shared), nilIfEmpty(a.managed)
		st.UnmanagedAccountIDs, st.MissingAccountIDs = nilIfEmpty(a.unmanaged), nilIfEmpty(a.missing)
		st.FailedAccounts = a.failed
		if len(st.FailedAccounts) == 0 {
			st.FailedAccounts = nil
		}
	}
	if v.regionsSet {
		st.Regions = nil
		for _, rs := range v.regions {
			rs.SharedAccountIDs, rs.ManagedAccountIDs = nilIfEmpty(rs.SharedAccountIDs), nilIfEmpty(rs.ManagedAccountIDs)
			if len(rs.FailedAccounts) == 0 {
				rs.FailedAccounts = nil
			}
			st.Regions = append(st.Regions, rs)
		}
	}
	st.SecretInUse = v.secretInUse
	st.ExpiresAt = obj.Spec.ExpiresAt
	if v.image != nil {
		// This reconcile read the cloud (afresh when asked): the request is handled.
		st.LastHandledReconcileAt = obj.Annotations[ReconcileRequestedAnnotation]
	}
	list := obj.Spec.AccountIDs
	if v.listSet {
		list = v.list
		st.ListedAccounts = int32(len(v.list))
	}
	listed := 0
	for _, a := range list {
		if slices.Contains(st.SharedAccountIDs, a) {
			listed++
		}
	}
	st.Accounts = fmt.Sprintf("%d/%d", listed, len(list))

	ready := metav1.Condition{Type: cvmv1alpha1.ConditionReady, Status: v.ready, Reason: v.reason,
		Message: v.message, ObservedGeneration: obj.Generation}
	if ready.Status == "" || ready.Reason == "" {
		ready.Status, ready.Reason, ready.Message = metav1.ConditionUnknown, cvmv1alpha1.ReasonProgressing, "Reconciling"
	}
	meta.SetStatusCondition(&st.Conditions, ready)
	switch {
	case ready.Status == metav1.ConditionTrue:
		meta.RemoveStatusCondition(&st.Conditions, cvmv1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(&st.Conditions, cvmv1alpha1.ConditionStalled)
	case v.stalled:
		meta.RemoveStatusCondition(&st.Conditions, cvmv1alpha1.ConditionReconciling)
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: cvmv1alpha1.ConditionStalled,
			Status: metav1.ConditionTrue, Reason: ready.Reason, Message: ready.Message,
			ObservedGeneration: obj.Generation})
	default:
		meta.RemoveStatusCondition(&st.Conditions, cvmv1alpha1.ConditionStalled)
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: cvmv1alpha1.ConditionReconciling,
			Status: metav1.ConditionTrue, Reason: ready.Reason, Message: ready.Message,
			ObservedGeneration: obj.Generation})
	}

	// An event when the object newly enters a problem, never on a no-op resync.
	prev := meta.FindStatusCondition(base.Status.Conditions, cvmv1alpha1.ConditionStalled)
	if v.stalled && (prev == nil || prev.Reason != ready.Reason || prev.Message != ready.Message) {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, ready.Reason, "Reconcile", "%s", ready.Message)
	}
}

// neverReported: the controller has written no condition on obj yet.
func neverReported(obj *cvmv1alpha1.ImageShare) bool { return len(obj.Status.Conditions) == 0 }

// settled reports whether obj's last status was final for its generation:
// Ready, or Stalled on something only a person can fix.
func settled(obj *cvmv1alpha1.ImageShare) bool {
	for _, t := range []string{cvmv1alpha1.ConditionReady, cvmv1alpha1.ConditionStalled} {
		c := meta.FindStatusCondition(obj.Status.Conditions, t)
		if c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.Generation {
			return true
		}
	}
	return false
}

// recordEvents tells one ImageShare what was done for it on one image.
func (r *ImageShareReconciler) recordEvents(s *seat, target imageKey, res *actResult) {
	o := s.m.obj
	var shared, cancelled, failed []string
	for _, a := range res.shared {
		if slices.Contains(s.listed, a) {
			shared = append(shared, a)
		}
	}
	for _, a := range res.cancelled {
		if slices.Contains(s.managed, a) || s.m.exclusive() && !s.leaving {
			cancelled = append(cancelled, a)
		}
	}
	for a, f := range res.failed {
		if slices.Contains(s.listed, a) || slices.Contains(s.managed, a) {
			failed = append(failed, fmt.Sprintf("%s (%s)", a, f.Reason))
		}
	}
	if len(shared) > 0 {
		r.Recorder.Eventf(o, nil, corev1.EventTypeNormal, "Shared", "Share", "Shared image %s with %s",
			target.ImageID, listIDs(shared))
	}
	if len(cancelled) > 0 {
		r.Recorder.Eventf(o, nil, corev1.EventTypeNormal, "Cancelled", "Cancel",
			"Cancelled shares of image %s with %s", target.ImageID, listIDs(cancelled))
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		r.Recorder.Eventf(o, nil, corev1.EventTypeWarning, "ShareFailed", "Share",
			"Could not change the shares of image %s for %s", target.ImageID, listIDs(failed))
	}
}

// nilIfEmpty keeps an empty list nil, as a decoded status has it, so an
// unchanged status compares equal and is not patched again.
func nilIfEmpty(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	return xs
}

// setsAside reports whether this reconcile found accounts the cloud refused
// that m's status does not list yet (on its image or a copy). They are
// written even while the rest waits for a rate-limit slot: otherwise the
// next pass would spend its calls on them again.
func setsAside(m *member) bool {
	newIn := func(now, before []cvmv1alpha1.FailedAccount) bool {
		return slices.ContainsFunc(now, func(f cvmv1alpha1.FailedAccount) bool {
			return !retryableReason(f.Reason) &&
				!slices.ContainsFunc(before, func(b cvmv1alpha1.FailedAccount) bool { return b.AccountID == f.AccountID })
		})
	}
	if a := m.v.accounts; a != nil && newIn(a.failed, failedOf(m.base, "")) {
		return true
	}
	if !m.v.regionsSet {
		return false
	}
	return slices.ContainsFunc(m.v.regions, func(rs cvmv1alpha1.RegionStatus) bool {
		return newIn(rs.FailedAccounts, failedOf(m.base, rs.Region))
	})
}
