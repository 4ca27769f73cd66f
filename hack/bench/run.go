package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// run measures the N-objects shape over t tenants: cold start, steady state
// and change latency.
func run(cfg config, n, t int) (result, error) {
	res := result{label: fmt.Sprintf("N=%d", n), n: n, tenants: t}
	if t > 1 {
		res.label += fmt.Sprintf(" T=%d", t)
	}
	ctx := context.Background()
	teams := tenants(t)
	perTenant := make([]int, t) // objects of each tenant, N split evenly
	for i := range n {
		perTenant[i%t]++
	}

	// The cloud: each tenant's objects on half as many images of its own
	// account, over two regions; 2 ImageShares an image, 5 accounts each.
	accounts := make([]string, 2*perObject)
	seed := &emulator.Seed{ShareLimit: 50}
	for i := range accounts {
		accounts[i] = fmt.Sprintf("2000000000%02d", i)
		seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: accounts[i]})
	}
	res.coldMin = map[string]int{}
	cloudMins := make([]map[string]int, 0, t)
	for ti, tm := range teams {
		seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: tm.owner, SecretID: tm.secretID,
			SecretKey: tm.secretKey})
		images := (perTenant[ti] + 1) / 2
		for i := range images {
			seed.Images = append(seed.Images, emulator.SeedImage{ID: imageID(ti, i), Region: regions[i%2],
				Owner: tm.owner})
		}
		m := minimumCalls(images)
		cloudMins = append(cloudMins, m)
		for a, c := range m {
			res.coldMin[a] += c
		}
		res.images += images
	}
	res.totalShares = n * perObject
	res.resync = cfg.resync
	if res.resync == 0 {
		busiest := (perTenant[0] + 1) / 2
		// Long enough for a tenant's reads to fit its budget twice over, and
		// for the resync's status writes (lastSyncTime, one per object and
		// period) to stay near 20 a second on the shared API server.
		res.resync = max(10*time.Second, time.Duration(2*float64(busiest)/cfg.shareQPS*float64(time.Second)),
			time.Duration(n)*time.Second/20)
	}
	w, err := newWorld(cfg, seed)
	if err != nil {
		return res, err
	}
	defer w.stop()
	var keys []client.ObjectKey
	want := map[string][]string{} // the accounts each image must end up shared with
	for ti, tm := range teams {
		if err := w.addTenant(ctx, tm); err != nil {
			return res, err
		}
		for i := range perTenant[ti] {
			// The two objects of an image list the two halves of the account pool.
			half := accounts[(i%2)*perObject : (i%2+1)*perObject]
			o := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ims-%05d", i),
				Namespace: tm.namespace}, Spec: cvmv1alpha1.ImageShareSpec{ImageID: imageID(ti, i/2),
				Region: regions[(i/2)%2], AccountIDs: slices.Clone(half),
				CredentialsRef: &cvmv1alpha1.SecretReference{Name: secretName}}}
			if err := w.k8s.Create(ctx, o); err != nil {
				return res, fmt.Errorf("create %s: %w", o.Name, err)
			}
			keys = append(keys, client.ObjectKeyFromObject(o))
			want[o.Spec.ImageID] = append(want[o.Spec.ImageID], half...)
		}
	}
	// Cloud bound: the slowest tenant's (tenants' budgets run side by side).
	for _, m := range cloudMins {
		res.cloudBound = max(res.cloudBound, boundTime(m, cfg))
	}
	// Kubernetes, per object: the finalizer with the write-ahead record of
	// its first SHARE, its status, and clearing the record; and the in-use
	// finalizer on each tenant's Secret.
	res.kubeWrites = 3*n + t
	res.kubeBound = kubeBound(res.kubeWrites, cfg.kubeQPS)

	// Cold start: the objects exist before the manager starts.
	w.emu.ResetStats()
	start := time.Now()
	smp := startSampler(w.emu, res.images)
	if err := w.startManager(ctx, cfg, "--resync-period", res.resync.String()); err != nil {
		smp.stop()
		return res, err
	}
	err = waitAllReady(ctx, w.k8s, n, cfg.timeout)
	res.coldTime = time.Since(start)
	res.samples = smp.stop()
	if err != nil {
		return res, fmt.Errorf("cold start: %w", err)
	}
	st := w.emu.Stats()
	res.coldCalls, res.apiErrors = st.Calls, st.Errors
	res.budgetLo, res.budgetHi = math.Inf(1), 0
	for _, tm := range teams {
		for action, calls := range st.CallsByAccount[tm.owner] {
			used := float64(calls) / (qpsOf(action, cfg) * res.coldTime.Seconds())
			res.budgetHi = max(res.budgetHi, used)
			if action == actList {
				res.budgetLo = min(res.budgetLo, used)
			}
		}
	}
	if err := checkShares(w.emu, want); err != nil {
		return res, fmt.Errorf("cold start left the cloud wrong: %w", err)
	}
	progress("%s: cold start %s (bound %s), %d calls; steady state for %d x %s", res.label,
		res.coldTime.Round(time.Millisecond), max(res.cloudBound, res.kubeBound), sum(res.coldCalls), cfg.resyncs,
		res.resync)

	// Steady state: the converged objects over several resync periods.
	w.emu.ResetStats()
	time.Sleep(time.Duration(cfg.resyncs) * res.resync)
	st = w.emu.Stats()
	res.steadyPerImage = float64(sum(st.Calls)) / float64(res.images) / float64(cfg.resyncs)
	res.steadyModify = st.Calls[actModify]
	progress("%s: steady state %.3f calls per image per resync; %d changes", res.label, res.steadyPerImage,
		cfg.changes)

	// Change latency: one object at a time, add or remove one account.
	var lat []time.Duration
	for i := range cfg.changes {
		d, err := change(ctx, w.k8s, keys[(i*7)%n], accounts, i%2 == 0, cfg.timeout)
		if err != nil {
			return res, fmt.Errorf("change %d: %w", i, err)
		}
		lat = append(lat, d)
	}
	res.changeP50, res.changeP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	res.peakRSS, res.cpu = procStats(w.mgr.PID)
	return res, nil
}

