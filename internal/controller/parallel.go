package controller

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// writeConcurrency is how many members' Kubernetes writes (finalizers,
// status patches) one reconcile has in flight. They concern different
// objects, so their order does not matter, and one image with a hundred
// ImageShares would otherwise wait for a hundred round trips in a row; the
// manager's Kubernetes client limiter (--kube-api-qps) still sets the rate.
const writeConcurrency = 8

// inParallel calls fn(i) for every i < n, at most writeConcurrency at a
// time, and returns when all have. A panic in fn is raised again here, in
// the reconcile's own goroutine, where controller-runtime recovers it as a
// failed reconcile instead of the process dying for every tenant.
func inParallel(n int, fn func(i int)) {
	sem := make(chan struct{}, writeConcurrency)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		panicked any
	)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					once.Do(func() { panicked = fmt.Sprintf("%v\n%s", p, debug.Stack()) })
				}
				<-sem
			}()
			fn(i)
		})
	}
	wg.Wait()
	if panicked != nil {
		panic(fmt.Sprintf("in a parallel write: %v", panicked))
	}
}
