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
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// TestFaults runs 52 ImageShares on 20 images through a cloud that fails 30%
// of calls, throttles at 5 calls/s per action and answers late, and checks
// that every image ends with exactly the share list contract §2 demands, that
// no image was ever shared with an account it should not have, and that no
// share was sent twice.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault test takes about a minute; make test runs it")
	}
	requireCluster(t)
	t.Cleanup(func() { purgeShares(t) })

	sc := mixedScenario("flt", 20, []string{"faults-a", "faults-b", "faults-c"})
	faults := emulator.Faults{QPS: 5, ErrorRate: 0.3, Latency: 20 * time.Millisecond}
	emu, err := emulator.New(sc.seed(faults))
	if err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	front := startFront(t, emu)
	// Every object exists before the manager first looks, so the oldest
	// object of each image has first pick, as the expectation assumes.
	sc.create(t, nil)
	watch := watchCloud(emu, sc.limit)
	watch.allowScenario(sc)

	start := time.Now()
	startManager(t, "faults", managerConfig{endpoint: front.Addr(), args: []string{"--share-limit=5"},
		env: ownerEnv(), secrets: []string{ownerSecretKey}})
	eventually(t, 4*time.Minute, 250*time.Millisecond, func() error { return sc.check(emu, nil) })
	converged := time.Since(start)
	watch.finish(t)

	stats := emu.Stats()
	t.Logf("FIGURES faults: %d objects on %d images, limit %d, faults %+v; outcomes %s; converged in %v; "+
		"calls %s; errors %s", len(sc.objects), len(sc.images), sc.limit, faults, formatCounts(sc.reasons()),
		converged.Round(100*time.Millisecond), formatCounts(stats.Calls), formatCounts(stats.Errors))
	if stats.Errors[codeInternal] == 0 {
		t.Errorf("no InternalError was injected: the test did not test faults (errors %v)", stats.Errors)
	}
	// The emulator injects InternalError and RequestLimitExceeded before a call
	// has any effect, and a 20ms latency never reaches the client's 15s
	// timeout, so no fault here can leave a share made that the manager did not
	// learn of. Every plan starts from a share list read under the image's
	// lock. A SHARE of an account already shared would therefore mean a plan
	// built on a stale list: the bound is zero. The same reasoning holds for
	// the limit: the manager cancels before it shares and never plans past it.
	if n := stats.Errors[codeAlready]; n != 0 {
		t.Errorf("%d SHARE calls named an account already shared (%s); faults here cannot cause one", n, codeAlready)
	}
	if n := stats.Errors[codeOverQuota]; n != 0 {
		t.Errorf("%d SHARE calls went over the share limit (%s)", n, codeOverQuota)
	}

	// Settled means settled: no call at all while nothing changes.
	before := front.TotalCalls()
	time.Sleep(5 * time.Second)
	if after := front.TotalCalls(); after != before {
		t.Errorf("the manager made %d calls in 5s after everything converged", after-before)
	}
}

// formatCounts prints a counter map in key order.
func formatCounts(m map[string]int) string {
	parts := make([]string, 0, len(m))
	total := 0
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
		total += m[k]
	}
	return fmt.Sprintf("%d {%s}", total, strings.Join(parts, " "))
}
