package planner

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The fuzz scenarios draw accounts from a small universe so that members,
// the cloud's share list and the limit collide often.
const (
	fuzzUniverse   = 10
	fuzzMaxLimit   = 6
	fuzzMaxMembers = 4
	fuzzMaxListed  = 6
)

var fuzzModes = []Mode{Merge, Exclusive, Observe}

func fuzzAccount(i int) string { return fmt.Sprintf("1000000000%02d", i%fuzzUniverse) }

// byteReader hands out the fuzz bytes one at a time and zeros once they run
// out, so every byte string decodes to some scenario.
type byteReader struct {
	data []byte
	pos  int
}

func (r *byteReader) next() int {
	if r.pos >= len(r.data) {
		return 0
	}
	b := r.data[r.pos]
	r.pos++
	return int(b)
}

// accountSet reads two bytes as a bit set over the account universe.
func (r *byteReader) accountSet() []string {
	bits := r.next() | r.next()<<8
	var out []string
	for i := range fuzzUniverse {
		if bits&(1<<i) != 0 {
			out = append(out, fuzzAccount(i))
		}
	}
	return out
}

// decodeInput turns fuzz bytes into a scenario. Layout:
//
//	limit, shared(2), members
//	per member: mode, flags (bit0 deleting, bit1 cancelOnDelete, bits2-3 age, bit4 hold),
//	            n, n account indices, managed(2), knownBad (bit i: i-th listed account)
func decodeInput(data []byte) Input {
	r := &byteReader{data: data}
	in := Input{Limit: r.next() % (fuzzMaxLimit + 1), Shared: r.accountSet()}
	n := 1 + r.next()%fuzzMaxMembers
	for i := range n {
		mode := fuzzModes[r.next()%len(fuzzModes)]
		flags := r.next()
		m := Member{
			// Keys are unique, as namespace/name is in a cluster.
			Key:            fmt.Sprintf("ns/share-%d", i),
			CreatedAt:      epoch.Add(time.Duration((flags>>2)%4) * time.Minute),
			Mode:           mode,
			Deleting:       flags&1 != 0,
			CancelOnDelete: flags&2 != 0,
			Hold:           flags&16 != 0,
		}
		for range r.next() % (fuzzMaxListed + 1) {
			// spec.accountIds is a set: admission rejects duplicates.
			if a := fuzzAccount(r.next()); !slices.Contains(m.Accounts, a) {
				m.Accounts = append(m.Accounts, a)
			}
		}
		m.Managed = r.accountSet()
		bad := r.next()
		for j, a := range m.Accounts {
			if bad&(1<<j) != 0 {
				if m.KnownBad == nil {
					m.KnownBad = map[string]Reason{}
				}
				m.KnownBad[a] = AccountNotFound
			}
		}
		in.Members = append(in.Members, m)
	}
	return in
}

// seedMember and seedScenario describe a fuzz seed readably; encode is the
// inverse of decodeInput for them.
type seedMember struct {
	mode           int // index into fuzzModes
	deleting       bool
	cancelOnDelete bool
	age            int
	accounts       []int
	managed        []int
	bad            byte
}

type seedScenario struct {
	limit   int
	shared  []int
	members []seedMember
}

func encodeSet(xs []int) []byte {
	bits := 0
	for _, x := range xs {
		bits |= 1 << x
	}
	return []byte{byte(bits), byte(bits >> 8)}
}

func (s seedScenario) encode() []byte {
	out := []byte{byte(s.limit)}
	out = append(out, encodeSet(s.shared)...)
	out = append(out, byte(len(s.members)-1))
	for _, m := range s.members {
		flags := byte(m.age << 2)
		if m.deleting {
			flags |= 1
		}
		if m.cancelOnDelete {
			flags |= 2
		}
		out = append(out, byte(m.mode), flags, byte(len(m.accounts)))
		for _, a := range m.accounts {
			out = append(out, byte(a))
		}
		out = append(out, encodeSet(m.managed)...)
		out = append(out, m.bad)
	}
	return out
}

const (
	seedMerge = iota
	seedExclusive
	seedObserve
)

