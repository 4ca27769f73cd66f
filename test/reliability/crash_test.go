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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// crashRun is a manager the test kills from inside the cloud's front end.
type crashRun struct {
	t      *testing.T
	front  *testenv.CloudFront
	cfg    managerConfig
	runs   int
	mgr    atomic.Pointer[managerProc]
	killed chan struct{}
	once   sync.Once
}

// start runs a new manager; when kill (if not nil) says so about a call the
// cloud has just carried out, the manager is SIGKILLed before it hears back.
// The previous manager must be down: these managers run without leader
// election, so two at once would both act on the cloud, and the kill hook
// would kill the new one for a call the old one made.
func (c *crashRun) start(kill func(testenv.FrontCall) bool) {
	if m := c.mgr.Load(); m != nil && m.alive() {
		c.t.Fatalf("start manager run %d: run %d (%s) is still running", c.runs+1, c.runs, m.name)
	}
	c.runs++
	c.killed = make(chan struct{})
	c.once = sync.Once{}
	killed := c.killed
	c.front.SetHook(nil)
	if kill != nil {
		c.front.SetHook(func(call testenv.FrontCall) {
			if !kill(call) {
				return
			}
			c.once.Do(func() {
				c.mgr.Load().kill()
				close(killed)
			})
		})
	}
	c.mgr.Store(startManager(c.t, "crash-"+string(rune('0'+c.runs)), c.cfg))
}

// waitKilled waits for the kill, or for done to hold first; it says which.
func (c *crashRun) waitKilled(done func() error) bool {
	c.t.Helper()
	wasKilled := false
	eventually(c.t, 3*time.Minute, 100*time.Millisecond, func() error {
		select {
		case <-c.killed:
			wasKilled = true
			return nil
		default:
		}
		return done()
	})
	c.front.SetHook(nil)
	if !wasKilled {
		c.mgr.Load().kill()
	}
	return wasKilled
}

