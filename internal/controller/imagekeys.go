package controller

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// imageKey is the unit of work: one image in one region.
type imageKey struct{ Region, ImageID string }

// String is the workqueue and index form, region/imageId.
func (k imageKey) String() string { return k.Region + "/" + k.ImageID }

func keyOf(o *cvmv1alpha1.ImageShare) imageKey {
	return imageKey{Region: o.Spec.Region, ImageID: o.Spec.ImageID}
}

// copyKeys are region/imageId of the copies o's status records.
func copyKeys(o *cvmv1alpha1.ImageShare) []string {
	var out []string
	for _, st := range o.Status.Regions {
		if st.ImageID != "" {
			out = append(out, imageKey{Region: st.Region, ImageID: st.ImageID}.String())
		}
	}
	return out
}

// listBy lists ImageShares by one of the cache indexes, oldest first.
func (r *ImageShareReconciler) listBy(ctx context.Context, field, value string) ([]*cvmv1alpha1.ImageShare, error) {
	var list cvmv1alpha1.ImageShareList
	if err := r.List(ctx, &list, client.MatchingFields{field: value}); err != nil {
		return nil, fmt.Errorf("list ImageShares by %s %s: %w", field, value, err)
	}
	out := make([]*cvmv1alpha1.ImageShare, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	slices.SortFunc(out, func(a, b *cvmv1alpha1.ImageShare) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), strings.Compare(a.Namespace, b.Namespace),
			strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// maxCopyDepth bounds how far copies of copies are followed.
const maxCopyDepth = 3

// rootOf returns the image whose reconcile plans k: the source of the source
// of a copy, as far as ImageShares maintain them; ok is false when k is its
// own root.
func (r *ImageShareReconciler) rootOf(ctx context.Context, k imageKey) (imageKey, bool) {
	root, found := k, false
	for range maxCopyDepth {
		src, ok := r.maintainerOf(ctx, root)
		if !ok || src == k {
			break
		}
		root, found = src, true
	}
	return root, found
}

// maintainerOf returns the source image of the ImageShare that maintains k as
// a copy (through replicaRegions), if any.
func (r *ImageShareReconciler) maintainerOf(ctx context.Context, k imageKey) (imageKey, bool) {
	owners, err := r.listBy(ctx, copyKeyField, k.String())
	if err != nil || len(owners) == 0 {
		return imageKey{}, false
	}
	return keyOf(owners[0]), true
}

// managesCloud reports whether o holds anything in the cloud it must undo on
// deletion: a managed share, a pending share, or a copy.
func managesCloud(o *cvmv1alpha1.ImageShare) bool {
	if len(o.Status.ManagedAccountIDs) > 0 || len(pendingShares(o, "")) > 0 {
		return true
	}
	for _, st := range o.Status.Regions {
		if st.ImageID != "" || len(st.ManagedAccountIDs) > 0 || len(pendingShares(o, st.Region)) > 0 {
			return true
		}
	}
	return false
}