var fuzzSeeds = []seedScenario{
	// One Merge member, in sync.
	{limit: 6, shared: []int{1, 2}, members: []seedMember{
		{mode: seedMerge, accounts: []int{1, 2}, managed: []int{1, 2}}}},
	// Merge at the limit with unmanaged shares and a swap.
	{limit: 3, shared: []int{1, 2, 8}, members: []seedMember{
		{mode: seedMerge, accounts: []int{1, 3, 4}, managed: []int{1, 2}, bad: 0b100}}},
	// Two Merge members sharing an account, the younger listed first.
	{limit: 4, shared: []int{9}, members: []seedMember{
		{mode: seedMerge, age: 2, accounts: []int{5, 6, 7}, managed: []int{0}},
		{mode: seedMerge, age: 1, accounts: []int{6, 1}}}},
	// Exclusive owner and a younger Exclusive in conflict.
	{limit: 2, shared: []int{0, 8, 9}, members: []seedMember{
		{mode: seedExclusive, accounts: []int{0, 1, 2}},
		{mode: seedExclusive, age: 1, accounts: []int{3}}}},
	// Older Merge, younger Exclusive, deleting Merge under Delete.
	{limit: 5, shared: []int{1, 2, 3}, members: []seedMember{
		{mode: seedMerge, accounts: []int{1}, managed: []int{1}},
		{mode: seedExclusive, age: 2, accounts: []int{4}},
		{mode: seedMerge, age: 1, deleting: true, cancelOnDelete: true, accounts: []int{2, 3}, managed: []int{2, 3}}}},
	// Observe only, with drift both ways.
	{limit: 1, shared: []int{1, 2, 3}, members: []seedMember{
		{mode: seedObserve, accounts: []int{3, 4}, managed: []int{1}},
		{mode: seedObserve, age: 3, deleting: true, cancelOnDelete: true, accounts: []int{5}, managed: []int{2}}}},
	// Limit lowered below what is shared.
	{limit: 1, shared: []int{0, 1, 2, 3, 4}, members: []seedMember{
		{mode: seedMerge, accounts: []int{0, 5, 6}, managed: []int{0, 1}}}},
	// Deleting Exclusive owner under Delete, a Merge member taking over.
	{limit: 6, shared: []int{0, 1, 7}, members: []seedMember{
		{mode: seedExclusive, deleting: true, cancelOnDelete: true, accounts: []int{0}, managed: []int{0}},
		{mode: seedMerge, age: 1, accounts: []int{1, 2}, managed: []int{1}}}},
}

func FuzzCompute(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.encode())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := decodeInput(data)
		plan := Compute(in)
		checkInvariants(t, in, plan)
		checkDeterministic(t, in, plan)
		checkConverges(t, in, plan)
	})
}

// TestFuzzSeedsDecode guards the seed encoder: a seed that decoded to some
// other scenario would silently stop covering what its comment promises.
func TestFuzzSeedsDecode(t *testing.T) {
	for i, s := range fuzzSeeds {
		in := decodeInput(s.encode())
		if in.Limit != s.limit || len(in.Members) != len(s.members) || len(in.Shared) != len(s.shared) {
			t.Fatalf("seed %d decoded to %+v", i, in)
		}
		for j, sm := range s.members {
			m := in.Members[j]
			if m.Mode != fuzzModes[sm.mode] || m.Deleting != sm.deleting || m.CancelOnDelete != sm.cancelOnDelete ||
				len(m.Accounts) != len(sm.accounts) || len(m.Managed) != len(sm.managed) ||
				!m.CreatedAt.Equal(at(sm.age)) {
				t.Errorf("seed %d member %d decoded to %+v, want %+v", i, j, m, sm)
			}
			for k, a := range sm.accounts {
				if m.Accounts[k] != fuzzAccount(a) {
					t.Errorf("seed %d member %d account %d = %s, want %s", i, j, k, m.Accounts[k], fuzzAccount(a))
				}
			}
		}
	}
}

// roles restates, independently of Compute, who may act on the image.
type roles struct {
	live []Member // not being deleted, oldest first
	// active members may share: live, not Observe, not held, not in conflict.
	active []Member
	// owner is the live Exclusive member that owns the image, if any.
	owner *Member
	// anyExclusive is true when some member, live or deleting, is Exclusive.
	anyExclusive bool
}

