package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// waitAllReady waits until the n ImageShares are settled, and fails unless
// every one is Ready: the bench's workloads leave nothing for the controller
// to refuse. It lists once and then watches: listing thousands of objects
// every few hundred milliseconds costs the API server more than the
// manager's own writes, and the bench would measure itself.
func waitAllReady(ctx context.Context, k8s client.WithWatch, n int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var list cvmv1alpha1.ImageShareList
		if err := k8s.List(ctx, &list); err != nil {
			return fmt.Errorf("wait for %d ImageShares: list: %w", n, err)
		}
		t := &tracker{state: map[string]string{}}
		for i := range list.Items {
			t.record(&list.Items[i])
		}
		if done, err := t.done(n); done {
			return err
		}
		w, err := k8s.Watch(ctx, &cvmv1alpha1.ImageShareList{},
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
		if err != nil {
			return fmt.Errorf("wait for %d ImageShares: watch: %w", n, err)
		}
		done, err := t.follow(ctx, w, n)
		w.Stop()
		if done {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("after %s, %d of %d ImageShares are neither Ready nor Stalled", timeout,
				t.pending, len(t.state))
		}
		// The watch ended early (a server timeout, a compaction): list again.
	}
}

// tracker is what the wait knows of each object: "" while it is work in
// progress, "ready", or its summary when it settled otherwise.
type tracker struct {
	state   map[string]string
	pending int
}

func (t *tracker) set(key, v string) {
	if old, had := t.state[key]; had && old == "" {
		t.pending--
	}
	if v == "" {
		t.pending++
	}
	t.state[key] = v
}

func (t *tracker) record(o *cvmv1alpha1.ImageShare) {
	key := o.Namespace + "/" + o.Name
	switch {
	case testenv.Ready(o):
		t.set(key, "ready")
	case testenv.Settled(o):
		t.set(key, testenv.Summary(o))
	default:
		t.set(key, "")
	}
}

// follow applies watch events until every object settled, the watch ends
// (done false) or the context does.
func (t *tracker) follow(ctx context.Context, w watch.Interface, n int) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type == watch.Error {
				return false, nil
			}
			o, isIMS := ev.Object.(*cvmv1alpha1.ImageShare)
			if !isIMS {
				continue
			}
			if ev.Type == watch.Deleted {
				t.set(o.Namespace+"/"+o.Name, "ready") // gone: nothing to wait for
				delete(t.state, o.Namespace+"/"+o.Name)
			} else {
				t.record(o)
			}
			if done, err := t.done(n); done {
				return true, err
			}
		}
	}
}

// done reports whether at least n objects exist and all are settled; the
// error names one that settled without being Ready.
func (t *tracker) done(n int) (bool, error) {
	if len(t.state) < max(n, 1) || t.pending > 0 {
		return false, nil
	}
	var stalled []string
	for _, s := range t.state {
		if s != "ready" {
			stalled = append(stalled, s)
		}
	}
	if len(stalled) > 0 {
		slices.Sort(stalled)
		return true, errors.New("settled without being Ready: " + stalled[0])
	}
	return true, nil
}
