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
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
)

// This file is the test's own reading of contract §2: what the cloud and each
// object must end up as. It shares no code with internal/planner on purpose.

// scenarioLimit is the share limit of the mixed scenarios, small so that
// images hit it.
const scenarioLimit = 5

// The kinds of image a mixed scenario cycles through.
const (
	kindMerge     = iota // five Merge objects, overlapping, under the limit; one out-of-band share
	kindAtLimit          // two Merge objects that do not both fit; one out-of-band share
	kindConflict         // an Exclusive owner cancelling out-of-band shares, and a younger Merge in Conflict
	kindExclusive        // an Exclusive swap of a full share list, or an Exclusive over the limit
	kindMixed            // Merge listing an out-of-band share (never managed), a bad account, and an Observe object
	kinds
)

// scImage is one image of a scenario.
type scImage struct {
	id     string
	index  int
	kind   int
	seeded []string // shared out of band before the manager starts
}

// scObject is one ImageShare of a scenario.
type scObject struct {
	ns, name, image string
	mode            cvmv1alpha1.Mode
	accounts        []string
	credRef         string
	created         time.Time
	deleted         bool
}

func (o *scObject) key() string { return o.ns + "/" + o.name }

// scenario is images and objects whose end state the test computes itself.
type scenario struct {
	limit   int
	images  []*scImage
	objects []*scObject
	// extraAccounts are seeded as recipients besides those of the images.
	extraAccounts []string
	prepared      bool
}

// acct is the j-th account of image i; bad is an account that does not exist.
func acct(i, j int) string { return fmt.Sprintf("3%03d%08d", i, j) }
func bad(i int) string     { return fmt.Sprintf("9%03d%08d", i, 99) }

// mixedScenario builds n images cycling through the kinds above, thirteen
// objects every five images, spread over namespaces. tag makes image IDs
// distinct between scenarios (three lowercase letters).
func mixedScenario(tag string, n int, namespaces []string) *scenario {
	s := &scenario{limit: scenarioLimit}
	for i := range n {
		img := &scImage{id: fmt.Sprintf("img-%s%05d", tag, i), index: i, kind: i % kinds}
		s.images = append(s.images, img)
		a := func(j int) string { return acct(i, j) }
		add := func(k int, name string, mode cvmv1alpha1.Mode, accounts ...string) {
			ns := namespaces[(i+k)%len(namespaces)]
			cred := credsSecret
			if (i+k)%2 == 1 {
				cred = "" // the manager's own keys
			}
			s.objects = append(s.objects, &scObject{ns: ns, name: fmt.Sprintf("i%02d-%s", i, name), image: img.id,
				mode: mode, accounts: accounts, credRef: cred})
		}
		switch img.kind {
		case kindMerge:
			img.seeded = []string{a(15)}
			add(0, "m1", cvmv1alpha1.ModeMerge, a(1), a(2))
			add(1, "m2", cvmv1alpha1.ModeMerge, a(2), a(3))
			add(2, "m3", cvmv1alpha1.ModeMerge, a(4))
			add(3, "m4", cvmv1alpha1.ModeMerge, a(1), a(3))
			add(4, "m5", cvmv1alpha1.ModeMerge, a(2))
		case kindAtLimit:
			img.seeded = []string{a(15)}
			add(0, "first", cvmv1alpha1.ModeMerge, a(1), a(2), a(3))
			add(1, "second", cvmv1alpha1.ModeMerge, a(3), a(4), a(5), a(6))
		case kindConflict:
			img.seeded = []string{a(1), a(14), a(15)}
			// One namespace, and names in creation order, so the Exclusive
			// object is the older one even when both share a creation second.
			add(0, "a-exclusive", cvmv1alpha1.ModeExclusive, a(1), a(2), a(3), a(4))
			add(len(namespaces), "b-merge", cvmv1alpha1.ModeMerge, a(14), a(5))
		case kindExclusive:
			if (i/kinds)%2 == 0 {
				for j := range s.limit {
					img.seeded = append(img.seeded, a(10+j))
				}
				list := make([]string, 0, s.limit)
				for j := range s.limit {
					list = append(list, a(1+j))
				}
				add(0, "swap", cvmv1alpha1.ModeExclusive, list...)
			} else {
				img.seeded = []string{a(14), a(15)}
				list := make([]string, 0, s.limit+2)
				for j := range s.limit + 2 {
					list = append(list, a(1+j))
				}
				add(0, "over", cvmv1alpha1.ModeExclusive, list...)
			}
		case kindMixed:
			img.seeded = []string{a(14), a(15)}
			add(0, "adopt", cvmv1alpha1.ModeMerge, a(14), a(1), bad(i))
			add(1, "plain", cvmv1alpha1.ModeMerge, a(1), a(2))
			add(2, "observe", cvmv1alpha1.ModeObserve, a(15), a(9))
		}
	}
	return s
}

