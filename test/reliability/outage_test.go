/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package reliability

import (
	"math"
	"strings"
	"testing"
	"time"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// outageWindow is how long the test watches the manager while the cloud is down.
const outageWindow = 20 * time.Second

// TestCloudOutage takes the CVM endpoint down (listener closed, connections
// refused) while work is pending, then brings the same emulator back on the
// same port. Meanwhile the objects must say CloudError (Reconciling), the
// manager must stay up and back off instead of spinning, and everything must
// converge once the endpoint returns.
func TestCloudOutage(t *testing.T) {
	requireCluster(t)
	t.Cleanup(func() { purgeShares(t) })

	sc := mixedScenario("out", 10, []string{"outage"})
	emu, err := emulator.New(sc.seed(emulator.Faults{}))
	if err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	front := startFront(t, emu)
	metrics := testenv.MustFreeAddr(t)
	m := startManager(t, "outage", managerConfig{endpoint: front.Addr(),
		args: []string{"--share-limit=5", "--metrics-bind-address=" + metrics, "--metrics-secure=false"},
		env:  ownerEnv(), secrets: []string{ownerSecretKey}})

	firstHalf := sc.imagesBelow(5)
	sc.create(t, firstHalf)
	watch := watchCloud(emu, sc.limit)
	watch.allowScenario(sc)
	defer watch.finish(t)
	eventually(t, 2*time.Minute, 250*time.Millisecond, func() error { return sc.check(emu, firstHalf) })

	front.Stop()
	down := time.Now()
	sc.create(t, nil)
	var pending []*scObject
	for _, o := range sc.objects {
		switch {
		case !firstHalf(o.image):
			pending = append(pending, o)
		case sc.image(o.image).kind == kindMerge && strings.HasSuffix(o.name, "-m3"):
			updateShare(t, o.ns, o.name, func(s *cvmv1alpha1.ImageShare) {
				s.Spec.AccountIDs = []string{acct(sc.image(o.image).index, 5)}
			})
			o.accounts = []string{acct(sc.image(o.image).index, 5)}
			pending = append(pending, o)
		}
	}
	watch.allowScenario(sc)
	eventually(t, time.Minute, 250*time.Millisecond, func() error {
		var errs []error
		for _, o := range pending {
			obj, err := getShare(o.ns, o.name)
			if err == nil {
				err = checkTriad(obj, "CloudError")
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		return joinErrs(errs)
	})

	// Watch the manager for a while with the endpoint down.
	before := outageCounters(t, metrics)
	time.Sleep(outageWindow)
	during := outageCounters(t, metrics).sub(before)
	// Each pending object is retried with per-object exponential backoff from
	// 1s (docs/design.md: "workqueue backoff 1 s → 5 min"), and a failed
	// attempt stops at its first call: in a window of W seconds an object
	// makes at most log2(W+1)+1 attempts (at 0, 1, 3, 7, 15 s...). The bound
	// allows twice that, for the requeues that meet a sibling holding the
	// image lock. A manager that spins makes hundreds.
	perObject := 2 * (math.Floor(math.Log2(outageWindow.Seconds()+1)) + 1)
	bound := float64(len(pending)) * perObject
	calls := during.calls
	if calls > bound {
		t.Errorf("%v calls in %v while the endpoint was down, over the bound %v (%d objects x %v): the "+
			"retries do not back off (%v reconciles, %v of them failed, %v held back by the client-side limiter)",
			calls, outageWindow, bound, len(pending), perObject, during.reconciles, during.errors, during.throttled)
	}
	// Every pending object said CloudError before the window and nothing
	// changes during it: its status need not be written again.
	if during.patches > float64(len(pending)) {
		t.Errorf("%v PATCH requests to the API server in %v while nothing changed (%d objects pending)",
			during.patches, outageWindow, len(pending))
	}
	if !m.alive() {
		t.Fatalf("the manager exited during the outage")
	}

	restartFront(t, front)
	up := time.Now()
	eventually(t, 3*time.Minute, 250*time.Millisecond, func() error { return sc.check(emu, nil) })
	stats := emu.Stats()
	if n := stats.Errors[codeAlready]; n != 0 {
		t.Errorf("%d SHARE calls named an account already shared (%s)", n, codeAlready)
	}
	t.Logf("FIGURES outage: %d objects pending during a %v outage; in a %v window: %v calls attempted "+
		"(bound %v), %v held back by the client-side limiter, %v reconciles (%v failed), %v API PATCHes; "+
		"converged %v after the endpoint returned; emulator calls %s",
		len(pending), up.Sub(down).Round(100*time.Millisecond), outageWindow, calls, bound, during.throttled,
		during.reconciles, during.errors, during.patches, time.Since(up).Round(100*time.Millisecond),
		formatCounts(stats.Calls))
}

// outageCounters scrapes the manager's metrics: CVM calls that went to the
// network (client-side throttling is not a call), and reconciles.
func outageCounters(t *testing.T, addr string) outageCount {
	t.Helper()
	body, code, err := httpGet("http://" + addr + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("scrape metrics at %s: %d %v", addr, code, err)
	}
	var c outageCount
	c.throttled = scrape(body, "imageshare_cloud_api_calls_total", `code="ClientError.RateLimited"`)
	c.calls = scrape(body, "imageshare_cloud_api_calls_total") - c.throttled
	c.reconciles = scrape(body, "controller_runtime_reconcile_total", `controller="imageshare"`)
	c.errors = scrape(body, "controller_runtime_reconcile_total", `controller="imageshare"`, `result="error"`)
	c.patches = scrape(body, "rest_client_requests_total", `method="PATCH"`)
	if c.calls == 0 && c.reconciles == 0 {
		t.Fatalf("the metrics at %s have neither imageshare_cloud_api_calls_total nor "+
			"controller_runtime_reconcile_total:\n%s", addr, testenv.LastLines(body, 20))
	}
	return c
}

// outageCount are the manager's counters the outage test reads.
type outageCount struct {
	calls, throttled, reconciles, errors, patches float64
}

func (c outageCount) sub(o outageCount) outageCount {
	return outageCount{c.calls - o.calls, c.throttled - o.throttled, c.reconciles - o.reconciles,
		c.errors - o.errors, c.patches - o.patches}
}
