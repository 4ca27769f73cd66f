package tencent

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// fakeClock is a settable clock for the limiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newFakeLimiter(qps float64) (*limiter, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return newLimiter(qps, clk.now), clk
}

const list = "DescribeImageSharePermission"

// step is one event on the limiter's fake clock: a pause, then a throttle
// answer to a call sent `sentAgo` before now (or none), then the rate check.
type step struct {
	after    time.Duration
	throttle bool
	sentAgo  time.Duration
	want     float64
}

func TestLimiterAdaptsAIMD(t *testing.T) {
	tests := []struct {
		name  string
		qps   float64
		steps []step
	}{
		{"starts at the ceiling", 10, []step{{want: 10}}},
		{"a throttle cuts the rate by a fifth", 10, []step{{throttle: true, want: 8}}},
		{"answers to calls sent before the cut do not cut again", 10, []step{
			{throttle: true, want: 8},
			{after: 1500 * time.Millisecond, throttle: true, sentAgo: 2 * time.Second, want: 8.25},
		}},
		{"throttles within a second of a cut count once", 10, []step{
			{throttle: true, want: 8},
			{after: 500 * time.Millisecond, throttle: true, want: 8},
		}},
		{"a later throttle cuts again", 10, []step{
			{throttle: true, want: 8},
			{after: time.Second, throttle: true, want: 6.4},
		}},
		{"no recovery in the first second after a cut", 10, []step{
			{throttle: true, want: 8},
			{after: time.Second, want: 8},
		}},
		{"recovers by 5% of the ceiling per second, then holds at the ceiling", 10, []step{
			{throttle: true, want: 8},
			{after: 3 * time.Second, want: 9},
			{after: 2 * time.Second, want: 10},
			{after: time.Minute, want: 10},
		}},
		{"never below a tenth of the ceiling", 10, []step{
			{throttle: true, want: 8}, {after: time.Second, throttle: true, want: 6.4},
			{after: time.Second, throttle: true, want: 5.12}, {after: time.Second, throttle: true, want: 4.096},
			{after: time.Second, throttle: true, want: 3.2768}, {after: time.Second, throttle: true, want: 2.62144},
			{after: time.Second, throttle: true, want: 2.097152}, {after: time.Second, throttle: true, want: 1.6777216},
			{after: time.Second, throttle: true, want: 1.34217728}, {after: time.Second, throttle: true, want: 1.073741824},
			{after: time.Second, throttle: true, want: 1}, {after: time.Second, throttle: true, want: 1},
		}},
		{"zero takes the default", 0, []step{{want: DefaultQPS}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newFakeLimiter(tt.qps)
			for i, s := range tt.steps {
				clk.advance(s.after)
				if s.throttle {
					_ = l.throttled(list, "img", clk.now().Add(-s.sentAgo), false)
				}
				if got := l.rate(list); math.Abs(got-s.want) > 1e-9 {
					t.Fatalf("step %d: rate = %v, want %v", i, got, s.want)
				}
			}
		})
	}
}

// TestLimiterActionsAdaptApart: a throttle on one action leaves the others'
// rates alone.
func TestLimiterActionsAdaptApart(t *testing.T) {
	l, _ := newFakeLimiter(10)
	_ = l.throttled(list, "img", l.now(), false)
	if got := l.rate("ModifyImageSharePermission"); got != 10 {
		t.Fatalf("another action's rate = %v, want 10", got)
	}
}

// TestLimiterPacesAtTheAdaptedRate: after a cut the bucket hands out tokens
// at the new rate, and the client never waits: it is told when to come back.
func TestLimiterPacesAtTheAdaptedRate(t *testing.T) {
	l, clk := newFakeLimiter(10)
	for i := range 10 { // the burst
		if w := l.admit(list, fmt.Sprint(i), false); w != 0 {
			t.Fatalf("call %d of the burst waits %s", i, w)
		}
	}
	retry := l.throttled(list, "9", clk.now(), false) // the cloud disagreed: 8/s now
	if want := time.Second / 8; retry < want {
		t.Fatalf("the throttled call's retry comes in %s, want at least %s", retry, want)
	}
	next := l.admit(list, "new", false)
	if next <= retry {
		t.Fatalf("a new call's slot (%s) is not after the throttled call's retry (%s)", next, retry)
	}
	if gap, want := next-retry, time.Second/8; gap < want-time.Millisecond || gap > want+time.Millisecond {
		t.Fatalf("slots %s apart, want %s (8/s)", gap, want)
	}
	// Coming back at its slot, the throttled call goes.
	clk.advance(retry)
	if w := l.admit(list, "9", false); w != 0 {
		t.Fatalf("the retry at its booked slot waits %s more", w)
	}
}

// TestLimiterLowPriorityBooksNothing: a low-priority call that is throttled
// is told to come back later, and holds no slot that others would queue behind.
func TestLimiterLowPriorityBooksNothing(t *testing.T) {
	l, _ := newFakeLimiter(1)
	if w := l.admit(list, "a", true); w != 0 {
		t.Fatalf("the first call waits %s", w)
	}
	if w := l.throttled(list, "a", l.now(), true); w <= 0 {
		t.Fatalf("a throttled low-priority call is told to retry in %s", w)
	}
	if len(l.booked) != 0 {
		t.Fatalf("a low-priority call booked %v", l.booked)
	}
}

// TestLimiterForgetsStaleSlots: slots nobody came back for are dropped.
func TestLimiterForgetsStaleSlots(t *testing.T) {
	l, clk := newFakeLimiter(1)
	_ = l.admit(list, "a", false)
	_ = l.admit(list, "b", false) // booked
	clk.advance(2 * bookedTTL)
	_ = l.admit(list, "c", false)
	_ = l.admit(list, "d", false) // books, and sweeps b
	if _, ok := l.booked[list+" b"]; ok {
		t.Fatal("a slot nobody came back for was kept")
	}
}
