package tencent

import (
	"sync"
	"time"
)

// breaker stops calls to an endpoint that does not answer: after a network
// failure, calls fail at once for a cool-down that doubles with each further
// failure (up to a minute), and one call at a time probes the endpoint. Any
// answer from the API, even an error, closes it. Without it, an outage would
// cost a call per object per retry, however many objects wait.
type breaker struct {
	// endpoint labels imageshare_circuit_open.
	endpoint  string
	mu        sync.Mutex
	failures  int
	openUntil time.Time
}

func newBreaker(endpoint string) *breaker {
	circuitOpen.WithLabelValues(endpoint).Set(0)
	return &breaker{endpoint: endpoint}
}

// allow reports how long calls must still wait, or 0.
func (b *breaker) allow(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if wait := b.openUntil.Sub(now); wait > 0 {
		return wait
	}
	if b.failures > 0 {
		// Half-open: let this call probe, hold the others back meanwhile.
		b.openUntil = now.Add(time.Second)
	}
	return 0
}

func (b *breaker) record(now time.Time, networkFailure bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !networkFailure {
		b.failures, b.openUntil = 0, time.Time{}
		circuitOpen.WithLabelValues(b.endpoint).Set(0)
		return
	}
	b.failures++
	// Open, or half-open until a probe gets an answer: either way the
	// endpoint's last call went unanswered.
	circuitOpen.WithLabelValues(b.endpoint).Set(1)
	b.openUntil = now.Add(min(time.Duration(1<<min(b.failures, 7))*500*time.Millisecond, time.Minute))
}
