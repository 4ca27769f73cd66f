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
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// leaseName is the LeaderElectionID of cmd/main.go.
const leaseName = "0afdbbba.imageshare.dev"

// TestLeaderElection runs two managers with --leader-elect against one
// control plane, each reaching the cloud through a front end of its own over
// one emulator. Only the leader may call the cloud; when it is SIGKILLed the
// other takes over and converges what changed meanwhile.
func TestLeaderElection(t *testing.T) {
	requireCluster(t)
	t.Cleanup(func() { purgeShares(t) })

	// One namespace: objects created while a manager runs are then ordered by
	// name exactly as they are created, as the expectation assumes.
	sc := mixedScenario("ldr", 10, []string{"leader"})
	emu, err := emulator.New(sc.seed(emulator.Faults{}))
	if err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	frontA, frontB := startFront(t, emu), startFront(t, emu)
	args := []string{"--share-limit=5", "--leader-elect", "--leader-election-namespace=" + leaseNamespace}
	cfg := func(f *testenv.CloudFront) managerConfig {
		return managerConfig{endpoint: f.Addr(), args: args, env: ownerEnv(), secrets: []string{ownerSecretKey}}
	}

	a := startManager(t, "leader-a", cfg(frontA))
	eventually(t, time.Minute, 200*time.Millisecond, func() error { return acquired(a) })
	first := leaseHolder(t)
	b := startManager(t, "leader-b", cfg(frontB))
	eventually(t, time.Minute, 200*time.Millisecond, func() error {
		if !strings.Contains(strings.ToLower(b.logs()), "attempting to acquire leader lease") {
			return fmt.Errorf("manager b is not contending for the lease yet")
		}
		return nil
	})

	firstHalf := sc.imagesBelow(5)
	sc.create(t, firstHalf)
	watch := watchCloud(emu, sc.limit)
	watch.allowScenario(sc)
	defer watch.finish(t)
	eventually(t, 2*time.Minute, 250*time.Millisecond, func() error { return sc.check(emu, firstHalf) })
	callsA, callsB := frontA.TotalCalls(), frontB.TotalCalls()
	if callsA == 0 || callsB != 0 {
		t.Fatalf("the leader made %d calls and the standby %d: only the leader may call the cloud", callsA, callsB)
	}
	if err := acquired(b); err == nil {
		t.Fatalf("the standby says it acquired the lease while the leader runs")
	}

	a.kill()
	killed := time.Now()
	sc.create(t, nil)
	for _, o := range sc.objects {
		if sc.image(o.image).kind == kindMerge && strings.HasSuffix(o.name, "-m3") && firstHalf(o.image) {
			updateShare(t, o.ns, o.name, func(s *cvmv1alpha1.ImageShare) {
				s.Spec.AccountIDs = []string{acct(sc.image(o.image).index, 5)}
			})
			o.accounts = []string{acct(sc.image(o.image).index, 5)}
		}
	}
	watch.allowScenario(sc)
	eventually(t, 2*time.Minute, 200*time.Millisecond, func() error { return acquired(b) })
	takeover := time.Since(killed)
	eventually(t, 2*time.Minute, 250*time.Millisecond, func() error { return sc.check(emu, nil) })
	converged := time.Since(killed)
	if second := leaseHolder(t); second == first {
		t.Errorf("the lease is still held by %s after its holder died", first)
	}
	if n := frontA.TotalCalls(); n != callsA {
		t.Errorf("the dead leader's front end saw %d more calls", n-callsA)
	}
	if frontB.TotalCalls() == 0 {
		t.Errorf("the new leader converged without a single call")
	}
	t.Logf("FIGURES leader: %d objects on %d images; calls before failover: leader %d, standby %d; "+
		"lease taken over %v after SIGKILL (LeaseDuration 15s); converged %v after SIGKILL; new leader's calls %d",
		len(sc.objects), len(sc.images), callsA, callsB, takeover.Round(100*time.Millisecond),
		converged.Round(100*time.Millisecond), frontB.TotalCalls())
}

// acquired holds once the manager logged that it leads.
func acquired(m *managerProc) error {
	if !strings.Contains(strings.ToLower(m.logs()), "successfully acquired lease") {
		return fmt.Errorf("manager %s has not acquired the lease", m.name)
	}
	return nil
}

func leaseHolder(t *testing.T) string {
	t.Helper()
	var lease coordinationv1.Lease
	key := client.ObjectKey{Namespace: leaseNamespace, Name: leaseName}
	if err := kube.admin.Get(context.Background(), key, &lease); err != nil {
		t.Fatalf("get Lease %s: %v", key, err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Fatalf("Lease %s has no holder", key)
	}
	return *lease.Spec.HolderIdentity
}
