package tencent

import (
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultQPS is the client-side budget per credential and action when none
// is set: Tencent's documented limit for the share APIs.
const DefaultQPS = 10

// The adaptation of the client-side rate (AIMD): a RequestLimitExceeded cuts
// an action's rate by cutFactor, at most once per cutSpacing and never for an
// answer to a call sent before the last cut (those calls were admitted at the
// old rate); after recoverHold without a cut the rate climbs back by
// recoverFraction of the ceiling per second, up to the ceiling (--api-qps).
// The rate never falls below floorFraction of the ceiling.
const (
	cutFactor       = 0.8
	cutSpacing      = time.Second
	recoverHold     = time.Second
	recoverFraction = 0.05
	floorFraction   = 0.1
	// bookedTTL is how long a booked slot nobody came back for is kept.
	bookedTTL = time.Minute
)

// limiter is the client-side rate limit of one credential: a token bucket per
// action, whose rate adapts to the cloud's RequestLimitExceeded answers. It
// never sleeps: a call that may not go now is told when it may.
type limiter struct {
	now     func() time.Time
	ceiling float64

	mu      sync.Mutex
	actions map[string]*actionRate
	booked  map[string]time.Time // by action and request: when its slot comes
	swept   time.Time            // when booked was last cleared of forgotten slots
}

// actionRate is one action's bucket and the state of its adaptation.
type actionRate struct {
	bucket   *rate.Limiter
	rate     float64
	cutAt    time.Time // when the rate was last cut; zero if never
	raisedAt time.Time // when the recovery was last applied
}

func newLimiter(qps float64, now func() time.Time) *limiter {
	if qps <= 0 {
		qps = DefaultQPS
	}
	if now == nil {
		now = time.Now
	}
	return &limiter{now: now, ceiling: qps, actions: map[string]*actionRate{}, booked: map[string]time.Time{}}
}

// action returns the state of action at now, its recovery applied. l.mu is held.
func (l *limiter) action(name string, now time.Time) *actionRate {
	a, ok := l.actions[name]
	if !ok {
		a = &actionRate{bucket: rate.NewLimiter(rate.Limit(l.ceiling), max(int(l.ceiling), 1)), rate: l.ceiling}
		l.actions[name] = a
		return a
	}
	if a.rate >= l.ceiling {
		return a
	}
	from := a.cutAt.Add(recoverHold)
	if a.raisedAt.After(from) {
		from = a.raisedAt
	}
	if now.After(from) {
		a.rate = min(l.ceiling, a.rate+l.ceiling*recoverFraction*now.Sub(from).Seconds())
		a.raisedAt = now
		a.bucket.SetLimitAt(now, rate.Limit(a.rate))
	}
	return a
}

// rate is action's current rate in calls per second.
func (l *limiter) rate(action string) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.action(action, l.now()).rate
}

// admit returns 0 when the call may go now, or how long until its slot. key
// names the request (action, region, image): a request that was told to come
// back finds its slot booked and goes when it comes. A low-priority call books
// nothing: it goes only if a token is free now, and otherwise is told to come
// back after the slots already booked, plus a spread so background retries do
// not arrive together.
func (l *limiter) admit(action, key string, low bool) time.Duration {
	now := l.now()
	key = action + " " + key
	l.mu.Lock()
	defer l.mu.Unlock()
	if booked, ok := l.booked[key]; ok {
		if wait := booked.Sub(now); wait > 0 {
			return wait
		}
		delete(l.booked, key)
		return 0 // the token was taken when the slot was booked
	}
	r := l.action(action, now).bucket.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if wait == 0 {
		return 0
	}
	if low {
		r.CancelAt(now)
		return wait + spread()
	}
	l.book(key, now, wait)
	return wait
}

// throttled records that the cloud answered RequestLimitExceeded to a call of
// action admitted at sent, and returns how long its retry should wait. The
// action's rate is cut (see cutFactor), and unless the call was low priority
// the retry's slot is booked, at least one interval of the new rate away.
func (l *limiter) throttled(action, key string, sent time.Time, low bool) time.Duration {
	now := l.now()
	key = action + " " + key
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.action(action, now)
	if !sent.Before(a.cutAt) && now.Sub(a.cutAt) >= cutSpacing {
		a.rate = max(l.ceiling*floorFraction, a.rate*cutFactor)
		a.cutAt, a.raisedAt = now, now
		a.bucket.SetLimitAt(now, rate.Limit(a.rate))
	}
	interval := time.Duration(float64(time.Second) / a.rate)
	if low {
		return interval + spread()
	}
	wait := max(a.bucket.ReserveN(now, 1).DelayFrom(now), interval)
	l.book(key, now, wait)
	return wait
}

// book holds the slot at now+wait for key. l.mu is held.
func (l *limiter) book(key string, now time.Time, wait time.Duration) {
	// Forget slots nobody came back for, so the map stays bounded.
	if now.Sub(l.swept) > bookedTTL/4 {
		l.swept = now
		for k, t := range l.booked {
			if now.Sub(t) > bookedTTL {
				delete(l.booked, k)
			}
		}
	}
	l.booked[key] = now.Add(wait)
}

// spread is a random delay of up to a second.
func spread() time.Duration { return time.Duration(rand.Int64N(int64(time.Second))) }