// seed is the emulator seed of the scenario: the owner, every account the
// images use, and the images with their out-of-band shares.
func (s *scenario) seed(faults emulator.Faults) *emulator.Seed {
	seed := &emulator.Seed{ShareLimit: s.limit, Faults: faults, Accounts: []emulator.SeedAccount{
		{ID: ownerID, SecretID: ownerSecretID, SecretKey: ownerSecretKey}}}
	for _, img := range s.images {
		for j := range 16 {
			seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: acct(img.index, j)})
		}
		seed.Images = append(seed.Images, emulator.SeedImage{ID: img.id, Region: regionGZ, Owner: ownerID,
			Name: "reliability-" + img.id, SharedWith: img.seeded})
	}
	for _, a := range s.extraAccounts {
		seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: a})
	}
	return seed
}

func (s *scenario) namespaces() []string {
	var out []string
	for _, o := range s.objects {
		if !slices.Contains(out, o.ns) {
			out = append(out, o.ns)
		}
	}
	return out
}

// create makes the namespaces, credentials Secrets and the objects of the
// images only selects (nil: all), in order, and records the creation time
// the API server gave each.
func (s *scenario) create(t *testing.T, only func(image string) bool) {
	t.Helper()
	if !s.prepared {
		for _, ns := range s.namespaces() {
			ensureNamespace(t, ns)
			createSecret(t, ns, credsSecret, ownerKeys())
		}
		s.prepared = true
	}
	for _, o := range s.objects {
		if !o.created.IsZero() || only != nil && !only(o.image) {
			continue
		}
		obj := newShare(o.ns, o.name, o.image, regionGZ, o.mode, o.credRef, o.accounts...)
		if err := kube.admin.Create(context.Background(), obj); err != nil {
			t.Fatalf("create %s: %v", o.key(), err)
		}
		o.created = obj.CreationTimestamp.Time
	}
}

// imagesBelow selects the images whose index is below n.
func (s *scenario) imagesBelow(n int) func(string) bool {
	return func(id string) bool { img := s.image(id); return img != nil && img.index < n }
}

func (s *scenario) image(id string) *scImage {
	for _, img := range s.images {
		if img.id == id {
			return img
		}
	}
	return nil
}

// members returns the live objects of an image, oldest first: creation time,
// then namespace/name, as contract §2 breaks ties.
func (s *scenario) members(image string) []*scObject {
	var out []*scObject
	for _, o := range s.objects {
		if o.image == image && !o.deleted && !o.created.IsZero() {
			out = append(out, o)
		}
	}
	slices.SortStableFunc(out, func(a, b *scObject) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return cmp.Compare(a.key(), b.key())
	})
	return out
}

// objExpect is what one object's status must say once everything settled.
type objExpect struct {
	reason    string
	shared    []string
	unmanaged []string
	missing   []string
	failed    map[string]string // account -> reason
}

