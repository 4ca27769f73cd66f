package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/planner"
)

// copyName is the name every copy of a source image gets. It is how a copy
// made just before a crash (its ID never written to status) is found again,
// so a restart never copies twice.
func copyName(sourceID string) string { return "imageshare-copy-of-" + sourceID }

// copyIndex remembers copies this manager made or found, by source image and
// region, for the time between a SyncImages call and the status write.
type copyIndex struct {
	mu  sync.Mutex
	ids map[string]string
}

func newCopyIndex() *copyIndex { return &copyIndex{ids: map[string]string{}} }

func (c *copyIndex) get(source, region string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ids[source+"@"+region]
}

func (c *copyIndex) set(source, region, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == "" {
		delete(c.ids, source+"@"+region)
		return
	}
	c.ids[source+"@"+region] = id
}

// replicaResult summarises the copies for the top-level conditions.
type replicaResult struct {
	regions  []cvmv1alpha1.RegionStatus
	pending  []string // regions not ready yet (copying, sharing, cancelling)
	stalled  []string // regions that need a spec or outside change
	reason   string   // the first stalled region's reason
	done     bool     // every region the object left (or all, when deleting) is cleaned up
	err      error    // a retryable failure
	throttle time.Duration
}

// syncReplicas copies the source image to spec.replicaRegions, shares each copy
// under the same rules as the source, and cleans up regions the object left.
func (r *ImageShareReconciler) syncReplicas(ctx context.Context, cl cloud.Client, obj *cvmv1alpha1.ImageShare,
	objs []*cvmv1alpha1.ImageShare, now time.Time) replicaResult {
	res := replicaResult{done: true}
	deleting := !obj.DeletionTimestamp.IsZero()
	regions := slices.Clone(obj.Spec.ReplicaRegions)
	for _, st := range obj.Status.Regions {
		if !slices.Contains(regions, st.Region) {
			regions = append(regions, st.Region)
		}
	}
	slices.Sort(regions)
	for _, region := range regions {
		listed := slices.Contains(obj.Spec.ReplicaRegions, region) && !deleting
		st, keep := r.syncReplica(ctx, cl, obj, objs, region, listed, now)
		if st.err != nil {
			if res.err == nil {
				res.err = st.err
			}
			if ce := cloud.AsError(st.err); ce != nil && ce.RetryAfter > 0 {
				res.throttle = ce.RetryAfter
			}
		}
		if keep {
			res.regions = append(res.regions, st.RegionStatus)
		}
		switch {
		case !listed && keep:
			res.done = false
			res.pending = append(res.pending, region)
		case !listed:
		case st.stalledReason != "":
			res.stalled = append(res.stalled, region)
			if res.reason == "" {
				res.reason = st.stalledReason
			}
		case !st.Ready:
			res.pending = append(res.pending, region)
		}
	}
	return res
}

type replicaState struct {
	cvmv1alpha1.RegionStatus
	stalledReason string
	err           error
}

// syncReplica handles one region; keep is false once a region the object left
// is cleaned up and its status entry can go.
func (r *ImageShareReconciler) syncReplica(ctx context.Context, cl cloud.Client, obj *cvmv1alpha1.ImageShare,
	objs []*cvmv1alpha1.ImageShare, region string, listed bool, now time.Time) (replicaState, bool) {
	src := obj.Spec.ImageID
	st := replicaState{RegionStatus: cvmv1alpha1.RegionStatus{Region: region}}
	if prev := regionStatus(obj, region); prev != nil {
		st.ImageID, st.State = prev.ImageID, prev.State
	}
	if st.ImageID == "" {
		var stop bool
		if st, stop = r.ensureCopy(ctx, cl, obj, objs, st, listed, now); stop {
			// A region the object left with no copy at all is finished.
			return st, listed || st.err != nil
		}
	}

	images, err := cl.DescribeImages(ctx, region, []string{st.ImageID})
	if err != nil {
		return r.replicaFailure(st, err, listed), true
	}
	img, ok := images[st.ImageID]
	if !ok {
		// The copy is gone (deleted outside): forget it; a listed region copies again.
		r.copies.set(src, region, "")
		st.ImageID, st.State = "", ""
		if !listed {
			return st, false
		}
		st.Message = fmt.Sprintf("The copy in %s no longer exists: copying again", region)
		return st, true
	}
	st.State = img.State
	if img.State != cloud.ImageStateNormal {
		st.Message = fmt.Sprintf("Copy %s in %s is %s", st.ImageID, region, img.State)
		return st, true
	}
	shares, err := cl.ListShares(ctx, region, st.ImageID)
	if err != nil {
		return r.replicaFailure(st, err, listed), true
	}

	members := r.copyMembers(obj, objs, region, st.ImageID, now)
	plan := planner.Compute(planner.Input{Shared: shares, Members: members, Limit: r.ShareLimit})
	ex := r.execute(ctx, cl, region, st.ImageID, plan, shares)
	if ex.changed() {
		r.recordEvents(objs, ex)
		r.notify(objs, obj)
	}
	self := memberFor(members, obj)
	view, failed := r.project(self, region+"/"+st.ImageID, plan, ex, now)
	st.SharedAccountIDs, st.FailedAccounts = view.Shared, failed
	if ex.err != nil {
		st = r.replicaFailure(st, ex.err, listed)
		return st, true
	}
	if !listed {
		if len(view.Shared) > 0 {
			st.Message = fmt.Sprintf("Cancelling shares of copy %s in %s", st.ImageID, region)
			return st, true
		}
		return st, !r.deleteCopy(ctx, cl, obj, objs, region, st.ImageID, ex.sharedAfter, &st)
	}
	_, conflicted := plan.Conflicts[self.Key]
	switch {
	case conflicted:
		st.stalledReason = ReasonConflict
		st.Message = fmt.Sprintf("Copy %s in %s belongs to an Exclusive ImageShare of the image", st.ImageID, region)
	case len(st.FailedAccounts) > 0:
		st.stalledReason = ReasonInvalidAccounts
		if slices.ContainsFunc(st.FailedAccounts, func(f cvmv1alpha1.FailedAccount) bool {
			return f.Reason == string(planner.ShareLimitExceeded)
		}) {
			st.stalledReason = ReasonShareLimitExceeded
		}
		st.Message = fmt.Sprintf("Copy %s in %s: %d accounts not shared (%s)", st.ImageID, region,
			len(st.FailedAccounts), st.stalledReason)
	case len(view.Missing) > 0 || self.Mode == planner.Exclusive && len(view.Unmanaged) > 0:
		st.Message = fmt.Sprintf("Sharing copy %s in %s", st.ImageID, region)
	default:
		st.Ready = true
		st.Message = fmt.Sprintf("Copy %s in %s is shared with all %s", st.ImageID, region,
			listedAccounts(len(obj.Spec.AccountIDs)))
	}
	return st, true
}

