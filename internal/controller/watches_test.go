package controller

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// recordingQueue records what a handler enqueues and when it asks for it.
type recordingQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	now   []reconcile.Request
	after map[reconcile.Request]time.Duration
}

func (q *recordingQueue) Add(r reconcile.Request) { q.now = append(q.now, r) }
func (q *recordingQueue) AddAfter(r reconcile.Request, d time.Duration) {
	q.after[r] = d
}

// TestCoalescing: a new object is planned at once; a change or a deletion
// waits coalesceDelay so a burst on one image becomes one reconcile, and a
// change of imageId enqueues the image left as well as the one joined.
func TestCoalescing(t *testing.T) {
	obj := func(image string) *cvmv1alpha1.ImageShare {
		return &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"},
			Spec: cvmv1alpha1.ImageShareSpec{ImageID: image, Region: "ap-guangzhou"}}
	}
	req := func(image string) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ap-guangzhou", Name: image}}
	}
	mapper := func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{req(o.(*cvmv1alpha1.ImageShare).Spec.ImageID)}
	}
	h := coalescing(mapper, nil)
	ctx := context.Background()
	newQueue := func() *recordingQueue { return &recordingQueue{after: map[reconcile.Request]time.Duration{}} }

	q := newQueue()
	h.Create(ctx, event.CreateEvent{Object: obj("img-a")}, q)
	if len(q.now) != 1 || q.now[0] != req("img-a") || len(q.after) != 0 {
		t.Errorf("create: now %v, after %v; want img-a at once", q.now, q.after)
	}

	q = newQueue()
	h.Update(ctx, event.UpdateEvent{ObjectOld: obj("img-a"), ObjectNew: obj("img-b")}, q)
	if len(q.now) != 0 || q.after[req("img-a")] != coalesceDelay || q.after[req("img-b")] != coalesceDelay {
		t.Errorf("update: now %v, after %v; want img-a and img-b after %s", q.now, q.after, coalesceDelay)
	}

	q = newQueue()
	h.Delete(ctx, event.DeleteEvent{Object: obj("img-a")}, q)
	if len(q.now) != 0 || q.after[req("img-a")] != coalesceDelay {
		t.Errorf("delete: now %v, after %v; want img-a after %s", q.now, q.after, coalesceDelay)
	}
}
