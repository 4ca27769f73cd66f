package policy

import (
	"cmp"
	"slices"
	"strings"

	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// selectImages returns the images a policy shares, newest first, and the
// admitted images that fell out of keepLatest (also newest first).
//
// NORMAL alone admits and ranks a new image. An image that already has a
// child (hasChild) stays admitted while it is listed in any state but a
// failed or deleting one: a transient SYNCING or USING read does not cancel
// its shares. Admitted images are ordered by creation time then image ID
// (both descending, so the order is total and the same on every reconcile),
// and only the first keepLatest of them are selected when keepLatest is
// positive.
func selectImages(images []cloud.ListedImage, keepLatest int32, hasChild func(imageID string) bool) (
	selected, surplus []cloud.ListedImage) {
	out := make([]cloud.ListedImage, 0, len(images))
	for _, img := range images {
		if img.State == cloud.ImageStateNormal ||
			(hasChild != nil && hasChild(img.ID) && !failedOrDeleted(img.State)) {
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
		return out[:keepLatest], out[keepLatest:]
	}
	return out, nil
}

// failedOrDeleted reports an image state that ends an image's sharing:
// CREATEFAILED, IMPORTFAILED, or one being deleted.
func failedOrDeleted(state string) bool {
	s := strings.ToUpper(state)
	return strings.Contains(s, "FAIL") || strings.Contains(s, "DELET")
}

// childName is the name of the ImageShare that shares imageID for a policy.
func childName(policy, imageID string) string {
	return policy + "-" + imageID
}