// ensureCopy finds the region's copy (status, memory, a sibling's status, or
// by name in the cloud) or, for a listed region, makes it. stop means the
// region's state is final for this reconcile.
func (r *ImageShareReconciler) ensureCopy(ctx context.Context, cl cloud.Client, obj *cvmv1alpha1.ImageShare,
	objs []*cvmv1alpha1.ImageShare, st replicaState, listed bool, now time.Time) (replicaState, bool) {
	src, region := obj.Spec.ImageID, st.Region
	if st.ImageID == "" {
		st.ImageID = r.copies.get(src, region)
	}
	if st.ImageID == "" {
		for _, o := range objs {
			if p := regionStatus(o, region); p != nil && p.ImageID != "" {
				st.ImageID = p.ImageID
				break
			}
		}
	}
	if st.ImageID == "" {
		found, err := cl.FindImagesByName(ctx, region, copyName(src))
		if err != nil {
			return r.replicaFailure(st, err, listed), true
		}
		if len(found) > 0 {
			st.ImageID = found[0].ID
		}
	}
	if st.ImageID == "" {
		if !listed {
			return st, true
		}
		if obj.Spec.Mode == cvmv1alpha1.ModeObserve {
			st.stalledReason = ReasonDriftDetected
			st.Message = fmt.Sprintf("No copy in %s: Observe mode never copies; switch to Merge to copy", region)
			return st, true
		}
		if b, ok := r.bad.get(imageKey(obj), "copy@"+region, r.ResyncPeriod, now); ok {
			st.Message, st.stalledReason = b.message, b.reason
			return st, true
		}
		ids, err := cl.Copy(ctx, obj.Spec.Region, src, []string{region}, copyName(src))
		if err != nil {
			if cloud.ReasonOf(err) == cloud.ReasonCopyFailed {
				ce := cloud.AsError(err)
				msg := fmt.Sprintf("Copying to %s failed (%s): free image quota there or remove the region", region,
					ce.Code)
				r.bad.set(imageKey(obj), "copy@"+region, badAccount{reason: string(cloud.ReasonCopyFailed),
					message: msg, at: now})
				st.Message, st.stalledReason = msg, string(cloud.ReasonCopyFailed)
				return st, true
			}
			return r.replicaFailure(st, err, listed), true
		}
		st.ImageID = ids[region]
		r.copies.set(src, region, st.ImageID)
		r.Recorder.Eventf(obj, nil, "Normal", "Copied", "Copy", "Copying image %s to %s as %s", src, region,
			st.ImageID)
	}

	return st, false
}

