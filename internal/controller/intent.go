package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// PendingSharesAnnotation lists accounts the controller is about to share for
// an ImageShare: "acct" for its own image, "region=acct" for its copy in a
// replica region. It is written before the SHARE call and cleared once the
// status records the outcome: a manager killed between the two would
// otherwise forget that it shared them, and never cancel them when the spec
// drops them or the object is deleted.
const PendingSharesAnnotation = "cvm.imageshare.dev/pending-shares"

// ReconcileRequestedAnnotation, set to any new value, makes the next
// reconcile read the cloud afresh (metadata, share lists, copies) instead of
// this resync period's cached reads; the value is echoed in
// status.lastHandledReconcileAt once handled.
const ReconcileRequestedAnnotation = "cvm.imageshare.dev/reconcile-requested-at"

// minForcedReadInterval is how recent a read must be to count as fresh for
// a forced one: a tenant rewriting the annotation in a loop cannot spend the
// identity's shared rate budget faster than this.
const minForcedReadInterval = 10 * time.Second

// reconcileRequested reports whether o asks for a fresh read not yet handled,
// and its last read is not already that fresh.
func reconcileRequested(o *cvmv1alpha1.ImageShare, now time.Time) bool {
	v, ok := o.Annotations[ReconcileRequestedAnnotation]
	fresh := o.Status.LastSyncTime != nil && now.Sub(o.Status.LastSyncTime.Time) < minForcedReadInterval
	return ok && v != o.Status.LastHandledReconcileAt && !fresh
}

// pendingShares reads the annotation's accounts for one scope ("" for the
// object's own image, else a replica region).
func pendingShares(o *cvmv1alpha1.ImageShare, scope string) []string {
	v := o.Annotations[PendingSharesAnnotation]
	if v == "" {
		return nil
	}
	var out []string
	for e := range strings.SplitSeq(v, ",") {
		region, acct, scoped := strings.Cut(e, "=")
		switch {
		case !scoped && scope == "":
			out = append(out, e)
		case scoped && region == scope:
			out = append(out, acct)
		}
	}
	return out
}

func pendingEntry(scope, acct string) string {
	if scope == "" {
		return acct
	}
	return scope + "=" + acct
}

// recordPending writes, before the SHARE call, which of the accounts about
// to be shared each seat will manage.
func (r *ImageShareReconciler) recordPending(ctx context.Context, seats []*seat, share []string) error {
	locked := map[types.NamespacedName]bool{} // one fresh read per Secret, however many seats share it
	for _, s := range seats {
		if s.leaving || s.m.passive() || s.conflict != "" {
			continue
		}
		cur := s.m.obj.Annotations[PendingSharesAnnotation]
		entries := []string{}
		if cur != "" {
			entries = strings.Split(cur, ",")
		}
		for _, a := range share {
			if e := pendingEntry(s.scope, a); slices.Contains(s.listed, a) && !slices.Contains(entries, e) {
				entries = append(entries, e)
			}
		}
		slices.Sort(entries)
		value := strings.Join(entries, ",")
		// Nothing new to record; unless the object still lacks the finalizer
		// that must honour what it records (an object created with the record).
		if value == cur && (!s.m.needsFinalizer || value == "") {
			continue
		}
		if err := r.patchPending(ctx, s.m, &value); err != nil {
			return err
		}
		// The keys must outlive the shares they are about to make.
		if ref := s.m.obj.Spec.CredentialsRef; ref != nil {
			name := types.NamespacedName{Namespace: s.m.obj.Namespace, Name: ref.Name}
			if locked[name] {
				continue
			}
			if err := r.lockSecret(ctx, name, true); err != nil {
				return err
			}
			locked[name] = true
		}
	}
	return nil
}

// clearPending removes the annotation once the status records every pending
// share's outcome (managed, or not shared).
func (r *ImageShareReconciler) clearPending(ctx context.Context, m *member) error {
	if _, ok := m.obj.Annotations[PendingSharesAnnotation]; !ok {
		return nil
	}
	return r.patchPending(ctx, m, nil)
}

// patchPending sets (or, with nil, removes) the annotation with a merge patch
// that touches nothing else, and keeps m's copy in step.
func (r *ImageShareReconciler) patchPending(ctx context.Context, m *member, value *string) error {
	meta := map[string]any{"annotations": map[string]any{PendingSharesAnnotation: value}}
	if m.needsFinalizer && value != nil {
		// The record and the finalizer that will honour it, in one write.
		meta["finalizers"] = append(slices.Clone(m.obj.Finalizers), Finalizer)
	}
	patch, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return fmt.Errorf("encode pending shares of %s: %w", m.name(), err)
	}
	answer := m.obj.DeepCopy()
	if err := r.Patch(ctx, answer, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("record pending shares on %s: %w", m.name(), err)
	}
	// Only what the patch wrote is taken from its answer.
	m.tookFinalizers(answer)
	for _, o := range []*cvmv1alpha1.ImageShare{m.obj, m.base} {
		switch {
		case value == nil:
			delete(o.Annotations, PendingSharesAnnotation)
		case o.Annotations == nil:
			o.Annotations = map[string]string{PendingSharesAnnotation: *value}
		default:
			o.Annotations[PendingSharesAnnotation] = *value
		}
	}
	m.needsFinalizer = m.needsFinalizer && value == nil
	return nil
}
