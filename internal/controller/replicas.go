package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// copyName is the name every copy of a source image gets. It is how a copy
// made just before a crash (its ID never written to status) is found again,
// so a restart never copies twice.
func copyName(sourceID string) string { return "imageshare-copy-of-" + sourceID }

func regionStatus(o *cvmv1alpha1.ImageShare, region string) *cvmv1alpha1.RegionStatus {
	for i := range o.Status.Regions {
		if o.Status.Regions[i].Region == region {
			return &o.Status.Regions[i]
		}
	}
	return nil
}

func hasCopies(o *cvmv1alpha1.ImageShare) bool { return len(o.Status.Regions) > 0 }

func wantsRegion(m *member, region string) bool {
	return !m.deleting() && slices.Contains(m.obj.Spec.ReplicaRegions, region)
}

// copyRegion is the state of one replica region across the group's members.
type copyRegion struct {
	region   string
	copyID   string
	state    string
	wanting  []*member
	entries  map[*member]*cvmv1alpha1.RegionStatus // the members' new entries; nil entry = region finished
	problem  string                                // a reason that needs a spec or outside change
	justMade bool                                  // copied in this reconcile
	message  string
	err      error
}

// syncCopies copies the image to every replica region that lacks a copy (one
// SyncImages call for all of them), plans each copy like the source (the
// copy's own ImageShares included), and cleans up regions members left.
func (r *ImageShareReconciler) syncCopies(ctx context.Context, cl cloud.Client, key imageKey, g *group,
	direct []*member, now time.Time) {
	var regions []*copyRegion
	for _, m := range direct {
		names := slices.Clone(m.obj.Spec.ReplicaRegions)
		for _, st := range m.obj.Status.Regions {
			names = append(names, st.Region)
		}
		for _, name := range names {
			i := slices.IndexFunc(regions, func(c *copyRegion) bool { return c.region == name })
			if i < 0 {
				regions = append(regions, &copyRegion{region: name, entries: map[*member]*cvmv1alpha1.RegionStatus{}})
				i = len(regions) - 1
			}
			c := regions[i]
			if wantsRegion(m, name) && !slices.Contains(c.wanting, m) {
				c.wanting = append(c.wanting, m)
			}
			if st := regionStatus(m.obj, name); st != nil && st.ImageID != "" && c.copyID == "" {
				c.copyID, c.state = st.ImageID, st.State
			}
		}
	}
	if len(regions) == 0 {
		return
	}
	slices.SortFunc(regions, func(a, b *copyRegion) int { return strings.Compare(a.region, b.region) })
	r.ensureCopies(ctx, cl, key, g, regions, now)
	for _, c := range regions {
		r.syncCopy(ctx, cl, g, direct, c, now)
	}
	for _, m := range direct {
		r.mergeRegions(m, regions)
	}
}

// ensureCopies finds (by name, after a crash) or makes the copies that wanted
// regions lack, in one SyncImages call.
func (r *ImageShareReconciler) ensureCopies(ctx context.Context, cl cloud.Client, key imageKey, g *group,
	regions []*copyRegion, now time.Time) {
	madeKey := func(c *copyRegion) string { return key.String() + ">" + c.region }
	var missing []*copyRegion
	var recorded map[string]cvmv1alpha1.RegionStatus
	for _, c := range regions {
		if c.copyID != "" || !slices.ContainsFunc(c.wanting, func(m *member) bool { return m.frozen == nil }) {
			continue // a frozen member makes no copy
		}
		if recorded == nil {
			// SyncImages is the one call that is not idempotent, and the cache
			// may not hold the status write of a copy made a moment ago (a
			// new copy is not even visible to DescribeImages for a while):
			// read the objects themselves before copying.
			recorded = r.recordedCopies(ctx, regions)
		}
		if st, ok := recorded[c.region]; ok {
			c.copyID, c.state = st.ImageID, st.State
			continue
		}
		if id, ok := g.made[madeKey(c)]; ok {
			c.copyID, c.state, c.justMade = id, cloud.ImageStateSyncing, true // another key of the account just copied
			continue
		}
		if !slices.ContainsFunc(c.wanting, func(m *member) bool { return !m.observe() }) {
			c.problem = cvmv1alpha1.ReasonDriftDetected
			c.message = fmt.Sprintf("No copy in %s: Observe mode never copies; switch to Merge to copy", c.region)
			continue
		}
		if prev := r.rememberedCopyFailure(c, now); prev != "" {
			c.problem, c.message = cvmv1alpha1.ReasonCopyFailed, prev
			continue
		}
		found, err := cl.FindImagesByName(ctx, c.region, copyName(key.ImageID))
		switch {
		case err != nil && cloud.ReasonOf(err) == cloud.ReasonRegionMismatch:
			missing = append(missing, c) // SyncImages will say what is wrong with the region
		case err != nil:
			c.err = err
		case len(found) > 0:
			c.copyID, c.state = found[0].ID, found[0].State
		default:
			missing = append(missing, c)
		}
	}
	oneByOne := false
	for len(missing) > 0 {
		batch := missing
		if oneByOne {
			batch = missing[:1]
		}
		dest := make([]string, 0, len(batch))
		for _, c := range batch {
			dest = append(dest, c.region)
		}
		ids, err := cl.Copy(withImageShares(ctx, wantingMembers(batch)...), key.Region, key.ImageID, dest, copyName(key.ImageID))
		if err == nil {
			for _, c := range batch {
				c.copyID, c.state, c.justMade = ids[c.region], cloud.ImageStateSyncing, true
				if g.made != nil {
					g.made[madeKey(c)] = c.copyID
				}
				r.Recorder.Eventf(c.wanting[0].obj, nil, corev1.EventTypeNormal, "Copied", "Copy",
					"Copying image %s to %s as %s", key.ImageID, c.region, c.copyID)
			}
			missing = missing[len(batch):]
			continue
		}
		ce := cloud.AsError(err)
		if ce == nil || ce.Reason != cloud.ReasonCopyFailed {
			for _, c := range missing {
				c.err = err
			}
			return
		}
		bad := slices.IndexFunc(batch, func(c *copyRegion) bool { return c.region == ce.Region })
		if bad < 0 && len(batch) == 1 {
			bad = 0
		}
		if bad < 0 {
			oneByOne = true // the cloud did not say which region: one region a call
			continue
		}
		c := batch[bad]
		c.problem, c.message = cvmv1alpha1.ReasonCopyFailed, r.copyFailedMessage(ctx, cl, c.region, ce)
		missing = slices.DeleteFunc(missing, func(x *copyRegion) bool { return x == c })
	}
}