// deleteCopy deletes a copy the object left when copyDeletionPolicy is Delete
// and no other ImageShare still wants it. It reports whether the region is
// finished (the status entry can go).
func (r *ImageShareReconciler) deleteCopy(ctx context.Context, cl cloud.Client, obj *cvmv1alpha1.ImageShare,
	objs []*cvmv1alpha1.ImageShare, region, copyID string, shares []string, st *replicaState) bool {
	if obj.Spec.CopyDeletionPolicy != cvmv1alpha1.CopyDeletionPolicyDelete ||
		obj.Spec.DeletionPolicy == cvmv1alpha1.DeletionPolicyOrphan {
		return true
	}
	for _, o := range objs {
		if o.UID != obj.UID && o.DeletionTimestamp.IsZero() && slices.Contains(o.Spec.ReplicaRegions, region) {
			return true // still wanted by another ImageShare
		}
	}
	if len(shares) > 0 {
		st.Message = fmt.Sprintf("Copy %s in %s is still shared with %s: not deleted", copyID, region,
			listIDs(shares))
		return true
	}
	if err := cl.Delete(ctx, region, copyID); err != nil && cloud.ReasonOf(err) != cloud.ReasonImageNotFound {
		*st = r.replicaFailure(*st, err, false)
		return false
	}
	r.copies.set(obj.Spec.ImageID, region, "")
	r.Recorder.Eventf(obj, nil, "Normal", "CopyDeleted", "Delete", "Deleted copy %s in %s", copyID, region)
	return true
}

// copyMembers are the ImageShares of the source image that concern one copy:
// those listing the region, and those that still manage shares there.
func (r *ImageShareReconciler) copyMembers(obj *cvmv1alpha1.ImageShare, objs []*cvmv1alpha1.ImageShare, region,
	copyID string, now time.Time) []planner.Member {
	key := region + "/" + copyID
	var members []planner.Member
	for _, o := range objs {
		listed := slices.Contains(o.Spec.ReplicaRegions, region)
		var managed []string
		if p := regionStatus(o, region); p != nil && p.ImageID == copyID {
			managed = p.SharedAccountIDs
		}
		if !listed && len(managed) == 0 && o.UID != obj.UID {
			continue
		}
		m := r.member(o, key, now)
		m.Managed = managed
		m.Deleting = m.Deleting || !listed
		members = append(members, m)
	}
	return members
}

func (r *ImageShareReconciler) replicaFailure(st replicaState, err error, listed bool) replicaState {
	ce := cloud.AsError(err)
	code := "network error"
	if ce != nil {
		code = ce.Code
	}
	st.err = err
	st.Message = fmt.Sprintf("Working on %s failed (%s): retrying", st.Region, code)
	if cloud.IsTerminal(err) && listed {
		st.err = nil
		st.stalledReason = string(cloud.ReasonOf(err))
		st.Message = fmt.Sprintf("Working on %s failed (%s)", st.Region, code)
	}
	return st
}

func regionStatus(o *cvmv1alpha1.ImageShare, region string) *cvmv1alpha1.RegionStatus {
	for i := range o.Status.Regions {
		if o.Status.Regions[i].Region == region {
			return &o.Status.Regions[i]
		}
	}
	return nil
}

// mergeReplicas folds the copies into the object's outcome: the source's own
// problems come first, then stalled regions, then regions still in progress.
func (r *ImageShareReconciler) mergeReplicas(o outcome, rr replicaResult) outcome {
	o.regions, o.regionsSet = rr.regions, true
	if o.stalled || o.err != nil || o.ready == "" {
		return o
	}
	switch {
	case len(rr.stalled) > 0:
		reason := rr.reason
		msgs := regionMessages(rr, rr.stalled)
		s := r.stalledOutcome(reason, fmt.Sprintf("Regions not ready: %s; see status.regions", msgs))
		s.image, s.syncedAt, s.view, s.failed, s.regions, s.regionsSet = o.image, o.syncedAt, o.view, o.failed,
			o.regions, true
		if len(rr.pending) > 0 || rr.err != nil {
			// Other regions are still moving: keep them going.
			s.requeueAfter = jitter(busyImageRetry / 2)
		}
		return s
	case len(rr.pending) > 0 || rr.err != nil:
		p := progressing(ReasonProgressing, fmt.Sprintf("Regions not ready: %s", regionMessages(rr, rr.pending)))
		p.requeueAfter = jitter(busyImageRetry / 2)
		if rr.throttle > 0 {
			p.requeueAfter = jitter(rr.throttle)
		}
		p.image, p.syncedAt, p.view, p.failed, p.regions, p.regionsSet = o.image, o.syncedAt, o.view, o.failed,
			o.regions, true
		if o.ready == "True" {
			p.ready = "False"
		}
		return p
	}
	if len(rr.regions) > 0 && o.ready == "True" {
		copies := make([]string, 0, len(rr.regions))
		for _, st := range rr.regions {
			copies = append(copies, fmt.Sprintf("%s (%s)", st.Region, st.ImageID))
		}
		o.message += "; so are its copies in " + strings.Join(copies, ", ")
	}
	return o
}

func regionMessages(rr replicaResult, regions []string) string {
	var parts []string
	for _, st := range rr.regions {
		if slices.Contains(regions, st.Region) {
			parts = append(parts, fmt.Sprintf("%s (%s)", st.Region, st.Message))
		}
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return strings.Join(regions, ", ")
	}
	return strings.Join(parts, "; ")
}
