package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// syncCopy reads one region's copy and plans its shares for every member
// concerned, filling c.entries.
func (r *ImageShareReconciler) syncCopy(ctx context.Context, cl cloud.Client, g *group, direct []*member,
	c *copyRegion, now time.Time) {
	concerned := slices.DeleteFunc(slices.Clone(direct), func(m *member) bool {
		return !wantsRegion(m, c.region) && regionStatus(m.obj, c.region) == nil
	})
	img, ok := r.readCopy(ctx, cl, g, c, concerned, direct, now)
	if !ok {
		r.copyNotPlanned(g, c)
		return
	}
	copyKey := imageKey{Region: c.region, ImageID: c.copyID}
	seats := r.copySeats(g, concerned, c, now)
	members := make([]*member, 0, len(seats))
	for _, s := range seats {
		members = append(members, s.m)
	}
	shares, _, err := r.shareList(ctx, cl, copyKey, g.identity, members, now)
	if err != nil {
		c.setAll(c.holding(concerned, direct), fmt.Sprintf("Reading the shares of copy %s in %s failed: retrying", c.copyID, c.region),
			"", err)
		return
	}
	res, err := r.planImage(ctx, cl, copyKey, seats, shares)
	if err != nil {
		for _, m := range concerned {
			v := r.recordFailed(m, err)
			reason := ""
			if v.stalled {
				reason = v.reason
			}
			c.setAll([]*member{m}, v.message, reason, nil)
		}
		if !errors.Is(err, errSecretGoing) {
			c.err = err
		}
		return
	}
	for _, s := range seats {
		if s.scope == "" {
			s.m.v = r.sourceVerdict(s, copyKey, &observation{image: img, shares: shares, fetched: now}, res, now)
			continue
		}
		c.entries[s.m] = r.regionEntry(ctx, cl, s, c, res, direct)
	}
	if res.err != nil {
		c.err = res.err
	}
	// An ImageShare of the copy may copy it further: its own replica regions
	// go through the same path, from the copy.
	for _, s := range seats {
		if s.scope == "" && !s.m.v.release && s.m.frozen == nil &&
			(len(s.m.obj.Spec.ReplicaRegions) > 0 || hasCopies(s.m.obj)) {
			r.syncCopies(ctx, cl, copyKey, g, []*member{s.m}, now)
		}
	}
}

// holding finishes the region for the concerned members that left it holding
// nothing there (and not deleting the copy), and returns the others. Until
// the copy can be planned, such a member never waits for a busy, invisible
// or failed copy, or for another member's retry.
func (c *copyRegion) holding(concerned, direct []*member) []*member {
	return slices.DeleteFunc(slices.Clone(concerned), func(m *member) bool {
		if doneWithRegion(m, c, direct) {
			c.entries[m] = nil
			return true
		}
		return false
	})
}

// setAll gives every concerned member the same entry for the region.
func (c *copyRegion) setAll(concerned []*member, msg, reason string, err error) {
	for _, m := range concerned {
		st := &cvmv1alpha1.RegionStatus{Region: c.region, ImageID: c.copyID, State: c.state, Message: msg,
			Reason: reason}
		if prev := regionStatus(m.obj, c.region); prev != nil && prev.ImageID == c.copyID && c.copyID != "" {
			st.SharedAccountIDs, st.ManagedAccountIDs = prev.SharedAccountIDs, prev.ManagedAccountIDs
			st.FailedAccounts = prev.FailedAccounts
		}
		c.entries[m] = st
	}
	if err != nil {
		c.err = err
	}
}

