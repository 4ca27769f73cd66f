package controller

import "sync"

// writeConcurrency is how many members' Kubernetes writes (finalizers,
// status patches) one reconcile has in flight. They concern different
// objects, so their order does not matter, and one image with a hundred
// ImageShares would otherwise wait for a hundred round trips in a row; the
// manager's Kubernetes client limiter (--kube-api-qps) still sets the rate.
const writeConcurrency = 8

// inParallel calls fn(i) for every i < n, at most writeConcurrency at a
// time, and returns when all have.
func inParallel(n int, fn func(i int)) {
	if n <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	sem := make(chan struct{}, writeConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}