// TestCrashRestart SIGKILLs the manager in the middle of its work, three
// times: right after the cloud carried out a SHARE whose answer the manager
// never got (and so never recorded), in the middle of converging 54 objects,
// and in the middle of deleting them. While it is down the specs change.
// Each restart must still end with exactly the share lists the specs demand,
// every finalizer must be released, and at no moment may an image be shared
// with an account nobody listed.
func TestCrashRestart(t *testing.T) {
	requireCluster(t)
	t.Cleanup(func() { purgeShares(t) })

	sc := mixedScenario("crs", 20, []string{"crash-a", "crash-b"})
	// Image K: its objects sort first, so its SHARE is among the first calls.
	k := &scImage{id: "img-crsk0000", index: 90, kind: kindMerge}
	x1, x2, y1 := acct(90, 1), acct(90, 2), acct(90, 3)
	one := &scObject{ns: "crash-a", name: "aa-crash-one", image: k.id, mode: cvmv1alpha1.ModeMerge,
		accounts: []string{x1, x2}, credRef: credsSecret}
	two := &scObject{ns: "crash-a", name: "aa-crash-two", image: k.id, mode: cvmv1alpha1.ModeMerge,
		accounts: []string{y1}, credRef: credsSecret}
	sc.images = append(sc.images, k)
	sc.objects = append(sc.objects, one, two)

	// Slow enough that a kill lands in the middle of the work.
	faults := emulator.Faults{QPS: 3, ErrorRate: 0.1, Latency: 50 * time.Millisecond}
	emu, err := emulator.New(sc.seed(faults))
	if err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	front := startFront(t, emu)
	sc.create(t, nil)
	watch := watchCloud(emu, sc.limit)
	watch.allowScenario(sc)
	defer watch.finish(t)
	run := &crashRun{t: t, front: front, cfg: managerConfig{endpoint: front.Addr(), args: []string{"--share-limit=5"},
		env: ownerEnv(), secrets: []string{ownerSecretKey}}}
	start := time.Now()

	// Kill 1: the cloud shared K's accounts; the manager dies before it hears so.
	run.start(func(c testenv.FrontCall) bool {
		req, ok := parseModify(c)
		return ok && c.Code == "" && req.ImageID == k.id && req.Permission == "SHARE"
	})
	if !run.waitKilled(func() error { return sc.check(emu, nil) }) {
		t.Fatalf("the manager converged without ever sharing image %s", k.id)
	}
	t.Logf("kill 1 after %v: image %s shared with %v; Ready reasons %s", time.Since(start).Round(time.Millisecond),
		k.id, sharedWith(emu)[k.id], readyReasons(t))
	// While it is down, one object stops listing an account the cloud shared
	// for it, and the other is deleted: both accounts were shared for an
	// ImageShare and are no longer listed, so both must be cancelled.
	updateShare(t, one.ns, one.name, func(o *cvmv1alpha1.ImageShare) { o.Spec.AccountIDs = []string{x2} })
	one.accounts = []string{x2}
	deleteObject(t, two)
	// Objects that had converged change or go too.
	changed, deleted := changeSettled(t, sc, 2, 1)
	t.Logf("while down: changed %v, deleted %v", append(changed, one.key()), append(deleted, two.key()))
	watch.allowScenario(sc)

	// Kill 2: in the middle of converging the rest, after three changes.
	notK := func(id string) bool { return id != k.id }
	var changes atomic.Int32
	run.start(func(c testenv.FrontCall) bool {
		_, ok := parseModify(c)
		return ok && c.Code == "" && changes.Add(1) == 3
	})
	wasKilled := run.waitKilled(func() error { return sc.check(emu, notK) })
	t.Logf("kill 2 (killed: %v) after %v; Ready reasons %s", wasKilled, time.Since(start).Round(time.Millisecond),
		readyReasons(t))
	changed, deleted = changeSettled(t, sc, 1, 1)
	t.Logf("while down: changed %v, deleted %v", changed, deleted)
	watch.allowScenario(sc)

	run.start(nil)
	eventually(t, 3*time.Minute, 250*time.Millisecond, func() error { return sc.check(emu, notK) })
	// Everything else settled: image K must have settled with it. The test
	// goes on after a failure here, to check the deletion as well.
	if err := waitFor(30*time.Second, 250*time.Millisecond, func() error { return gone(two) }); err != nil {
		t.Errorf("deleted while the manager was down: %v", err)
	}
	isK := func(id string) bool { return id == k.id }
	if err := waitFor(30*time.Second, 250*time.Millisecond, func() error { return sc.check(emu, isK) }); err != nil {
		t.Errorf("accounts shared for ImageShares that no longer list them (the manager died before recording "+
			"the SHARE) must be cancelled: %v", err)
	}
	t.Logf("converged after %d runs in %v", run.runs, time.Since(start).Round(100*time.Millisecond))

	// Kill 3: in the middle of deleting everything. As for the changes above,
	// the objects are deleted while no manager runs, so the next one sees every
	// deletion at once. deleteAll is one DeleteAllOf per namespace, and even
	// one DeleteAllOf marks its objects one at a time: a manager running
	// through it sees some members of an image deleting and others still live,
	// and rightly gives the room the deleting ones free to the live ones
	// (contract §2). On the images at the limit, that shares accounts that only
	// an object that lost the limit lists: img-crs00001's "second" (crash-a,
	// older: same creation second, and crash-a sorts first) is cancelled, and
	// "first" (crash-b, not yet deleting) gets a1 and a2; on img-crs00006,
	// "first" is in crash-a and older, and its cancels let "second" get a5 and
	// a6. The watch rightly never allowed those, and this test failed that way
	// on a 2-core machine.
	// The race is the test's, not the controller's, and with a manager running
	// through the deletion the kill below would not be a crash in the middle of
	// the cancels but in the middle of a resharing. With every object
	// deleting, nothing may be shared at all: from here the watch allows only
	// the shares the cloud holds now.
	run.mgr.Load().stop()
	watch.allowOnlyShared()
	owners := sc.exclusiveOwners()
	for _, img := range sc.images {
		watch.mustKeep(img.id, nil)
	}
	deleteStart := time.Now()
	sc.deleteAll(t)
	run.start(func(c testenv.FrontCall) bool {
		req, ok := parseModify(c)
		return ok && c.Code == "" && req.Permission == "CANCEL"
	})
	if run.waitKilled(func() error { return noShares() }) {
		run.start(nil)
	}
	waitGone(t, 3*time.Minute)
	want := sc.afterDeletion(owners)
	if err := waitFor(30*time.Second, 250*time.Millisecond, func() error { return cloudIs(emu, want) }); err != nil {
		t.Errorf("after deleting every ImageShare: %v", err)
	}
	stats := emu.Stats()
	t.Logf("FIGURES crash: %d objects on %d images, %d manager runs (3 SIGKILLs), faults %+v; deleted in %v; "+
		"total %v; calls %s; errors %s", len(sc.objects), len(sc.images), run.runs, faults,
		time.Since(deleteStart).Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond),
		formatCounts(stats.Calls), formatCounts(stats.Errors))
	// A restarted manager reads every share list before it plans, so a crash
	// between a SHARE and its status write never leads to a second SHARE.
	if n := stats.Errors[codeAlready]; n != 0 {
		t.Errorf("%d SHARE calls named an account already shared (%s)", n, codeAlready)
	}
}

