package controller

import (
	"fmt"
	"slices"
	"strings"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// deleteState is what one reconcile learnt about a deleting ImageShare's hold
// on the cloud. The stages of a reconcile fill it; reconcileDelete judges it.
type deleteState struct {
	// gone: the image no longer exists in its region (or never did, or is
	// failed), and its shares went with it.
	gone bool
	// planned: the plan ran on the image; view and err are its outcome.
	planned bool
	view    accountView
	err     error
	// regions are the member's copies after this reconcile; nil when they were
	// not looked at yet (its status stands for them).
	regions *regionSummary
}

// reconcileDelete decides a deleting ImageShare, the one place that does. It
// is released once nothing it manages is left in the cloud: at once when it
// manages nothing (Observe, Orphan, no managed or pending share, no copy),
// credentials or not, so deleting a namespace never hangs; when its image is
// gone; or once its cancels and copies are done. Otherwise the verdict says
// what it still waits for. A zero verdict means the cloud must be asked first.
func (r *ImageShareReconciler) reconcileDelete(m *member, st deleteState) verdict {
	switch {
	case m.observe() || m.orphans() || !managesCloud(m.obj) || st.gone:
		return verdict{release: true}
	case !st.planned:
		return verdict{}
	case len(st.view.managed) > 0 && st.err != nil:
		v := r.failure(m, keyOf(m.obj), st.err)
		v.keepPending = true
		return v
	case len(st.view.managed) > 0:
		return r.cancelsOwed(st.view)
	}
	holdsCopies := hasCopies(m.obj)
	if st.regions != nil {
		holdsCopies = len(st.regions.entries) > 0
	}
	if !holdsCopies {
		return verdict{release: true}
	}
	if st.regions != nil && len(st.regions.pending) == 0 && len(st.regions.stalled) > 0 && st.regions.err == nil {
		// Only refused cancels are left on the copies: wait for the resync, do not poll.
		return r.stalled(cvmv1alpha1.ReasonInvalidAccounts, fmt.Sprintf(
			"Copies not cleaned up before deletion: %s; retried at each resync: cancel them in the console, or "+
				"set deletionPolicy to Orphan to leave them", strings.Join(st.regions.stalled, "; ")))
	}
	v := progressing(cvmv1alpha1.ReasonProgressing, msgCleaningCopies)
	if st.regions != nil && len(st.regions.pending) > 0 {
		v.message = fmt.Sprintf("%s: %s", msgCleaningCopies, strings.Join(st.regions.pending, "; "))
	}
	v.requeueAfter = jitter(busyImageRetry / 2)
	if st.regions != nil && st.regions.err != nil {
		f := r.failure(m, keyOf(m.obj), st.regions.err)
		v.err, v.keepPending = f.err, true
		if f.requeueAfter > 0 {
			v.requeueAfter = f.requeueAfter
		}
	}
	return v
}

// refusedCancels are the managed accounts whose CANCEL the cloud refused for
// the account itself, as "account (reason)", sorted.
func refusedCancels(view accountView) []string {
	var refused []string
	for _, f := range view.failed {
		if slices.Contains(view.managed, f.AccountID) && !retryableReason(f.Reason) {
			refused = append(refused, fmt.Sprintf("%s (%s)", f.AccountID, f.Reason))
		}
	}
	slices.Sort(refused)
	return refused
}

// cancelsOwed is the verdict of a deleting member whose managed shares are
// not all cancelled yet. Cancels the cloud refused for the account itself are
// retried at each resync, not polled: the object is Stalled on them, and a
// person can cancel them by hand or switch deletionPolicy to Orphan.
func (r *ImageShareReconciler) cancelsOwed(view accountView) verdict {
	if refused := refusedCancels(view); len(refused) == len(view.managed) {
		return r.stalled(cvmv1alpha1.ReasonInvalidAccounts, fmt.Sprintf(
			"The cloud refused to cancel the shares of %s before deletion; the cancel is retried at each resync: "+
				"cancel them in the console, or set deletionPolicy to Orphan to leave them",
			strings.Join(refused, ", ")))
	}
	v := progressing(cvmv1alpha1.ReasonProgressing, fmt.Sprintf("Cancelling shares before deletion: %s",
		listIDs(view.managed)))
	v.requeueAfter = jitter(busyImageRetry / 10)
	return v
}