// expect computes, from the contract alone, every image's final share list
// and every live object's final status, for objects that all existed before
// the manager first looked (so the oldest object always had first pick).
func (s *scenario) expect() (map[string][]string, map[string]objExpect) {
	finals := map[string][]string{}
	objs := map[string]objExpect{}
	for _, img := range s.images {
		members := s.members(img.id)
		conflicted := map[string]bool{}
		exclusiveOwner := len(members) > 0 && members[0].mode == cvmv1alpha1.ModeExclusive
		if slices.ContainsFunc(members, func(o *scObject) bool { return o.mode == cvmv1alpha1.ModeExclusive }) {
			for _, m := range members[1:] {
				if exclusiveOwner || m.mode == cvmv1alpha1.ModeExclusive {
					conflicted[m.key()] = true
				}
			}
		}
		// Exclusive: the share list becomes the owner's list; everything else
		// is cancelled first, so the swap fits under the limit.
		kept := set(img.seeded)
		if exclusiveOwner {
			for a := range kept {
				if !slices.Contains(members[0].accounts, a) {
					delete(kept, a)
				}
			}
		}
		room := s.limit - len(kept)
		planned, over := map[string]bool{}, map[string]bool{}
		for _, m := range members {
			if conflicted[m.key()] || m.mode == cvmv1alpha1.ModeObserve {
				continue
			}
			for _, a := range m.accounts {
				switch {
				case kept[a] || planned[a] || isBad(a):
				case room > 0:
					planned[a] = true
					room--
				default:
					over[a] = true
				}
			}
		}
		final := sortedCopy(slices.Collect(maps.Keys(kept)))
		final = sortedCopy(append(final, slices.Collect(maps.Keys(planned))...))
		finals[img.id] = final
		for _, m := range members {
			objs[m.key()] = expectObject(m, final, conflicted[m.key()], over)
		}
	}
	return finals, objs
}

// reasons counts the expected Ready reasons of the live objects.
func (s *scenario) reasons() map[string]int {
	_, objs := s.expect()
	out := map[string]int{}
	for _, e := range objs {
		out[e.reason]++
	}
	return out
}

func expectObject(m *scObject, final []string, conflicted bool, over map[string]bool) objExpect {
	var e objExpect
	e.failed = map[string]string{}
	for _, a := range final {
		if slices.Contains(m.accounts, a) {
			e.shared = append(e.shared, a)
		} else {
			e.unmanaged = append(e.unmanaged, a)
		}
	}
	switch {
	case conflicted:
		e.reason = "Conflict"
		return e
	case m.mode == cvmv1alpha1.ModeObserve:
		for _, a := range m.accounts {
			if !slices.Contains(final, a) {
				e.missing = append(e.missing, a)
			}
		}
		e.reason = "InSync"
		if len(e.missing) > 0 || len(e.unmanaged) > 0 {
			e.reason = "DriftDetected"
		}
		return e
	}
	for _, a := range m.accounts {
		switch {
		case isBad(a):
			e.failed[a] = "AccountNotFound"
		case over[a] && !slices.Contains(final, a):
			e.failed[a] = "ShareLimitExceeded"
		}
	}
	// The most actionable reason wins: the limit, then bad accounts.
	e.reason = "Shared"
	reasons := slices.Collect(maps.Values(e.failed))
	if slices.ContainsFunc(reasons, func(r string) bool { return r != "ShareLimitExceeded" }) {
		e.reason = "InvalidAccounts"
	}
	if slices.Contains(reasons, "ShareLimitExceeded") {
		e.reason = "ShareLimitExceeded"
	}
	return e
}

// afterDeletion is every image's share list once every object is deleted
// under deletionPolicy Delete: an image an Exclusive object owned has no
// shares left; on the others the out-of-band shares stay, listed or not: an
// object manages only what it shared itself (contract §2, "Managed"), never
// an account the console shared before it was listed.
func (s *scenario) afterDeletion(owners map[string]bool) map[string][]string {
	out := map[string][]string{}
	for _, img := range s.images {
		out[img.id] = []string{}
		if !owners[img.id] {
			out[img.id] = append(out[img.id], img.seeded...)
		}
	}
	return out
}