func rolesOf(in Input) roles {
	var r roles
	for _, m := range Ordered(in.Members) {
		if m.Mode == Exclusive {
			r.anyExclusive = true
		}
		if !m.Deleting {
			r.live = append(r.live, m)
		}
	}
	hasExclusive := slices.ContainsFunc(r.live, func(m Member) bool { return m.Mode == Exclusive })
	if hasExclusive && r.live[0].Mode == Exclusive {
		r.owner = &r.live[0]
	}
	for i, m := range r.live {
		conflicted := hasExclusive && i > 0 && (r.owner != nil || m.Mode == Exclusive)
		if !conflicted && m.Mode != Observe && !m.Hold {
			r.active = append(r.active, m)
		}
	}
	return r
}

func checkInvariants(t *testing.T, in Input, p Plan) {
	t.Helper()
	r := rolesOf(in)
	shared := toSet(in.Shared)
	cancel := toSet(p.Cancel)

	checkCancelShape(t, p, shared)
	checkShareShape(t, p, shared, cancel)
	checkConflicts(t, in, p, r)

	// Never exceeds the limit, and never makes an excess worse.
	after := len(shared) - len(cancel) + len(p.Share)
	if after > max(in.Limit, len(shared)-len(cancel)) {
		t.Errorf("%d shared after the plan, limit %d, %d before (plan %+v)", after, in.Limit, len(shared), p)
	}

	// Share and OverLimit together are exactly the wanted accounts: listed by
	// an active member that does not know them as bad, and not already shared
	// for good. As many of them are shared as fit.
	wanted := map[string]bool{}
	for _, m := range r.active {
		for _, a := range m.Accounts {
			if _, bad := m.KnownBad[a]; !bad && (!shared[a] || cancel[a]) {
				wanted[a] = true
			}
		}
	}
	for _, a := range p.Share {
		if !wanted[a] {
			t.Errorf("shares %s, which no active member wants (plan %+v)", a, p)
		}
		if p.OverLimit[a] {
			t.Errorf("shares %s and reports it over the limit", a)
		}
	}
	for a := range p.OverLimit {
		if !wanted[a] {
			t.Errorf("reports %s over the limit, but no active member wants it", a)
		}
	}
	capacity := max(in.Limit-(len(shared)-len(cancel)), 0)
	if want := min(len(wanted), capacity); len(p.Share) != want {
		t.Errorf("shares %d accounts, want %d (wanted %d, room %d)", len(p.Share), want, len(wanted), capacity)
	}
	if len(p.Share)+len(p.OverLimit) != len(wanted) {
		t.Errorf("share %v and over-limit %v do not cover wanted %v", p.Share, p.OverLimit, wanted)
	}

	checkCancelRules(t, in, p, r)
}

func checkCancelShape(t *testing.T, p Plan, shared map[string]bool) {
	t.Helper()
	if !slices.IsSorted(p.Cancel) || len(slices.Compact(slices.Clone(p.Cancel))) != len(p.Cancel) {
		t.Errorf("Cancel %v is not sorted and unique", p.Cancel)
	}
	for _, a := range p.Cancel {
		if !shared[a] {
			t.Errorf("cancels %s, which is not shared", a)
		}
	}
}

func checkShareShape(t *testing.T, p Plan, shared, cancel map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range p.Share {
		if seen[a] {
			t.Errorf("shares %s twice", a)
		}
		seen[a] = true
		if cancel[a] {
			t.Errorf("both cancels and shares %s", a)
		}
		if shared[a] {
			t.Errorf("shares %s, which is already shared", a)
		}
	}
}

func checkConflicts(t *testing.T, in Input, p Plan, r roles) {
	t.Helper()
	hasExclusive := slices.ContainsFunc(r.live, func(m Member) bool { return m.Mode == Exclusive })
	if !hasExclusive {
		if p.Winner != "" || len(p.Conflicts) != 0 {
			t.Errorf("no live Exclusive member, yet winner %q and conflicts %v", p.Winner, p.Conflicts)
		}
		return
	}
	if p.Winner != r.live[0].Key {
		t.Errorf("winner %q, want the oldest live member %q", p.Winner, r.live[0].Key)
	}
	for _, m := range in.Members {
		_, conflicted := p.Conflicts[m.Key]
		shouldConflict := !m.Deleting && m.Key != p.Winner && (r.owner != nil || m.Mode == Exclusive)
		if conflicted != shouldConflict {
			t.Errorf("member %s (%s, deleting %v): conflicted %v, want %v", m.Key, m.Mode, m.Deleting,
				conflicted, shouldConflict)
		}
		if conflicted && p.Conflicts[m.Key] != p.Winner {
			t.Errorf("member %s conflicts with %q, want %q", m.Key, p.Conflicts[m.Key], p.Winner)
		}
	}
}