// readCopy describes the region's copy; ok is false when the region's
// entries are already final for this reconcile (no copy, busy, failed, gone).
func (r *ImageShareReconciler) readCopy(ctx context.Context, cl cloud.Client, g *group, c *copyRegion, concerned,
	direct []*member, now time.Time) (cloud.Image, bool) {
	holding := func() []*member { return c.holding(concerned, direct) }
	switch {
	case c.err != nil:
		c.setAll(holding(), fmt.Sprintf("Working on %s failed: retrying", c.region), "", c.err)
		return cloud.Image{}, false
	case c.problem != "":
		c.setAll(holding(), c.message, c.problem, nil)
		return cloud.Image{}, false
	case c.copyID == "":
		for _, m := range concerned {
			c.entries[m] = nil // a region left without a copy is finished
			if wantsRegion(m, c.region) {
				c.entries[m] = &cvmv1alpha1.RegionStatus{Region: c.region, Message: "Waiting for a copy"}
			}
		}
		return cloud.Image{}, false
	}
	copyKey := imageKey{Region: c.region, ImageID: c.copyID}
	e, ok, err := r.describe(ctx, cl, copyKey, g, now)
	if err != nil {
		c.setAll(holding(), fmt.Sprintf("Reading copy %s in %s failed: retrying", c.copyID, c.region), "", err)
		return cloud.Image{}, false
	}
	img := e.image
	if !ok || img.State != cloud.ImageStateNormal {
		r.reads.forget(g.identity, copyKey) // a copy on its way is read afresh next time
	}
	switch {
	case !ok && r.copyLost(c, concerned, now):
		// The copy is gone (deleted outside): forget it; a wanted region copies again.
		for _, m := range concerned {
			c.entries[m] = nil
			if wantsRegion(m, c.region) {
				c.entries[m] = &cvmv1alpha1.RegionStatus{Region: c.region,
					Message: fmt.Sprintf("The copy in %s no longer exists: copying again", c.region)}
			}
		}
		return img, false
	case !ok:
		// A brand-new copy is not visible at once: wait, never copy twice.
		c.setAll(holding(), fmt.Sprintf("Copy %s in %s is not visible yet", c.copyID, c.region), "", nil)
		return img, false
	case slices.Contains(failedStates, img.State):
		// A failed copy was never shared: a member that left the region (or is
		// deleting) is done with it, once it deleted it under
		// copyDeletionPolicy Delete; one that wants it is told, not polled.
		c.state = img.State
		var wanting []*member
		for _, m := range concerned {
			if wantsRegion(m, c.region) {
				wanting = append(wanting, m)
				continue
			}
			st := &cvmv1alpha1.RegionStatus{Region: c.region, ImageID: c.copyID, State: c.state}
			c.entries[m] = r.leaveCopy(ctx, cl, m, c, &actResult{}, direct, st)
		}
		c.setAll(wanting, fmt.Sprintf("Copy %s in %s failed (%s): delete it and remove the region, or add it "+
			"again", c.copyID, c.region, img.State), cvmv1alpha1.ReasonCopyFailed, nil)
		return img, false
	case img.State != cloud.ImageStateNormal:
		c.state = img.State
		c.setAll(holding(), fmt.Sprintf("Copy %s in %s is %s", c.copyID, c.region, img.State), "", nil)
		return img, false
	}
	c.state = img.State
	return img, true
}

// copySeats are the seats of one copy: members that list the region or
// still hold something there, and the ImageShares whose own image is the copy.
func (r *ImageShareReconciler) copySeats(g *group, concerned []*member, c *copyRegion, now time.Time) []*seat {
	var seats []*seat
	for _, m := range concerned {
		prev := regionStatus(m.obj, c.region)
		var managed []string
		var failed []cvmv1alpha1.FailedAccount
		if prev != nil && prev.ImageID == c.copyID {
			managed, failed = prev.ManagedAccountIDs, prev.FailedAccounts
		}
		var listed []string
		if wantsRegion(m, c.region) {
			listed = m.accounts
		}
		seats = append(seats, newSeat(m, c.region, listed, managed, failed, !wantsRegion(m, c.region),
			m.specChanged() || r.isResync(m, now)))
	}
	for _, m := range g.members {
		if m.copyOf == c.region && m.obj.Spec.ImageID == c.copyID {
			seats = append(seats, r.ownSeat(m, now))
		}
	}
	return seats
}

// copyLost reports whether a recorded copy that DescribeImages does not show
// is really gone: it was seen NORMAL before, or it has stayed invisible for a
// resync period. A copy just made is never lost (a brand-new copy is not
// visible at once, and copying again would make a second one).
func (r *ImageShareReconciler) copyLost(c *copyRegion, concerned []*member, now time.Time) bool {
	if c.justMade {
		return false
	}
	if c.state == cloud.ImageStateNormal {
		return true
	}
	return slices.ContainsFunc(concerned, func(m *member) bool {
		return m.obj.Status.LastSyncTime != nil && r.isResync(m, now)
	})
}

