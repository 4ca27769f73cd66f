package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// reconcileGroup runs observe, plan, act and judge for the members of one
// identity on the image, then their copies. A frozen member took part only
// to protect what it lists: its own verdict stands, whatever the plan did,
// except that it manages what the plan handed over to it.
func (r *ImageShareReconciler) reconcileGroup(ctx context.Context, key imageKey, g *group) {
	r.reconcileWith(ctx, key, g)
	for _, m := range g.members {
		if m.frozen == nil {
			continue
		}
		planned := m.v
		m.v = *m.frozen
		if a := planned.accounts; a != nil && !slices.Equal(a.managed, m.obj.Status.ManagedAccountIDs) {
			kept := statusView(m.obj)
			kept.managed = a.managed
			m.v.accounts = &kept
		}
		// Its copies' entries are what their plans found, held like its image.
		m.v.regions, m.v.regionsSet = planned.regions, planned.regionsSet
	}
}

// reconcileWith plans the group's images with the group's current keys.
func (r *ImageShareReconciler) reconcileWith(ctx context.Context, key imageKey, g *group) {
	cl, err := r.Cloud.ClientFor(g.creds)
	if err != nil {
		for _, m := range g.members {
			m.v = r.stalled(cvmv1alpha1.ReasonCredentialsInvalid, fmt.Sprintf("Credentials are unusable: fix %s",
				credentialSource(m.obj)))
		}
		return
	}
	var direct []*member
	for _, m := range g.members {
		if m.copyOf == "" {
			direct = append(direct, m)
		}
	}
	if len(direct) > 0 {
		r.reconcileImage(ctx, cl, key, g, direct)
	}
	// ImageShares of a copy that no member of their identity maintains are
	// planned on their own image, as if it were not a copy.
	byImage := map[imageKey][]*member{}
	var keys []imageKey
	for _, m := range g.members {
		if m.copyOf != "" && !m.v.decided() {
			if maint := maintainerIn(g.members, m); maint != nil {
				// Its copy waits for the maintainer's source: planning it alone
				// would undo what the maintainer's plan does on the copy.
				m.v = progressing(cvmv1alpha1.ReasonProgressing, fmt.Sprintf(
					"Image %s is a copy ImageShare %s maintains, planned with it: %s", m.obj.Spec.ImageID,
					maint.name(), maint.v.message))
				m.v.requeueAfter = max(maint.v.requeueAfter, jitter(busyImageRetry))
				continue
			}
			if _, ok := byImage[keyOf(m.obj)]; !ok {
				keys = append(keys, keyOf(m.obj))
			}
			byImage[keyOf(m.obj)] = append(byImage[keyOf(m.obj)], m)
		}
	}
	for _, k := range keys {
		ms := byImage[k]
		r.reconcileImage(ctx, cl, k, &group{identity: g.identity, creds: g.creds, members: ms, made: g.made}, ms)
	}
}

// reconcileImage observes, plans, acts and judges the direct members of one
// image, then their copies.
func (r *ImageShareReconciler) reconcileImage(ctx context.Context, cl cloud.Client, key imageKey, g *group,
	direct []*member) {
	if allSettled(direct) {
		// Re-checking settled objects yields the rate budget to work pending.
		ctx = cloud.WithLowPriority(ctx)
	}
	now := r.now()
	obs, stop := r.observe(ctx, cl, key, g, direct, now)
	if stop != nil {
		for m, v := range stop {
			m.v = v
		}
		return
	}
	seats := make([]*seat, 0, len(direct))
	for _, m := range direct {
		seats = append(seats, r.ownSeat(m, now))
	}
	res, err := r.planImage(ctx, cl, key, seats, obs.shares)
	if err != nil {
		for _, m := range direct {
			m.v = r.recordFailed(m, err)
		}
		return
	}
	synced := obs.fetched
	if res.changed() {
		synced = now
	}
	for _, s := range seats {
		s.m.v = r.sourceVerdict(s, key, obs, res, synced)
	}
	// A frozen member makes no copy, but holds a seat on the copies that
	// exist, as on its own image.
	r.syncCopies(ctx, cl, key, g, direct, now)
}

// sourceVerdict judges one member on its own image.
func (r *ImageShareReconciler) sourceVerdict(s *seat, key imageKey, obs *observation, res *actResult,
	synced time.Time) verdict {
	m := s.m
	info := obs.image
	view := s.view
	var v verdict
	switch {
	case m.deleting():
		m.del = deleteState{planned: true, view: view, err: res.err}
		v = r.reconcileDelete(m, m.del)
		if v.release {
			return v
		}
	case res.err != nil && cloud.IsTerminal(res.err):
		v = r.failure(m, key, res.err)
	default:
		v = r.judgeSeat(s, key.ImageID, res)
		// A call that failed for a retryable reason leaves work pending: that,
		// not a stalled verdict on what was done, decides (or nothing retries
		// it before the resync). Conflict and Observe have no work of their own.
		if res.err != nil && v.reason != cvmv1alpha1.ReasonConflict && !m.observe() {
			v = r.failure(m, key, res.err)
		}
	}
	if v.ready == metav1.ConditionTrue && expired(m.obj, r.now()) {
		v.reason = cvmv1alpha1.ReasonExpired
		v.message = fmt.Sprintf("Expired at %s: this object no longer shares image %s, as spec.expiresAt asks; "+
			"move expiresAt into the future to share again", m.obj.Spec.ExpiresAt.UTC().Format(time.RFC3339), key.ImageID)
	}
	v.image, v.syncedAt, v.accounts = &info, synced, &view
	return v
}

func allSettled(members []*member) bool {
	return !slices.ContainsFunc(members, func(m *member) bool { return m.deleting() || !settled(m.obj) })
}

// recordFailed is the verdict when the write-ahead record of a SHARE could
// not be made: nothing was shared.
func (r *ImageShareReconciler) recordFailed(m *member, err error) verdict {
	if errors.Is(err, errSecretGoing) {
		v := r.stalled(cvmv1alpha1.ReasonCredentialsMissing, fmt.Sprintf(
			"%s is being deleted: no new share is made with keys that could not cancel it later; restore the "+
				"Secret or delete this ImageShare", credentialSource(m.obj)))
		v.requeueAfter = jitter(credentialsRetry)
		return v
	}
	v := progressing(cvmv1alpha1.ReasonProgressing, "Recording the accounts about to be shared failed: retrying")
	v.err = err
	return v
}

// maintainerIn returns the member that maintains m's image as a copy, if it
// is among members.
func maintainerIn(members []*member, m *member) *member {
	for _, o := range members {
		if st := regionStatus(o.obj, m.copyOf); o != m && st != nil && st.ImageID == m.obj.Spec.ImageID {
			return o
		}
	}
	return nil
}
