package policy

import (
	"cmp"
	"slices"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// selectImages returns the images a policy shares, newest first: only NORMAL
// images count, ordered by creation time then image ID (both descending, so
// the order is total and the same on every reconcile), and only the first
// keepLatest of them when keepLatest is positive.
func selectImages(images []cloud.ListedImage, keepLatest int32) []cloud.ListedImage {
	out := make([]cloud.ListedImage, 0, len(images))
	for _, img := range images {
		if img.State == cloud.ImageStateNormal {
			out = append(out, img)
		}
	}
	slices.SortFunc(out, func(a, b cloud.ListedImage) int {
		if c := b.CreatedTime.Compare(a.CreatedTime); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if keepLatest > 0 && len(out) > int(keepLatest) {
		out = out[:keepLatest]
	}
	return out
}

// childName is the name of the ImageShare that shares imageID for a policy.
func childName(policy, imageID string) string {
	return policy + "-" + imageID
}
