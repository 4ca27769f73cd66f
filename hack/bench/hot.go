package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/planner"
)

// hotImage is the hot-image shape's one image: -hot-objects ImageShares
// (100 by default) of perObject distinct accounts each share it.
const hotImage = "img-hot00001"

// hotResult is what the hot-image shape adds to a result: the deletion of
// half the objects at once.
type hotResult struct {
	delTime, delBound time.Duration
	delCalls, delMin  map[string]int
	planPerCall       time.Duration // planner.Compute on the image's full input, in this process
	delErrors         int
}

// runHot measures one image shared with 500 accounts by 100 ImageShares (by
// default): cold start, then half of them deleted together while the manager runs.
func runHot(cfg config) (result, error) {
	hotObjects := cfg.hotObjects
	res := result{label: fmt.Sprintf("hot image (%d×%d)", hotObjects, perObject), n: hotObjects, tenants: 1,
		images: 1, hot: &hotResult{}}
	ctx := context.Background()
	tm := tenants(1)[0]
	limit := hotObjects * perObject
	seed := &emulator.Seed{ShareLimit: limit, Accounts: []emulator.SeedAccount{{ID: tm.owner,
		SecretID: tm.secretID, SecretKey: tm.secretKey}}, Images: []emulator.SeedImage{{ID: hotImage,
		Region: regions[0], Owner: tm.owner}}}
	lists := make([][]string, hotObjects)
	for i := range lists {
		for j := range perObject {
			a := fmt.Sprintf("3000%08d", i*perObject+j)
			lists[i] = append(lists[i], a)
			seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: a})
		}
	}
	w, err := newWorld(cfg, seed)
	if err != nil {
		return res, err
	}
	defer w.stop()
	if err := w.addTenant(ctx, tm); err != nil {
		return res, err
	}
	objs := make([]*cvmv1alpha1.ImageShare, hotObjects)
	for i := range objs {
		objs[i] = &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("hot-%03d", i),
			Namespace: tm.namespace}, Spec: cvmv1alpha1.ImageShareSpec{ImageID: hotImage, Region: regions[0],
			AccountIDs: lists[i], CredentialsRef: &cvmv1alpha1.SecretReference{Name: secretName}}}
		if err := w.k8s.Create(ctx, objs[i]); err != nil {
			return res, fmt.Errorf("create %s: %w", objs[i].Name, err)
		}
	}
	res.totalShares = limit
	res.coldMin = map[string]int{actDescribe: 1, actList: 1, actModify: (limit + 99) / 100}
	res.cloudBound = boundTime(res.coldMin, cfg)
	res.kubeWrites = 3*hotObjects + 1 // as in run
	res.kubeBound = kubeBound(res.kubeWrites, cfg.kubeQPS)
	res.resync = 10 * time.Minute // no resync within the run

	w.emu.ResetStats()
	start := time.Now()
	smp := startSampler(w.emu, 1)
	err = w.startManager(ctx, cfg, "--share-limit", fmt.Sprint(limit), "--resync-period", res.resync.String())
	if err != nil {
		smp.stop()
		return res, err
	}
	err = waitAllReady(ctx, w.k8s, hotObjects, cfg.timeout)
	res.coldTime = time.Since(start)
	if err != nil {
		smp.stop()
		return res, fmt.Errorf("cold start: %w", err)
	}
	st := w.emu.Stats()
	res.coldCalls, res.apiErrors = st.Calls, st.Errors
	if got := sharedPairs(w.emu); got != limit {
		smp.stop()
		return res, fmt.Errorf("cold start shared %d accounts, want %d", got, limit)
	}

	// Half the objects deleted together: their 250 accounts are cancelled.
	h := res.hot
	gone := objs[:hotObjects/2]
	h.delMin = map[string]int{actModify: (len(gone)*perObject + 99) / 100}
	h.delBound = boundTime(h.delMin, cfg)
	w.emu.ResetStats()
	delStart := time.Now()
	if err := deleteAll(ctx, w.k8s, gone); err != nil {
		smp.stop()
		return res, err
	}
	err = waitGone(ctx, w, tm.namespace, hotObjects-len(gone), limit-len(gone)*perObject, cfg.timeout)
	h.delTime = time.Since(delStart)
	res.samples = smp.stop()
	if err != nil {
		return res, fmt.Errorf("deletion: %w", err)
	}
	st = w.emu.Stats()
	h.delCalls = st.Calls
	h.delErrors = sum(st.Errors)
	res.peakRSS, res.cpu = procStats(w.mgr.PID)
	h.planPerCall = timePlanner(lists, limit)
	return res, nil
}

// deleteAll deletes objs at once, one goroutine each.
func deleteAll(ctx context.Context, k8s client.Client, objs []*cvmv1alpha1.ImageShare) error {
	errs := make([]error, len(objs))
	var wg sync.WaitGroup
	for i, o := range objs {
		wg.Go(func() { errs[i] = k8s.Delete(ctx, o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// waitGone waits until ns holds left ImageShares and the cloud shares shares.
func waitGone(ctx context.Context, w *world, ns string, left, shares int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var l cvmv1alpha1.ImageShareList
		if err := w.k8s.List(ctx, &l, client.InNamespace(ns)); err != nil {
			return fmt.Errorf("list: %w", err)
		}
		got := sharedPairs(w.emu)
		if len(l.Items) == left && got == shares {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %d objects (want %d), %d shares (want %d)", timeout, len(l.Items), left,
				got, shares)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// timePlanner times planner.Compute on the hot image's input (every object
// a Merge member, every account shared and managed): the planner's CPU per
// reconcile of the image, measured in this process, not in the manager.
func timePlanner(lists [][]string, limit int) time.Duration {
	in := planner.Input{Limit: limit}
	for i, l := range lists {
		in.Shared = append(in.Shared, l...)
		in.Members = append(in.Members, planner.Member{Key: fmt.Sprintf("bench/hot-%03d", i),
			CreatedAt: time.Unix(int64(i), 0), Mode: planner.Merge, Accounts: l, Managed: l,
			Deleting: i < len(lists)/2, CancelOnDelete: true})
	}
	slices.Sort(in.Shared)
	const rounds = 200
	start := time.Now()
	for range rounds {
		_ = planner.Compute(in)
	}
	return time.Since(start) / rounds
}
