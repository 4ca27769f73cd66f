package controller

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// regionSummary is how a member's regions stand after this reconcile.
type regionSummary struct {
	entries          []cvmv1alpha1.RegionStatus
	stalled, pending []string
	reason           string
	err              error
}

func summarize(m *member, regions []*copyRegion) regionSummary {
	var sum regionSummary
	for _, c := range regions {
		st, ok := c.entries[m]
		if !ok {
			if prev := regionStatus(m.obj, c.region); prev != nil {
				sum.entries = append(sum.entries, *prev) // untouched this time
			}
			continue
		}
		if st == nil {
			continue // the member left the region and it is cleaned up
		}
		sum.entries = append(sum.entries, *st)
		if c.err != nil && sum.err == nil {
			sum.err = c.err
		}
		line := fmt.Sprintf("%s (%s)", c.region, st.Message)
		switch {
		case st.Reason == cvmv1alpha1.ReasonCopyRetained:
			// Left, cleaned up, and kept only because someone else shares it.
		case st.Reason != "" && (wantsRegion(m, c.region) || st.Reason == cvmv1alpha1.ReasonInvalidAccounts):
			// A region left with refused cancels waits for the resync, like the source.
			sum.stalled = append(sum.stalled, line)
			if sum.reason == "" {
				sum.reason = st.Reason
			}
		case !wantsRegion(m, c.region) || !st.Ready:
			sum.pending = append(sum.pending, line)
		}
	}
	slices.Sort(sum.stalled)
	slices.Sort(sum.pending)
	return sum
}

// mergeRegions folds the copies into a member's verdict: the source's own
// problems come first, then stalled regions, then regions still in progress.
// A deleting member is released once its source and every copy are done.
func (r *ImageShareReconciler) mergeRegions(m *member, regions []*copyRegion) {
	v := &m.v
	if v.release {
		return
	}
	sum := summarize(m, regions)
	v.keepPending = v.keepPending || sum.err != nil
	v.regions, v.regionsSet = sum.entries, true
	if m.deleting() {
		st := m.del
		st.regions = &sum
		if d := r.reconcileDelete(m, st); d.decided() {
			keep := *v
			*v = d
			v.image, v.syncedAt, v.accounts, v.regions, v.regionsSet = keep.image, keep.syncedAt, keep.accounts,
				sum.entries, true
		}
		return
	}
	if v.stalled || v.err != nil || v.ready != metav1.ConditionTrue && v.reason != cvmv1alpha1.ReasonProgressing {
		return
	}
	// A copy call that failed: a terminal reason (a CAM policy without
	// SyncImages, say) stalls like the source would; a retryable one backs off.
	var copyErr verdict
	if sum.err != nil {
		copyErr = r.failure(m, keyOf(m.obj), sum.err)
	}
	keep := *v
	restore := func() {
		v.image, v.syncedAt, v.accounts, v.regions, v.regionsSet = keep.image, keep.syncedAt, keep.accounts,
			sum.entries, true
	}
	switch {
	case copyErr.stalled:
		*v = copyErr
		restore()
	case len(sum.stalled) > 0:
		*v = r.stalled(sum.reason, fmt.Sprintf("Regions not ready: %s; see status.regions",
			strings.Join(sum.stalled, "; ")))
		restore()
		if len(sum.pending) > 0 || sum.err != nil {
			v.requeueAfter = jitter(busyImageRetry / 2) // other regions are still moving
		}
	case len(sum.pending) > 0 || sum.err != nil:
		if v.ready == metav1.ConditionTrue {
			v.ready, v.reason = metav1.ConditionFalse, cvmv1alpha1.ReasonProgressing
			v.message = fmt.Sprintf("Regions not ready: %s", strings.Join(sum.pending, "; "))
		}
		v.requeueAfter = jitter(busyImageRetry / 2)
		if copyErr.requeueAfter > 0 {
			v.requeueAfter = copyErr.requeueAfter
		}
		v.err = copyErr.err // a CloudError: the workqueue's backoff, not a 5s poll
	case len(sum.entries) > 0 && v.ready == metav1.ConditionTrue:
		copies := make([]string, 0, len(sum.entries))
		for _, st := range sum.entries {
			if st.Reason != cvmv1alpha1.ReasonCopyRetained {
				copies = append(copies, fmt.Sprintf("%s (%s)", st.Region, st.ImageID))
			}
		}
		if len(copies) > 0 {
			v.message += "; so are its copies in " + strings.Join(copies, ", ")
		}
	}
}
