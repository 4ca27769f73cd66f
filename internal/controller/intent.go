package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// PendingSharesAnnotation lists accounts the controller is about to share for
// an ImageShare. It is written before the SHARE call and cleared once the
// status records the outcome: a manager killed between the two would
// otherwise forget that it shared them, and never cancel them when the spec
// drops them or the object is deleted.
const PendingSharesAnnotation = "cvm.imageshare.dev/pending-shares"

// pendingShares reads the annotation.
func pendingShares(o *cvmv1alpha1.ImageShare) []string {
	v := o.Annotations[PendingSharesAnnotation]
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// recordIntent writes, on every ImageShare that lists some of the accounts
// about to be shared, which of them it is about to get.
func (r *ImageShareReconciler) recordIntent(ctx context.Context, objs []*cvmv1alpha1.ImageShare,
	share []string) error {
	for _, o := range objs {
		var mine []string
		for _, a := range share {
			if slices.Contains(o.Spec.AccountIDs, a) {
				mine = append(mine, a)
			}
		}
		if len(mine) == 0 {
			continue
		}
		pending := pendingShares(o)
		for _, a := range mine {
			if !slices.Contains(pending, a) {
				pending = append(pending, a)
			}
		}
		slices.Sort(pending)
		value := strings.Join(pending, ",")
		if value == o.Annotations[PendingSharesAnnotation] {
			continue
		}
		if err := r.patchAnnotation(ctx, o, &value); err != nil {
			return err
		}
	}
	return nil
}

// clearIntent removes the annotation once status.sharedAccountIds is written.
func (r *ImageShareReconciler) clearIntent(ctx context.Context, o *cvmv1alpha1.ImageShare) error {
	if _, ok := o.Annotations[PendingSharesAnnotation]; !ok {
		return nil
	}
	return r.patchAnnotation(ctx, o, nil)
}

// patchAnnotation sets (or, with nil, removes) the annotation with a merge
// patch that touches nothing else.
func (r *ImageShareReconciler) patchAnnotation(ctx context.Context, o *cvmv1alpha1.ImageShare, value *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{PendingSharesAnnotation: value}}})
	if err != nil {
		return err
	}
	if err := r.Patch(ctx, o, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("record pending shares on %s/%s: %w", o.Namespace, o.Name, err)
	}
	return nil
}