// changeSettled picks converged objects of the five-Merge images whose
// third object (m3) still lists its one original account and, with no
// manager running, swaps that account for a new one on up to nChange images
// and deletes the object on up to nDelete others.
func changeSettled(t *testing.T, sc *scenario, nChange, nDelete int) (changed, deleted []string) {
	t.Helper()
	for _, o := range sc.objects {
		img := sc.image(o.image)
		if img.kind != kindMerge || img.index >= 90 || o.deleted || !strings.HasSuffix(o.name, "-m3") ||
			!slices.Equal(o.accounts, []string{acct(img.index, 4)}) {
			continue
		}
		obj, err := getShare(o.ns, o.name)
		if err != nil || checkTriad(obj, "Shared") != nil {
			continue
		}
		switch {
		case len(changed) < nChange:
			updateShare(t, o.ns, o.name, func(s *cvmv1alpha1.ImageShare) {
				s.Spec.AccountIDs = []string{acct(img.index, 5)}
			})
			o.accounts = []string{acct(img.index, 5)}
			changed = append(changed, o.key())
		case len(deleted) < nDelete:
			deleteObject(t, o)
			deleted = append(deleted, o.key())
		}
	}
	return changed, deleted
}

func deleteObject(t *testing.T, o *scObject) {
	t.Helper()
	obj, err := getShare(o.ns, o.name)
	if err == nil {
		err = kube.admin.Delete(context.Background(), obj)
	}
	if err != nil {
		t.Fatalf("delete %s: %v", o.key(), err)
	}
	o.deleted = true
}

func gone(o *scObject) error {
	obj, err := getShare(o.ns, o.name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s still exists: finalizers %v, conditions %+v", o.key(), obj.Finalizers, obj.Status.Conditions)
}

// readyReasons counts the Ready reasons of every ImageShare.
func readyReasons(t *testing.T) string {
	out := map[string]int{}
	for _, o := range allShares(t) {
		reason := "none"
		if c := condition(&o, condReady); c != nil {
			reason = c.Reason
		}
		out[reason]++
	}
	return formatCounts(out)
}

// noShares holds once no ImageShare is left.
func noShares() error {
	var list cvmv1alpha1.ImageShareList
	if err := kube.admin.List(context.Background(), &list); err != nil {
		return err
	}
	if len(list.Items) > 0 {
		return fmt.Errorf("%d ImageShares left", len(list.Items))
	}
	return nil
}

// cloudIs holds when every image in want has exactly that share list.
func cloudIs(emu *emulator.Emulator, want map[string][]string) error {
	cloud := sharedWith(emu)
	var errs []error
	for id, accounts := range want {
		if !sameSet(cloud[id], accounts) {
			errs = append(errs, fmt.Errorf("image %s shared with %v, want %v", id, cloud[id], accounts))
		}
	}
	return joinErrs(errs)
}
