package reliability

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// TestWatchNamespacesSplit runs two manager binaries with disjoint
// --watch-namespaces, the documented way to split a large cluster, each
// behind its own front on one cloud: neither ever touches the other's objects
// (their share limits differ, so a verdict from the wrong manager would show)
// nor calls the cloud about the other's images. --env-credentials-namespaces
// keeps a keyless object out of the manager's own keys unless its namespace
// is named.
func TestWatchNamespacesSplit(t *testing.T) {
	requireCluster(t)
	t.Cleanup(func() { purgeShares(t) })
	const nsA, nsB = "split-a", "split-b"
	for _, ns := range []string{nsA, nsB} {
		ensureNamespace(t, ns)
		createSecret(t, ns, credsSecret, ownerKeys())
	}
	img := func(n int) string { return fmt.Sprintf("img-split%03d", n) }
	seed := &emulator.Seed{Accounts: []emulator.SeedAccount{{ID: ownerID, SecretID: ownerSecretID,
		SecretKey: ownerSecretKey}}}
	for _, r := range recipients(0, 3) {
		seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: r})
	}
	for n := 1; n <= 4; n++ {
		seed.Images = append(seed.Images, emulator.SeedImage{ID: img(n), Region: regionGZ, Owner: ownerID})
	}
	emu, err := emulator.New(seed)
	if err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	mine := map[string][]string{nsA: {img(1), img(3)}, nsB: {img(2), img(4)}}
	var mu sync.Mutex
	strays := map[string][]string{}
	for _, ns := range []string{nsA, nsB} {
		front := startFront(t, emu)
		other := mine[nsA]
		if ns == nsA {
			other = mine[nsB]
		}
		front.SetHook(func(c testenv.FrontCall) {
			for _, id := range other {
				if strings.Contains(string(c.Body), id) {
					mu.Lock()
					strays[ns] = append(strays[ns], c.Action+" "+id)
					mu.Unlock()
				}
			}
		})
		limit := map[string]string{nsA: "50", nsB: "1"}[ns]
		startManager(t, ns, managerConfig{endpoint: front.Addr(), env: ownerEnv(), secrets: []string{ownerSecretKey},
			args: []string{"--watch-namespaces=" + ns, "--share-limit=" + limit,
				"--env-credentials-namespaces=" + nsB, "--kube-api-qps=50", "--kube-api-burst=100"}})
	}

	two := recipients(0, 2)
	create := func(ns, name, image, ref string, accounts ...string) {
		o := newShare(ns, name, image, regionGZ, "", ref, accounts...)
		if err := kube.admin.Create(t.Context(), o); err != nil {
			t.Fatalf("create %s/%s: %v", ns, name, err)
		}
	}
	create(nsA, "web", img(1), credsSecret, two...)
	create(nsB, "web", img(2), credsSecret, two...)
	create(nsA, "keyless", img(3), "", two[0])
	create(nsB, "keyless", img(4), "", two[0])
	want := []struct{ ns, name, reason, inMessage string }{
		{nsA, "web", "Shared", ""},
		{nsB, "web", "ShareLimitExceeded", ""}, // manager B's limit of 1
		{nsA, "keyless", "CredentialsMissing", "--env-credentials-namespaces"},
		{nsB, "keyless", "Shared", ""},
	}
	settled := func() error {
		for _, w := range want {
			o, err := getShare(w.ns, w.name)
			if err != nil {
				return err
			}
			if err := checkTriad(o, w.reason); err != nil {
				return err
			}
			if msg := condition(o, condReady).Message; !strings.Contains(msg, w.inMessage) {
				return fmt.Errorf("%s/%s: message %q does not name %s", w.ns, w.name, msg, w.inMessage)
			}
		}
		return nil
	}
	eventually(t, 90*time.Second, 200*time.Millisecond, settled)
	// Were either manager acting on the other's objects, verdicts and shares would flip.
	for range 15 {
		time.Sleep(200 * time.Millisecond)
		if err := settled(); err != nil {
			t.Fatalf("after settling: %v", err)
		}
	}
	shares := sharedWith(emu)
	for id, want := range map[string][]string{img(1): two, img(2): two[:1], img(3): nil, img(4): two[:1]} {
		if !slices.Equal(sortedCopy(shares[id]), sortedCopy(want)) {
			t.Errorf("%s shared with %v, want %v", id, shares[id], want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for ns, calls := range strays {
		t.Errorf("the manager of %s called the cloud about the other side's images: %v", ns, calls)
	}
}
