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
	// The priority is set every time: the queue keeps an item's last one,
	// and a key once throttled must not outrank users' changes for ever.
	result.Priority = new(0)
	for _, m := range w.members {
		if m.v.slot {
			// A booked rate-limit slot waits for nobody: its retry goes
			// ahead of the initial list's backlog (which the priority queue
			// holds at low priority, and a requeue would otherwise keep),
			// or it is late, its call goes out with others, and the cloud
			// answers RequestLimitExceeded.
			result.Priority = new(int(slotPriority))
		}
	}
	taking := takers(w)
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
	writeErrs, handoverFailed := r.writeMembers(ctx, w, taking)
	if handoverFailed {
		requeue(coalesceDelay)
	}
	publishErrs := make([]error, len(w.members))
	// Publishing stays in order: two ImageShares naming one ConfigMap must
	// find it the same way every time (the oldest creates it, the other is
	// told it is taken), not race to create it.
	for i, m := range w.members {
		if writeErrs[i] == nil {
			publishErrs[i] = r.publish(ctx, m)
		}
	}
	for i, m := range w.members {
		if errors.Is(writeErrs[i], errVanished) {
			continue // its deletion is no error; a handover it spoiled is requeued above
		}
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
		return ctrl.Result{Priority: new(0)}, err
	}
	return result, nil
}

// takers marks the members that take over an account (or a copy) their
// status does not record, and sets w.handover when some other member gives
// one up in the same reconcile.
func takers(w *work) []bool {
	taking := make([]bool, len(w.members))
	giving := false
	for i, m := range w.members {
		taking[i] = !m.v.release && takesOver(m)
		giving = giving || !taking[i] && (m.v.release || givesUp(m))
	}
	w.handover = giving && slices.Contains(taking, true)
	return taking
}

// writeMembers writes every member. Each member's writes concern its own
// object: they go out side by side. A leaving member's managed accounts may
// just have been handed to a live one (nextManaged), so first the statuses
// that take accounts over, then the finalizers, only if those all landed
// (otherwise the release waits for the retry, as when a Secret lock failed),
// then every other status: a deletion is not held up by the status of every
// sibling on a hot image. handoverFailed tells the caller to come back.
func (r *ImageShareReconciler) writeMembers(ctx context.Context, w *work, taking []bool) (writeErrs []error,
	handoverFailed bool) {
	writeErrs = make([]error, len(w.members))
	write := func(pick func(i int, m *member) bool) {
		inParallel(len(w.members), func(i int) {
			if m := w.members[i]; pick(i, m) {
				r.rememberRejection(m)
				writeErrs[i] = r.writeMember(ctx, m)
			}
		})
	}
	write(func(i int, _ *member) bool { return taking[i] })
	if errors.Join(writeErrs...) != nil {
		// A claim was not handed over (a write failed, or the taker was
		// deleted before it held the finalizer): every giver keeps its own,
		// leaving or not, until the retry writes both sides.
		handoverFailed = true
		for i, m := range w.members {
			if m.v.release || !taking[i] && givesUp(m) {
				m.v = verdict{gone: true}
			}
		}
	}
	write(func(_ int, m *member) bool { return m.v.release })
	write(func(i int, m *member) bool { return !m.v.release && !taking[i] })
	return writeErrs, handoverFailed
}

// claims is what a member manages, by scope: "" for its own image, else
// the replica region of a copy.
type claims map[string][]string

// recordedClaims are m's managed accounts as its status last recorded them.
func recordedClaims(m *member) claims {
	return claimsOf(m.base.Status.ManagedAccountIDs, m.base.Status.Regions)
}

// decidedClaims are m's managed accounts as this reconcile leaves them.
func decidedClaims(m *member) claims {
	own, regions := m.base.Status.ManagedAccountIDs, m.base.Status.Regions
	if a := m.v.accounts; a != nil {
		own = a.managed
	}
	if m.v.regionsSet {
		regions = m.v.regions
	}
	return claimsOf(own, regions)
}

func claimsOf(own []string, regions []cvmv1alpha1.RegionStatus) claims {
	c := claims{"": own}
	for _, rs := range regions {
		c[rs.Region] = rs.ManagedAccountIDs
	}
	return c
}

// beyond reports whether a holds an account that b does not, in some scope.
func (a claims) beyond(b claims) bool {
	for scope, ids := range a {
		for _, id := range ids {
			if !slices.Contains(b[scope], id) {
				return true
			}
		}
	}
	return false
}

// takesOver reports whether this reconcile makes m manage an account (on its
// image or a copy) that its recorded status does not: a share it just made,
// or one handed over by a leaving member; or record a new copy, whose
// maintainer may be leaving.
func takesOver(m *member) bool {
	if m.v.regionsSet {
		for _, rs := range m.v.regions {
			i := slices.IndexFunc(m.base.Status.Regions, func(b cvmv1alpha1.RegionStatus) bool {
				return b.Region == rs.Region
			})
			if rs.ImageID != "" && (i < 0 || m.base.Status.Regions[i].ImageID != rs.ImageID) {
				return true
			}
		}
	}
	return decidedClaims(m).beyond(recordedClaims(m))
}

// givesUp reports whether this reconcile drops an account from what m's
// recorded status says it manages (on its image or a copy).
func givesUp(m *member) bool { return recordedClaims(m).beyond(decidedClaims(m)) }

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