// exclusiveOwners names the images whose oldest live object is Exclusive.
func (s *scenario) exclusiveOwners() map[string]bool {
	out := map[string]bool{}
	for _, img := range s.images {
		if m := s.members(img.id); len(m) > 0 && m[0].mode == cvmv1alpha1.ModeExclusive {
			out[img.id] = true
		}
	}
	return out
}

func isBad(a string) bool { return strings.HasPrefix(a, "9") }

func set(xs []string) map[string]bool {
	out := map[string]bool{}
	for _, x := range xs {
		out[x] = true
	}
	return out
}

// check compares the cloud and every live object of the images only selects
// (nil: all) with the expectation; nil means they converged.
func (s *scenario) check(emu *emulator.Emulator, only func(image string) bool) error {
	finals, objs := s.expect()
	var errs []error
	cloud := sharedWith(emu)
	for _, img := range s.images {
		if only != nil && !only(img.id) {
			continue
		}
		if got := cloud[img.id]; !sameSet(got, finals[img.id]) {
			errs = append(errs, fmt.Errorf("image %s shared with %v, want %v", img.id, got, finals[img.id]))
		}
	}
	for _, o := range s.objects {
		if o.deleted || o.created.IsZero() || only != nil && !only(o.image) {
			continue
		}
		obj, err := getShare(o.ns, o.name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := checkObject(obj, objs[o.key()]); err != nil {
			errs = append(errs, err)
		}
	}
	return joinErrs(errs)
}

func checkObject(obj *cvmv1alpha1.ImageShare, want objExpect) error {
	if err := checkTriad(obj, want.reason); err != nil {
		return err
	}
	if want.reason == "Conflict" {
		return nil
	}
	key := obj.Namespace + "/" + obj.Name
	st := obj.Status
	failed := map[string]string{}
	for _, f := range st.FailedAccounts {
		failed[f.AccountID] = f.Reason
	}
	switch {
	case !sameSet(st.SharedAccountIDs, want.shared):
		return fmt.Errorf("%s: sharedAccountIds %v, want %v", key, st.SharedAccountIDs, want.shared)
	case !sameSet(st.UnmanagedAccountIDs, want.unmanaged):
		return fmt.Errorf("%s: unmanagedAccountIds %v, want %v", key, st.UnmanagedAccountIDs, want.unmanaged)
	case !sameSet(st.MissingAccountIDs, want.missing):
		return fmt.Errorf("%s: missingAccountIds %v, want %v", key, st.MissingAccountIDs, want.missing)
	case !maps.Equal(failed, want.failed):
		return fmt.Errorf("%s: failedAccounts %v, want %v", key, failed, want.failed)
	}
	return nil
}

// waitGone waits until no ImageShare is left in the cluster: every finalizer
// was released by the manager (nothing strips them here).
func waitGone(t *testing.T, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, 250*time.Millisecond, func() error {
		var list cvmv1alpha1.ImageShareList
		if err := kube.admin.List(context.Background(), &list); err != nil {
			return err
		}
		if n := len(list.Items); n > 0 {
			o := list.Items[0]
			return fmt.Errorf("%d ImageShares still held, e.g. %s/%s finalizers %v conditions %+v", n, o.Namespace,
				o.Name, o.Finalizers, o.Status.Conditions)
		}
		return nil
	})
}

// deleteAll deletes every ImageShare of the scenario.
func (s *scenario) deleteAll(t *testing.T) {
	t.Helper()
	for _, ns := range s.namespaces() {
		err := kube.admin.DeleteAllOf(context.Background(), &cvmv1alpha1.ImageShare{}, client.InNamespace(ns))
		if err != nil {
			t.Fatalf("delete ImageShares in %s: %v", ns, err)
		}
	}
}

