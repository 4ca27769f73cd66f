package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// Failed image states: the image will never become shareable.
var failedStates = []string{"CREATEFAILED", "IMPORTFAILED", "SYNCFAILED"}

// observation is what the cloud says about one image, for one identity.
type observation struct {
	image   cloud.Image
	shares  []string
	fetched time.Time
}

// observe reads (or recalls, within a resync period) the image's metadata
// and share list with the group's keys. A verdict for every member is
// returned instead when the image cannot be planned (missing, busy, not
// shareable, or a call failed); deleting members of a gone or failed image
// are released.
func (r *ImageShareReconciler) observe(ctx context.Context, cl cloud.Client, key imageKey, g *group,
	members []*member, now time.Time) (*observation, map[*member]verdict) {
	// Metadata changes rarely and is read for a hundred images a call: a spec
	// change needs a fresh share list, not a fresh DescribeImages.
	img, ok, err := r.describe(ctx, cl, key, g, now)
	if err != nil {
		return nil, r.allFail(members, key, err)
	}
	if !ok {
		return nil, r.notFound(ctx, cl, key, g.identity, members)
	}
	info := img.image
	stop := func(v verdict, releaseDeleting bool) map[*member]verdict {
		out := map[*member]verdict{}
		for _, m := range members {
			if m.deleting() && releaseDeleting {
				out[m] = r.reconcileDelete(m, deleteState{gone: true})
				continue
			}
			v.image = &info
			out[m] = v
		}
		return out
	}
	if why := notShareable(info); why != "" {
		return nil, stop(r.stalled(cvmv1alpha1.ReasonImageNotShareable, fmt.Sprintf(
			"Image %s %s and cannot be shared: %s", info.ID, why, remedyNotShareable(info))), true)
	}
	if info.State != cloud.ImageStateNormal {
		v := progressing(cvmv1alpha1.ReasonImageNotReady, fmt.Sprintf("Image %s is %s: waiting for NORMAL",
			key.ImageID, info.State))
		v.requeueAfter = jitter(busyImageRetry)
		r.reads.forget(g.identity, key)
		return nil, stop(v, false)
	}
	shares, fetched, err := r.shareList(ctx, cl, key, g.identity, members, now)
	if err != nil {
		return nil, r.allFail(members, key, err)
	}
	return &observation{image: info, shares: shares, fetched: fetched}, nil
}

// shareList returns the image's share list from the read cache, or reads it
// when there is none this period or a member changed after it was read.
// Source images and copies both read through it.
func (r *ImageShareReconciler) shareList(ctx context.Context, cl cloud.Client, key imageKey, identity string,
	members []*member, now time.Time) ([]string, time.Time, error) {
	shares, fetched, cached := r.reads.shares(identity, key, r.readMaxAge(), now)
	if cached && !needsFreshRead(members, fetched, now) {
		return shares, fetched, nil
	}
	list, err := cl.ListShares(ctx, key.Region, key.ImageID)
	if err != nil {
		if cloud.ReasonOf(err) == cloud.ReasonImageNotFound {
			r.reads.forget(identity, key)
		}
		return nil, time.Time{}, err
	}
	r.reads.putShares(identity, key, list, now)
	return list, now, nil
}

// needsFreshRead: a spec change or a deletion made after the share list was
// read (fetched) needs a read of its own; anything else accepts this
// period's read. When the change happened is taken from the object, not
// remembered: our own status write reaches the informer late, so the next
// reconcile still sees observedGeneration behind, and a memo of "planned
// already" would be one more per-object map to keep and forget.
func needsFreshRead(members []*member, fetched, now time.Time) bool {
	for _, m := range members {
		switch {
		case m.frozen != nil:
			// It acts on nothing, and its status echoes no read: a request
			// on it would force a read at every pass.
		case reconcileRequested(m.obj, now):
			return true
		case m.deleting() && !readAfter(fetched, m.obj.DeletionTimestamp.Time):
			return true
		case m.specChanged() && !readAfter(fetched, specChangedAt(m.obj)):
			return true
		}
	}
	return false
}

