package controller

import (
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// maxCoalesce bounds how long a burst of changes to one image may hold its
// reconcile back: a steady stream of edits is still planned this often.
const maxCoalesce = time.Second

// bursts slides the coalescing window of an image key: the reconcile of a
// change or deletion waits until the image's events have been quiet for
// coalesceDelay, at most maxCoalesce after the burst began. Fifty objects
// deleted together reach the API server, and then us, over several hundred
// milliseconds on a busy control plane; a fixed window from the first event
// split such a burst into two plans (two share-list reads, a part-filled
// CANCEL batch). An entry lives only while its burst does: the reconcile
// that goes ahead removes it, so the map holds at most the images with
// changes not yet planned.
type bursts struct {
	mu  sync.Mutex
	m   map[reconcile.Request]burst
	now func() time.Time
}

type burst struct{ first, last time.Time }

func newBursts(now func() time.Time) *bursts {
	return &bursts{m: map[reconcile.Request]burst{}, now: now}
}

// event records a change or deletion concerning req. Secret keys are not
// held back (their reconcile is cheap), so they are not recorded: nothing
// would ever remove them.
func (b *bursts) event(req reconcile.Request) {
	if b == nil || strings.HasPrefix(req.Namespace, secretKeyPrefix) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	e, ok := b.m[req]
	if !ok {
		e.first = now
	}
	e.last = now
	b.m[req] = e
}

// wait returns how much longer the reconcile of req should wait for its
// burst to end; 0 means go ahead (and the burst is forgotten).
func (b *bursts) wait(req reconcile.Request) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[req]
	if !ok {
		return 0
	}
	now := b.now()
	quietAt := e.last.Add(coalesceDelay)
	if deadline := e.first.Add(maxCoalesce); deadline.Before(quietAt) {
		quietAt = deadline
	}
	if d := quietAt.Sub(now); d > 0 {
		return d
	}
	delete(b.m, req)
	return 0
}