// ---------------------------------------------------------------------------
// The cloud watched while the manager works.

// cloudWatch samples the emulator's share lists continuously and records
// every moment an image was shared with an account it must not be shared
// with, held more accounts than the limit, or lost an account it must keep.
type cloudWatch struct {
	emu   *emulator.Emulator
	limit int

	mu sync.Mutex
	// allowed[image] are the accounts that may be shared at any moment: the
	// out-of-band shares and what some object lists (or listed).
	allowed map[string]map[string]bool
	// keep[image] are accounts that, once seen shared, must stay shared.
	keep       map[string]map[string]bool
	seen       map[string]map[string]bool
	violations []string
	samples    int
	stop, done chan struct{}
}

func watchCloud(emu *emulator.Emulator, limit int) *cloudWatch {
	w := &cloudWatch{emu: emu, limit: limit, allowed: map[string]map[string]bool{},
		keep: map[string]map[string]bool{}, seen: map[string]map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *cloudWatch) allow(image string, accounts ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.allowed[image] == nil {
		w.allowed[image] = map[string]bool{}
	}
	for _, a := range accounts {
		w.allowed[image][a] = true
	}
}

// allowOnlyShared narrows the accounts every watched image may be shared
// with to those it is shared with now: from here on, nothing may be shared.
// Call it while no manager runs, so that the share lists hold still.
func (w *cloudWatch) allowOnlyShared() {
	cloud := sharedWith(w.emu)
	w.mu.Lock()
	defer w.mu.Unlock()
	for image := range w.allowed {
		w.allowed[image] = set(cloud[image])
	}
}

// mustKeep replaces the accounts of image that must not be dropped once shared.
func (w *cloudWatch) mustKeep(image string, accounts []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keep[image] = set(accounts)
	w.seen[image] = map[string]bool{}
}

// allowScenario allows, per image, the out-of-band shares and the expected
// final shares, nothing else: an account over the limit, a bad account or one
// listed by an object in Conflict must never be shared, not even for a
// moment. It asks that the final shares, once made, stay.
func (w *cloudWatch) allowScenario(s *scenario) {
	finals, _ := s.expect()
	for _, img := range s.images {
		w.allow(img.id, img.seeded...)
		w.allow(img.id, finals[img.id]...)
		w.mustKeep(img.id, finals[img.id])
	}
}

func (w *cloudWatch) run() {
	defer close(w.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		w.sample()
		select {
		case <-w.stop:
			w.sample()
			return
		case <-tick.C:
		}
	}
}

func (w *cloudWatch) sample() {
	cloud := sharedWith(w.emu)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	for image, shares := range cloud {
		allowed, watched := w.allowed[image]
		if !watched {
			continue
		}
		if len(shares) > w.limit {
			w.violate(fmt.Sprintf("image %s shared with %d accounts, over the limit %d", image, len(shares), w.limit))
		}
		for _, a := range shares {
			if !allowed[a] {
				w.violate(fmt.Sprintf("image %s shared with %s, which no object listed", image, a))
			}
			if w.keep[image][a] {
				w.seen[image][a] = true
			}
		}
		for a := range w.seen[image] {
			if !slices.Contains(shares, a) {
				w.violate(fmt.Sprintf("image %s dropped %s, which it must keep", image, a))
			}
		}
	}
}

func (w *cloudWatch) violate(msg string) {
	if !slices.Contains(w.violations, msg) && len(w.violations) < 50 {
		w.violations = append(w.violations, msg)
	}
}

// finish stops sampling and fails the test on any violation seen.
func (w *cloudWatch) finish(t *testing.T) {
	t.Helper()
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, v := range w.violations {
		t.Errorf("cloud watch: %s", v)
	}
	t.Logf("cloud watch: %d samples of every share list, %d violations", w.samples, len(w.violations))
}