// specChangedAt is when the object's spec took its current value, as far as
// the object tells: its creation for a first generation. A later generation
// gives no time (the manager's cache drops managedFields), so it is zero and
// the change is read afresh.
func specChangedAt(o *cvmv1alpha1.ImageShare) time.Time {
	if o.Generation <= 1 {
		return o.CreationTimestamp.Time
	}
	return time.Time{}
}

// readAfter reports whether a read at fetched surely came after a change the
// API server stamped at t. Its stamps are whole seconds, so the change may
// lie anywhere in the second after t; a zero t is never surely before.
func readAfter(fetched, t time.Time) bool {
	return !t.IsZero() && !fetched.Before(t.Add(time.Second))
}

// describe returns the image's metadata, from the cache or from one
// DescribeImages call that also reads up to 99 other images the same
// credentials need in the region (a thousand objects cost ten calls).
func (r *ImageShareReconciler) describe(ctx context.Context, cl cloud.Client, key imageKey, g *group,
	now time.Time) (metaEntry, bool, error) {
	if e, ok := r.reads.meta(g.identity, key, r.readMaxAge(), now); ok &&
		!slices.ContainsFunc(g.members, func(m *member) bool { return m.frozen == nil && reconcileRequested(m.obj, now) }) {
		return e, e.found, nil
	}
	ids := append([]string{key.ImageID}, r.peers(ctx, key, g, now)...)
	images, err := cl.DescribeImages(ctx, key.Region, ids)
	if err != nil {
		return metaEntry{}, false, err
	}
	for _, id := range ids {
		img, found := images[id]
		r.reads.putMeta(g.identity, imageKey{Region: key.Region, ImageID: id}, metaEntry{image: img, found: found,
			fetched: now})
	}
	img, found := images[key.ImageID]
	return metaEntry{image: img, found: found, fetched: now}, found, nil
}

// peers lists other images in the region that ImageShares with the same
// credentials Secret (or the manager's own keys) target, not yet cached.
func (r *ImageShareReconciler) peers(ctx context.Context, key imageKey, g *group, now time.Time) []string {
	refs := map[string]bool{}
	for _, m := range g.members {
		refs[credentialKey(m.obj)] = true
	}
	seen := map[string]bool{key.ImageID: true}
	var ids []string
	for _, ref := range slices.Sorted(maps.Keys(refs)) {
		var list cvmv1alpha1.ImageShareList
		// Read-only: the cache's own objects, not a deep copy of each of the
		// thousands one Secret may serve.
		if err := r.List(ctx, &list, client.MatchingFields{credentialField: ref}, client.UnsafeDisableDeepCopy); err != nil {
			return ids
		}
		for i := range list.Items {
			o := &list.Items[i]
			if len(ids) == cloud.MaxAccountsPerCall-1 {
				return ids
			}
			// The manager's own keys describe only images of namespaces allowed
			// to use them: another tenant's objects must not fill its batches.
			if seen[o.Spec.ImageID] || o.Spec.Region != key.Region ||
				o.Spec.CredentialsRef == nil && !r.Credentials.EnvAllowed(o.Namespace) {
				continue
			}
			seen[o.Spec.ImageID] = true
			if _, fresh := r.reads.meta(g.identity, keyOf(o), r.ResyncPeriod/2, now); !fresh {
				ids = append(ids, o.Spec.ImageID)
			}
		}
	}
	return ids
}

// credentialKey groups objects that certainly use the same credentials.
func credentialKey(o *cvmv1alpha1.ImageShare) string {
	if o.Spec.CredentialsRef == nil {
		return "env"
	}
	return o.Namespace + "/" + o.Spec.CredentialsRef.Name
}

// readMaxAge is how old a cached read may be: 90% of the resync period, so
// each image is read about once a period.
func (r *ImageShareReconciler) readMaxAge() time.Duration { return r.ResyncPeriod * 9 / 10 }
