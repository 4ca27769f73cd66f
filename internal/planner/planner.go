// Package planner computes, for one image, what the controller must cancel and
// share so that the cloud matches every ImageShare that targets the image. It is
// a pure function of the observed share list, the ImageShares and the limit, so
// every rule of contract §2 is table-tested without a cloud or a cluster.
package planner

import (
	"cmp"
	"slices"
	"time"
)

// Mode mirrors spec.mode.
type Mode string

// Modes of an ImageShare.
const (
	Merge     Mode = "Merge"
	Exclusive Mode = "Exclusive"
	Observe   Mode = "Observe"
)

// Reason is why a listed account is not shared.
type Reason string

// Account failure reasons, as they appear in status.failedAccounts.
const (
	ShareLimitExceeded Reason = "ShareLimitExceeded"
	AccountNotFound    Reason = "AccountNotFound"
	AccountIsOwner     Reason = "AccountIsOwner"
	NotRootAccount     Reason = "NotRootAccount"
)

// Member is one ImageShare that targets the image.
type Member struct {
	// Key identifies the object (namespace/name) and breaks creation-time ties.
	Key       string
	CreatedAt time.Time
	Mode      Mode
	// Accounts is spec.accountIds, in spec order: earlier accounts win the limit.
	Accounts []string
	// Managed is what this object shared itself (status.managedAccountIds,
	// and its write-ahead record of pending shares): the only accounts Merge
	// may ever cancel.
	Managed []string
	// KnownBad are accounts the cloud refused recently, for the account
	// itself: a SHARE of a listed one, or a CANCEL of an unwanted one. They
	// are neither shared nor cancelled again until the spec changes or the
	// resync period passes.
	KnownBad map[string]Reason
	// Deleting is true once the object has a deletion timestamp.
	Deleting bool
	// CancelOnDelete is deletionPolicy == Delete.
	CancelOnDelete bool
	// Hold is a live member whose full list cannot be read for now (an
	// accountsFrom source is missing): it shares and cancels nothing, as
	// Observe, but the Accounts it is known to list stay protected from
	// its siblings' cancels, and its Mode still decides who owns the image.
	Hold bool
}

// Input is everything the plan depends on.
type Input struct {
	// Shared is the image's share list as the cloud reports it.
	Shared []string
	// Members are all ImageShares of the image, in any order.
	Members []Member
	// Limit is the most accounts the image may be shared with in total.
	Limit int
}

// Plan is what to do, and what each member will see once it is done.
type Plan struct {
	// Cancel is sorted; it runs before Share so a swap never overshoots the limit.
	Cancel []string
	// Share is in priority order (oldest member first, then spec order).
	Share []string
	// OverLimit maps each listed account that does not fit to true.
	OverLimit map[string]bool
	// Winner is the key of the member that owns the image when an Exclusive
	// member is involved; other members are in conflict with it.
	Winner string
	// Conflicts maps the key of each member in conflict to the winner's key.
	Conflicts map[string]string
}

// Ordered returns the members sorted oldest first (creation time, then key):
// the order that decides the Exclusive winner and who fits under the limit.
func Ordered(members []Member) []Member {
	out := slices.Clone(members)
	slices.SortStableFunc(out, compareAge)
	return out
}

// compareAge orders members oldest first: creation time, then key.
func compareAge(a, b Member) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}

// Compute returns the plan for one image.
func Compute(in Input) Plan {
	members := Ordered(in.Members)
	var live []Member
	for _, m := range members {
		if !m.Deleting {
			live = append(live, m)
		}
	}
	p := Plan{OverLimit: map[string]bool{}, Conflicts: map[string]string{}}
	p.Winner, p.Conflicts = conflicts(live)
	cancel := cancels(in, members, live, p.Conflicts)
	p.Cancel = sortedKeys(cancel)
	p.Share, p.OverLimit = shares(in, live, p.Conflicts, cancel)
	return p
}

// conflicts decides who owns an image that an Exclusive member targets: the
// oldest live member. If that owner is Exclusive everyone else is in conflict;
// otherwise every Exclusive member is.
func conflicts(live []Member) (winner string, in map[string]string) {
	in = map[string]string{}
	if !slices.ContainsFunc(live, func(m Member) bool { return m.Mode == Exclusive }) {
		return "", in
	}
	winner = live[0].Key
	for _, m := range live[1:] {
		if live[0].Mode == Exclusive || m.Mode == Exclusive {
			in[m.Key] = winner
		}
	}
	return winner, in
}

// cancels returns the accounts to cancel: Exclusive owners drop what they do
// not list, Merge members drop what they managed and nobody lists any more,
// deleting members under Delete drop what is theirs.
func cancels(in Input, members, live []Member, conflicted map[string]string) map[string]bool {
	shared := toSet(in.Shared)
	// An account another live member lists is never cancelled on a member's behalf.
	listedElsewhere := func(self, account string) bool {
		return slices.ContainsFunc(live, func(m Member) bool {
			return m.Key != self && slices.Contains(m.Accounts, account)
		})
	}
	cancel := map[string]bool{}
	for _, m := range members {
		_, isConflicted := conflicted[m.Key]
		var candidates []string
		switch {
		case m.Mode == Observe || m.Hold:
			// Observe never modifies the cloud; a held member waits, even
			// for what it left (a replica region removed while frozen).
		case m.Deleting && m.CancelOnDelete:
			// An Exclusive owner being deleted takes every share nobody else lists;
			// anyone else, an Exclusive member that lost the conflict included,
			// takes only what it manages. The owner is the Exclusive member no
			// live member is older than: the one that would win if it were live.
			candidates = m.Managed
			if m.Mode == Exclusive && (len(live) == 0 || compareAge(m, live[0]) < 0) {
				candidates = in.Shared
			}
		case m.Deleting || isConflicted:
			// Orphan leaves the shares; a member in conflict waits for its resolution.
		case m.Mode == Exclusive:
			for _, a := range in.Shared {
				if _, bad := m.KnownBad[a]; !bad && !slices.Contains(m.Accounts, a) {
					cancel[a] = true
				}
			}
		default: // Merge
			for _, a := range m.Managed {
				if !slices.Contains(m.Accounts, a) {
					candidates = append(candidates, a)
				}
			}
		}
		for _, a := range candidates {
			if _, bad := m.KnownBad[a]; !bad && shared[a] && !listedElsewhere(m.Key, a) {
				cancel[a] = true
			}
		}
	}
	return cancel
}

// shares returns what to share, oldest member first and each in spec order,
// as far as the limit allows after the cancels, and the accounts that do not fit.
func shares(in Input, live []Member, conflicted map[string]string, cancel map[string]bool) ([]string,
	map[string]bool) {
	shared := toSet(in.Shared)
	capacity := max(in.Limit-(len(shared)-len(cancel)), 0)
	planned := map[string]bool{}
	over := map[string]bool{}
	var share []string
	for _, m := range live {
		if _, isConflicted := conflicted[m.Key]; isConflicted || m.Mode == Observe || m.Hold {
			continue
		}
		for _, a := range m.Accounts {
			_, bad := m.KnownBad[a]
			switch {
			case shared[a] && !cancel[a], planned[a], over[a], bad:
				continue
			case capacity == 0:
				over[a] = true
			default:
				capacity--
				planned[a] = true
				share = append(share, a)
			}
		}
	}
	return share, over
}

func toSet(xs []string) map[string]bool {
	s := make(map[string]bool, len(xs))
	for _, x := range xs {
		s[x] = true
	}
	return s
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
