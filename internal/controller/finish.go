package controller

import (
	"context"
	"errors"
	"slices"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// finish writes each member's status (one patch, only if it changed),
// releases finalizers, and keeps the Secrets' in-use finalizers in step.
func (r *ImageShareReconciler) finish(ctx context.Context, w *work) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	var errs []error
	result := ctrl.Result{}
	requeue := func(d time.Duration) {
		if d > 0 && (result.RequeueAfter == 0 || d < result.RequeueAfter) {
			result.RequeueAfter = d
		}
	}
	// The Secrets first: a finalizer is released only once the keys it may
	// still need are no longer held for it (or held by a retry).
	if err := r.syncSecretLocks(ctx, w); err != nil {
		errs = append(errs, err)
		for _, m := range w.members {
			if m.v.release {
				m.v = verdict{gone: true} // released by the retry, after the Secret
			}
		}
	}
	// Each member's writes concern its own object: they go out side by side.
	// A leaving member's managed accounts may just have been handed to a live
	// one (nextManaged), so first the statuses that take accounts over, then
	// the finalizers, only if those all landed (otherwise the release waits
	// for the retry, as when a Secret lock failed), then every other status:
	// a deletion is not held up by the status of every sibling on a hot image.
	writeErrs, publishErrs := make([]error, len(w.members)), make([]error, len(w.members))
	write := func(pick func(*member) bool) {
		inParallel(len(w.members), func(i int) {
			if m := w.members[i]; pick(m) {
				r.rememberRejection(m)
				writeErrs[i] = r.writeMember(ctx, m)
			}
		})
	}
	write(func(m *member) bool { return !m.v.release && takesOver(m) })
	if errors.Join(writeErrs...) != nil {
		// A claim was not handed over: every giver keeps its own, leaving
		// or not, until the retry writes both sides.
		for _, m := range w.members {
			if m.v.release || !takesOver(m) && givesUp(m) {
				m.v = verdict{gone: true}
			}
		}
	}
	write(func(m *member) bool { return m.v.release })
	write(func(m *member) bool { return !m.v.release && !takesOver(m) })
	// Publishing stays in order: two ImageShares naming one ConfigMap must
	// find it the same way every time (the oldest creates it, the other is
	// told it is taken), not race to create it.
	for i, m := range w.members {
		if writeErrs[i] == nil {
			publishErrs[i] = r.publish(ctx, m)
		}
	}
	for i, m := range w.members {
		if writeErrs[i] != nil {
			errs = append(errs, writeErrs[i])
			continue
		}
		if publishErrs[i] != nil {
			errs = append(errs, publishErrs[i])
		}
		if m.v.release {
			log.Info("Released ImageShare", "imageShare", client.ObjectKeyFromObject(m.obj),
				"policy", m.obj.Spec.DeletionPolicy)
			continue
		}
		if m.v.err != nil {
			log.Info("Reconcile did not finish, will retry", "imageShare", client.ObjectKeyFromObject(m.obj),
				"reason", m.v.reason, "error", m.v.err.Error())
			errs = append(errs, m.v.err)
		}
		requeue(m.v.requeueAfter)
		if t := m.obj.Spec.ExpiresAt; t != nil && r.now().Before(t.Time) {
			requeue(t.Sub(r.now()) + 100*time.Millisecond) // expire on time, not at the next resync
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ctrl.Result{}, err
	}
	return result, nil
}

// takesOver reports whether this reconcile makes m manage an account (on its
// image or a copy) that its recorded status does not: a share it just made,
// or one handed over by a leaving member.
func takesOver(m *member) bool {
	if a := m.v.accounts; a != nil {
		for _, id := range a.managed {
			if !slices.Contains(m.base.Status.ManagedAccountIDs, id) {
				return true
			}
		}
	}
	if !m.v.regionsSet {
		return false
	}
	for _, rs := range m.v.regions {
		i := slices.IndexFunc(m.base.Status.Regions, func(b cvmv1alpha1.RegionStatus) bool { return b.Region == rs.Region })
		if rs.ImageID != "" && (i < 0 || m.base.Status.Regions[i].ImageID != rs.ImageID) {
			return true // a copy newly recorded: its maintainer may be leaving
		}
		for _, id := range rs.ManagedAccountIDs {
			if i < 0 || !slices.Contains(m.base.Status.Regions[i].ManagedAccountIDs, id) {
				return true
			}
		}
	}
	return false
}

// givesUp reports whether this reconcile drops an account from what m's
// recorded status says it manages (on its image or a copy).
func givesUp(m *member) bool {
	if a := m.v.accounts; a != nil {
		for _, id := range m.base.Status.ManagedAccountIDs {
			if !slices.Contains(a.managed, id) {
				return true
			}
		}
	}
	if !m.v.regionsSet {
		return false
	}
	for _, b := range m.base.Status.Regions {
		i := slices.IndexFunc(m.v.regions, func(rs cvmv1alpha1.RegionStatus) bool { return rs.Region == b.Region })
		for _, id := range b.ManagedAccountIDs {
			if i < 0 || !slices.Contains(m.v.regions[i].ManagedAccountIDs, id) {
				return true
			}
		}
	}
	return false
}

// rememberRejection records keys the cloud just rejected for m, and forgets
// them once m is released or its keys work.
func (r *ImageShareReconciler) rememberRejection(m *member) {
	switch {
	case m.v.release || m.v.gone:
		r.rejected.forget(m.obj.UID)
	case m.v.reason == cvmv1alpha1.ReasonCredentialsInvalid && m.identity != "":
		r.rejected.put(m.obj, m.creds, m.v.message, r.now())
	case m.identity != "":
		r.rejected.forget(m.obj.UID)
	}
}
