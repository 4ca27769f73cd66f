package main

import (
	"maps"
	"sync"
	"time"

	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// sample is the cloud at one moment of a workload: the shares it holds and
// the calls made so far, by action.
type sample struct {
	at     time.Duration
	shared int
	calls  map[string]int
}

// sampler reads the emulator every interval until stopped, for the plots.
type sampler struct {
	stopCh  chan struct{}
	done    sync.WaitGroup
	samples []sample
}

// startSampler samples emu from now on; the interval grows with the cloud's
// size so that sampling stays cheap next to the manager.
func startSampler(emu *emulator.Emulator, images int) *sampler {
	s := &sampler{stopCh: make(chan struct{})}
	interval := 200*time.Millisecond + time.Duration(images)*20*time.Microsecond
	start := time.Now()
	take := func() {
		s.samples = append(s.samples, sample{at: time.Since(start), shared: sharedPairs(emu),
			calls: maps.Clone(emu.Stats().Calls)})
	}
	take()
	s.done.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stopCh:
				take()
				return
			case <-t.C:
				take()
			}
		}
	})
	return s
}

// stop ends the sampling and returns the samples.
func (s *sampler) stop() []sample {
	close(s.stopCh)
	s.done.Wait()
	return s.samples
}