func imageID(tenant, i int) string { return fmt.Sprintf("img-%02d%06d", tenant, i) }

// minimumCalls is the least one account's cold start can take for images on
// the two regions: one share-list read and one SHARE per image, and the
// images' metadata 100 IDs a call per region.
func minimumCalls(images int) map[string]int {
	m := map[string]int{actList: images, actModify: images, actDescribe: 0}
	for r := range regions {
		inRegion := (images + len(regions) - 1 - r) / len(regions)
		m[actDescribe] += (inRegion + 99) / 100
	}
	return m
}

func qpsOf(action string, cfg config) float64 {
	if action == actDescribe {
		return cfg.describeQPS
	}
	return cfg.shareQPS
}

// boundTime is how long the minimum calls of one account take at the
// emulator's limits; the actions have separate budgets, so they run side by side.
func boundTime(minCalls map[string]int, cfg config) time.Duration {
	var worst float64
	for action, n := range minCalls {
		worst = math.Max(worst, float64(n)/qpsOf(action, cfg))
	}
	return time.Duration(worst * float64(time.Second))
}

// kubeBound is how long writes take at the manager's --kube-api-qps; 0 when
// the client has no limit of its own (qps 0 or negative).
func kubeBound(writes int, qps float64) time.Duration {
	if qps <= 0 {
		return 0
	}
	return time.Duration(float64(writes) / qps * float64(time.Second))
}

// checkShares fails unless every image is shared with exactly its want list.
func checkShares(emu *emulator.Emulator, want map[string][]string) error {
	for _, img := range emu.State().Images {
		w := slices.Sorted(slices.Values(want[img.ID]))
		if !slices.Equal(img.SharedWith, w) {
			return fmt.Errorf("image %s shared with %v, want %v", img.ID, img.SharedWith, w)
		}
	}
	return nil
}
