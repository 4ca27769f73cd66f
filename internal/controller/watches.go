package controller

import (
	"context"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// imagesOf maps an ImageShare to the images it concerns: its own (or, when its
// image is a copy another ImageShare maintains, that maintainer's source
// image), and the copies its status records.
func (r *ImageShareReconciler) imagesOf(ctx context.Context, o client.Object) []reconcile.Request {
	obj := o.(*cvmv1alpha1.ImageShare)
	own := keyOf(obj)
	keys := []imageKey{own}
	if src, ok := r.rootOf(ctx, own); ok {
		keys[0] = src
	}
	for _, st := range obj.Status.Regions {
		if st.ImageID != "" {
			keys = append(keys, imageKey{Region: st.Region, ImageID: st.ImageID})
		}
	}
	out := make([]reconcile.Request, 0, len(keys)+2)
	// The Secrets it references (or held before credentialsRef changed): the
	// last ImageShare of a Secret going away is what releases the Secret.
	for _, name := range []string{refName(obj), obj.Status.SecretInUse} {
		if name != "" {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{
				Namespace: secretKeyPrefix + obj.Namespace, Name: name}})
		}
	}
	for _, k := range keys {
		if src, ok := r.rootOf(ctx, k); ok && k != own {
			k = src
		}
		req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: k.Region, Name: k.ImageID}}
		if !slices.Contains(out, req) {
			out = append(out, req)
		}
	}
	return out
}

// coalesceDelay is how long an image waits after a change or deletion of one
// of its ImageShares before it is reconciled. The window slides with each
// event (bursts.go), up to maxCoalesce, so a burst (`kubectl delete -l`, a
// namespace going away, a GitOps sync touching fifty objects of one golden
// image) becomes one plan: one share-list read and full 100-account CANCEL
// batches, instead of a reconcile, a read and a part-filled batch per object.
const coalesceDelay = 300 * time.Millisecond

// coalescing enqueues the images mapper names: at once for a new object (a
// first plan, or the initial list when the manager starts), after
// coalesceDelay for a change or deletion, which b also records so that the
// reconcile waits for the burst to end.
func coalescing(mapper handler.MapFunc, b *bursts) handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], after time.Duration,
		objs ...client.Object) {
		for _, o := range objs {
			for _, req := range mapper(ctx, o) {
				if after > 0 {
					b.event(req)
					q.AddAfter(req, after)
				} else {
					q.Add(req)
				}
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, 0, e.Object)
		},
		// Both the old and the new object: a changed imageId or region
		// concerns the image it leaves as well as the one it joins.
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, coalesceDelay, e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, coalesceDelay, e.Object)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, 0, e.Object)
		},
	}
}

// changePredicate passes what can change a plan: spec, annotations other than
// our own write-ahead record, labels, finalizers, deletion, and a new copy in
// status (so the copy's ImageShares join its maintainer). Other status
// writes are our own and would only loop.
type changePredicate struct{ predicate.Funcs }

// Update passes an update that can change a plan.
func (changePredicate) Update(e event.UpdateEvent) bool {
	o, n := e.ObjectOld.(*cvmv1alpha1.ImageShare), e.ObjectNew.(*cvmv1alpha1.ImageShare)
	if o == nil || n == nil {
		return true
	}
	return o.Generation != n.Generation ||
		!slices.Equal(copyKeys(o), copyKeys(n)) ||
		o.DeletionTimestamp.IsZero() != n.DeletionTimestamp.IsZero() ||
		!slices.Equal(o.Finalizers, n.Finalizers) ||
		!equalExcept(o.Annotations, n.Annotations, PendingSharesAnnotation) ||
		!equalExcept(o.Labels, n.Labels, "")
}

func equalExcept(a, b map[string]string, skip string) bool {
	for k, v := range a {
		if k != skip && b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if k != skip && a[k] != v {
			return false
		}
	}
	return true
}

// imagesOfConfigMap maps a ConfigMap to the images of the ImageShares whose
// spec.accountsFrom reads it.
func (r *ImageShareReconciler) imagesOfConfigMap(ctx context.Context, o client.Object) []reconcile.Request {
	objs, err := r.listBy(ctx, configMapField, o.GetNamespace()+"/"+o.GetName())
	if err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, ims := range objs {
		for _, req := range r.imagesOf(ctx, ims) {
			if !slices.Contains(out, req) {
				out = append(out, req)
			}
		}
	}
	return out
}