// regionEntry is one member's status entry for a region after its copy's
// plan ran; nil when the member left the region and nothing is left to do.
func (r *ImageShareReconciler) regionEntry(ctx context.Context, cl cloud.Client, s *seat, c *copyRegion,
	res *actResult, direct []*member) *cvmv1alpha1.RegionStatus {
	st := &cvmv1alpha1.RegionStatus{Region: c.region, ImageID: c.copyID, State: c.state,
		SharedAccountIDs: s.view.shared, ManagedAccountIDs: s.view.managed, FailedAccounts: s.view.failed}
	if s.leaving {
		if len(s.view.managed) > 0 {
			st.Message = fmt.Sprintf("Cancelling shares of copy %s in %s", c.copyID, c.region)
			if refused := refusedCancels(s.view); len(refused) == len(s.view.managed) {
				st.Reason = cvmv1alpha1.ReasonInvalidAccounts
				st.Message = fmt.Sprintf("The cloud refused to cancel the shares of copy %s in %s with %s; the "+
					"cancel is retried at each resync", c.copyID, c.region, strings.Join(refused, ", "))
			}
			return st
		}
		return r.leaveCopy(ctx, cl, s.m, c, res, direct, st)
	}
	v := r.judgeSeat(s, c.copyID, res)
	st.Ready = v.ready == metav1.ConditionTrue
	if v.stalled {
		st.Reason = v.reason
	}
	st.Message = fmt.Sprintf("Copy %s in %s: %s", c.copyID, c.region, v.message)
	return st
}

// leaveCopy finishes a region a member left: under copyDeletionPolicy Delete
// the copy is deleted once no other ImageShare wants it and nobody shares it;
// a copy that cannot be deleted keeps its entry and says why.
func (r *ImageShareReconciler) leaveCopy(ctx context.Context, cl cloud.Client, m *member, c *copyRegion,
	res *actResult, direct []*member, st *cvmv1alpha1.RegionStatus) *cvmv1alpha1.RegionStatus {
	if !deletesCopy(m, c.region, direct) {
		return nil
	}
	if len(res.after) > 0 {
		msg := fmt.Sprintf("Copy %s in %s is still shared with %s: not deleted; cancel those shares to delete it",
			c.copyID, c.region, listIDs(res.after))
		if prev := regionStatus(m.obj, c.region); prev == nil || prev.Message != msg {
			r.Recorder.Eventf(m.obj, nil, corev1.EventTypeWarning, cvmv1alpha1.ReasonCopyRetained, "Delete", "%s", msg)
		}
		if m.deleting() {
			return nil // deletion always ends: the copy stays, the event says why
		}
		st.Message, st.Reason = msg, cvmv1alpha1.ReasonCopyRetained
		return st
	}
	if err := cl.Delete(withImageShares(ctx, m), c.region, c.copyID); err != nil && cloud.ReasonOf(err) != cloud.ReasonImageNotFound {
		if m.deleting() && cloud.IsTerminal(err) {
			// Deletion always ends: a copy the cloud will not delete (a CAM
			// policy without DeleteImages, say) stays, and the event says so.
			r.Recorder.Eventf(m.obj, nil, corev1.EventTypeWarning, cvmv1alpha1.ReasonCopyRetained, "Delete",
				"Copy %s in %s could not be deleted and is left in place: %v", c.copyID, c.region, err)
			return nil
		}
		st.Message = fmt.Sprintf("Deleting copy %s in %s failed: retrying", c.copyID, c.region)
		c.err = err
		return st
	}
	r.Recorder.Eventf(m.obj, nil, corev1.EventTypeNormal, "CopyDeleted", "Delete", "Deleted copy %s in %s",
		c.copyID, c.region)
	return nil
}

// deletesCopy reports whether m, leaving region, must delete the copy there:
// copyDeletionPolicy Delete, and no other ImageShare of the image wants it.
// A frozen member deletes nothing until its source is back.
func deletesCopy(m *member, region string, direct []*member) bool {
	return m.obj.Spec.CopyDeletionPolicy == cvmv1alpha1.CopyDeletionPolicyDelete && !m.orphans() && m.frozen == nil &&
		!slices.ContainsFunc(direct, func(o *member) bool { return o != m && wantsRegion(o, region) })
}

// doneWithRegion reports whether m left the region and holds nothing there:
// no managed or pending share on its copy, and no copy to delete.
func doneWithRegion(m *member, c *copyRegion, direct []*member) bool {
	if wantsRegion(m, c.region) || len(pendingShares(m.obj, c.region)) > 0 {
		return false
	}
	if prev := regionStatus(m.obj, c.region); prev != nil && len(prev.ManagedAccountIDs) > 0 {
		return false
	}
	return c.copyID == "" || !deletesCopy(m, c.region, direct)
}
