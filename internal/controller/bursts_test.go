package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// TestBursts: the window slides with each event, never past maxCoalesce
// from the first, and a reconcile that goes ahead forgets the burst.
func TestBursts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	b := newBursts(func() time.Time { return now })
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ap-guangzhou", Name: "img-a"}}
	at := func(d time.Duration) { now = t0.Add(d) }

	if w := b.wait(req); w != 0 {
		t.Fatalf("no event: waits %v", w)
	}
	b.event(req)
	at(200 * time.Millisecond)
	b.event(req) // the burst goes on
	at(300 * time.Millisecond)
	if w := b.wait(req); w != 200*time.Millisecond {
		t.Fatalf("waits %v, want 200ms (quiet 300ms after the last event)", w)
	}
	for d := 400 * time.Millisecond; d <= 900*time.Millisecond; d += 100 * time.Millisecond {
		at(d)
		b.event(req) // a steady stream
	}
	at(950 * time.Millisecond)
	if w := b.wait(req); w != 50*time.Millisecond {
		t.Fatalf("waits %v, want 50ms (capped at maxCoalesce from the first event)", w)
	}
	at(maxCoalesce)
	if w := b.wait(req); w != 0 {
		t.Fatalf("waits %v at maxCoalesce", w)
	}
	if len(b.m) != 0 {
		t.Fatalf("the burst is still remembered: %v", b.m)
	}
	b.event(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: secretKeyPrefix + "ns", Name: "creds"}})
	if len(b.m) != 0 {
		t.Fatalf("a Secret key was recorded, and nothing would forget it: %v", b.m)
	}
	var none *bursts
	none.event(req)
	if w := none.wait(req); w != 0 {
		t.Fatalf("nil bursts waits %v", w)
	}
}