// checkCancelRules checks who may cause a cancel.
func checkCancelRules(t *testing.T, in Input, p Plan, r roles) {
	t.Helper()
	passive := func(m Member) bool { return m.Mode == Observe || m.Hold && !m.Deleting }
	if !slices.ContainsFunc(in.Members, func(m Member) bool { return !passive(m) }) &&
		(len(p.Cancel) != 0 || len(p.Share) != 0 || len(p.OverLimit) != 0) {
		t.Errorf("input of Observe and held members only planned %+v", p)
	}
	if r.owner != nil && !r.owner.Hold {
		// The owner's list is the image's list: nothing on it is cancelled.
		for _, a := range p.Cancel {
			if slices.Contains(r.owner.Accounts, a) {
				t.Errorf("cancels %s, which the Exclusive owner %s lists", a, r.owner.Key)
			}
		}
		return
	}
	// A held owner cancels nothing: without an acting owner, nothing a live
	// member lists is ever cancelled.
	for _, a := range p.Cancel {
		for _, m := range r.live {
			if slices.Contains(m.Accounts, a) {
				t.Errorf("cancels %s, which live member %s lists", a, m.Key)
			}
		}
	}
	if r.owner != nil || slices.ContainsFunc(in.Members, func(m Member) bool {
		return m.Mode == Exclusive && m.Deleting && m.CancelOnDelete &&
			(len(r.live) == 0 || compareAge(m, r.live[0]) < 0)
	}) {
		return
	}
	// Without Exclusive, only managed accounts nobody live still lists go.
	managed := map[string]bool{}
	for _, m := range in.Members {
		if passive(m) || m.Deleting && !m.CancelOnDelete {
			continue
		}
		for _, a := range m.Managed {
			managed[a] = true
		}
	}
	for _, a := range p.Cancel {
		if !managed[a] {
			t.Errorf("cancels %s, which no Merge member manages", a)
		}
	}
}

// checkDeterministic asserts that the plan does not depend on member order.
func checkDeterministic(t *testing.T, in Input, want Plan) {
	t.Helper()
	reversed := slices.Clone(in.Members)
	slices.Reverse(reversed)
	rotated := append(slices.Clone(in.Members[1:]), in.Members[0])
	for _, members := range [][]Member{reversed, rotated} {
		shuffled := in
		shuffled.Members = members
		shuffled.Shared = slices.Clone(in.Shared)
		slices.Reverse(shuffled.Shared)
		if got := Compute(shuffled); !reflect.DeepEqual(got, want) {
			t.Errorf("plan depends on input order:\n got %+v\nwant %+v", got, want)
		}
	}
}

// apply returns the share list after the plan ran in full: cancels, then shares.
func apply(shared []string, p Plan) []string {
	var out []string
	for _, a := range shared {
		if !slices.Contains(p.Cancel, a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return append(out, p.Share...)
}

// checkConverges runs the plan, lets every member record what it manages
// (NextManaged) as its new status.managedAccountIds, releases deleting members, and plans again: the
// second plan must be a no-op with the same accounts over the limit.
func checkConverges(t *testing.T, in Input, p Plan) {
	t.Helper()
	after := apply(in.Shared, p)
	next := Input{Shared: after, Limit: in.Limit}
	managed := NextManaged(in, p, after, p.Share)
	for _, m := range in.Members {
		if m.Deleting {
			continue
		}
		m.Managed = managed[m.Key]
		next.Members = append(next.Members, m)
	}
	again := Compute(next)
	if len(again.Cancel) != 0 || len(again.Share) != 0 {
		t.Errorf("second pass not a no-op: %+v\nfirst %+v\ninput %+v", again, p, in)
	}
	if !reflect.DeepEqual(again.OverLimit, p.OverLimit) {
		t.Errorf("over-limit changed on the second pass: %v, then %v", p.OverLimit, again.OverLimit)
	}
}