// rememberedCopyFailure returns the CopyFailed message a wanting member
// recorded for the region, while its spec is unchanged and no resync is due.
func (r *ImageShareReconciler) rememberedCopyFailure(c *copyRegion, now time.Time) string {
	for _, m := range c.wanting {
		st := regionStatus(m.obj, c.region)
		if st != nil && st.Reason == cvmv1alpha1.ReasonCopyFailed && st.ImageID == "" && !m.specChanged() &&
			!r.isResync(m, now) {
			return st.Message
		}
	}
	return ""
}

// copyFailedMessage says why a region got no copy and what to do; for a
// region SyncImages does not accept, it names the accepted ones.
func (r *ImageShareReconciler) copyFailedMessage(ctx context.Context, cl cloud.Client, region string,
	ce *cloud.Error) string {
	if strings.HasPrefix(ce.Code, "InvalidRegion") || strings.HasPrefix(ce.Code, "InvalidParameterValue.InvalidRegion") {
		accepted, err := cl.Regions(ctx)
		list := "see DescribeRegions"
		if err == nil && len(accepted) > 0 {
			list = strings.Join(slices.Sorted(slices.Values(accepted)), ", ")
		}
		return fmt.Sprintf("Region %s does not accept copies (%s): accepted regions are %s; fix or remove it in "+
			"spec.replicaRegions", region, ce.Code, list)
	}
	return fmt.Sprintf("Copying to %s failed (%s): free image quota there or remove the region from "+
		"spec.replicaRegions", region, ce.Code)
}

// recordedCopies reads the wanting members straight from the API server and
// returns the copies their status records, by region.
func (r *ImageShareReconciler) recordedCopies(ctx context.Context, regions []*copyRegion) map[string]cvmv1alpha1.RegionStatus {
	out := map[string]cvmv1alpha1.RegionStatus{}
	seen := map[*member]bool{}
	for _, c := range regions {
		for _, m := range c.wanting {
			if seen[m] {
				continue
			}
			seen[m] = true
			fresh := &cvmv1alpha1.ImageShare{}
			if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(m.obj), fresh); err != nil {
				continue
			}
			for _, st := range fresh.Status.Regions {
				if _, ok := out[st.Region]; !ok && st.ImageID != "" {
					out[st.Region] = st
				}
			}
		}
	}
	return out
}

// copyNotPlanned tells the ImageShares whose own image is the region's copy
// why it was not planned this time (busy, not visible yet, failed, or a
// call failed); the maintainer's requeue brings them back.
func (r *ImageShareReconciler) copyNotPlanned(g *group, c *copyRegion) {
	why := fmt.Sprintf("copy %s in %s is %s", c.copyID, c.region, c.state)
	for _, st := range c.entries {
		if st != nil && st.Message != "" {
			why = st.Message
			break
		}
	}
	for _, m := range g.members {
		if m.copyOf != c.region || m.obj.Spec.ImageID != c.copyID || c.copyID == "" || m.v.decided() {
			continue
		}
		m.v = progressing(cvmv1alpha1.ReasonImageNotReady, fmt.Sprintf(
			"Image %s is a copy another ImageShare maintains and is not ready for sharing (%s): waiting",
			c.copyID, why))
		m.v.requeueAfter = jitter(busyImageRetry)
	}
}
