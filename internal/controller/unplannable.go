package controller

import (
	"context"
	"fmt"
	"slices"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// The verdicts of an image that cannot be planned: a failed read, an image
// that is not where the spec says, or one that cannot be shared.

// allFail is every member's verdict when a read of the image failed: a
// deleting member of an image that is gone is released, the rest judged by err.
func (r *ImageShareReconciler) allFail(members []*member, key imageKey, err error) map[*member]verdict {
	out := map[*member]verdict{}
	for _, m := range members {
		if reason := cloud.ReasonOf(err); m.deleting() &&
			(reason == cloud.ReasonImageNotFound || reason == cloud.ReasonRegionMismatch) {
			out[m] = r.reconcileDelete(m, deleteState{gone: true}) // gone (or never was here), and its shares with it
			continue
		}
		out[m] = r.failure(m, key, err)
	}
	return out
}

// notFound handles an image absent from its region: deleting members are
// released (a gone image has no shares); the others learn where it is.
func (r *ImageShareReconciler) notFound(ctx context.Context, cl cloud.Client, key imageKey, identity string,
	members []*member) map[*member]verdict {
	out := map[*member]verdict{}
	var live []*member
	for _, m := range members {
		if m.deleting() {
			out[m] = r.reconcileDelete(m, deleteState{gone: true})
		} else {
			live = append(live, m)
		}
	}
	if len(live) == 0 {
		return out
	}
	v := r.locate(ctx, cl, key, identity, live[0])
	for _, m := range live {
		out[m] = v
	}
	return out
}

// locate looks for the image in the other regions: RegionMismatch names where
// it is, ImageNotFound says it is nowhere. Each region's answer goes into the
// read cache, so a search cut short by the rate limit resumes where it
// stopped instead of starting over.
func (r *ImageShareReconciler) locate(ctx context.Context, cl cloud.Client, key imageKey, identity string,
	m *member) verdict {
	now := r.now()
	for _, region := range r.Regions {
		if region == key.Region {
			continue
		}
		at := imageKey{Region: region, ImageID: key.ImageID}
		if e, ok := r.reads.meta(identity, at, r.readMaxAge(), now); ok {
			if e.found {
				return r.regionMismatch(key, region)
			}
			continue
		}
		images, err := cl.DescribeImages(ctx, region, []string{key.ImageID})
		if err != nil {
			switch cloud.ReasonOf(err) {
			case cloud.ReasonRegionMismatch, cloud.ReasonImageNotFound:
				// Not available to this account there: keep looking.
				r.reads.putMeta(identity, at, metaEntry{fetched: now})
				continue
			}
			v := r.failure(m, key, err)
			if !v.stalled {
				v.message = fmt.Sprintf("Looking for image %s outside %s: %s", key.ImageID, key.Region, v.message)
			}
			return v
		}
		img, found := images[key.ImageID]
		r.reads.putMeta(identity, at, metaEntry{image: img, found: found, fetched: now})
		if found {
			logf.FromContext(ctx).Info("Found image in another region", "foundIn", region)
			return r.regionMismatch(key, region)
		}
	}
	return r.stalled(cvmv1alpha1.ReasonImageNotFound, fmt.Sprintf(
		"Image %s was not found in %s or any other region: check spec.imageId and that the credentials belong "+
			"to the image owner", key.ImageID, key.Region))
}

// notShareable says why Tencent would refuse to share img, or "".
func notShareable(img cloud.Image) string {
	switch {
	case img.Type == cloud.ImageTypeShared:
		return "is shared to this account by its owner (SHARED_IMAGE)"
	case img.Type != "" && img.Type != cloud.ImageTypePrivate:
		return fmt.Sprintf("is not a custom image (%s)", img.Type)
	case img.LicenseType == cloud.LicenseTypeBYOL:
		return "is a bring-your-own-license (BYOL) image"
	case img.Encrypted:
		return "is encrypted"
	case slices.Contains(failedStates, img.State):
		return fmt.Sprintf("is in the failed state %s", img.State)
	}
	return ""
}

func remedyNotShareable(img cloud.Image) string {
	switch {
	case img.Type == cloud.ImageTypeShared:
		return "ask its owner to share it with the accounts instead"
	case slices.Contains(failedStates, img.State):
		return "build the image again and share the new one"
	}
	return "share a custom image built without it instead"
}

func (r *ImageShareReconciler) regionMismatch(key imageKey, region string) verdict {
	return r.stalled(cvmv1alpha1.ReasonRegionMismatch, fmt.Sprintf(
		"Image %s is in %s, not %s: images are shared only inside their own region; "+
			"create an ImageShare with region %s (add %s to its replicaRegions to share a copy there)",
		key.ImageID, region, key.Region, region, key.Region))
}
