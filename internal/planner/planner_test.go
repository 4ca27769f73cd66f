package planner

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// Account IDs used by the table tests. id8 and id9 play shares made outside the
// operator (console, CLI) unless a case says otherwise.
const (
	id1 = "100000000001"
	id2 = "100000000002"
	id3 = "100000000003"
	id4 = "100000000004"
	id5 = "100000000005"
	id8 = "100000000008"
	id9 = "100000000009"
)

// Object keys used by the table tests.
const (
	keyA = "team-a/alpha"
	keyB = "team-a/beta"
	keyC = "team-b/gamma"
)

var epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// at returns a creation time n minutes after epoch: a smaller n is an older object.
func at(n int) time.Time { return epoch.Add(time.Duration(n) * time.Minute) }

func ids(xs ...string) []string { return xs }

type computeCase struct {
	name string
	// bug, when set, skips the case: it records behaviour that contradicts
	// contract §2 and is expected to pass once planner.go is fixed.
	bug           string
	in            Input
	wantCancel    []string
	wantShare     []string
	wantOver      []string
	wantWinner    string
	wantConflicts map[string]string
}

func runComputeCases(t *testing.T, cases []computeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Skip("BUG: " + tc.bug)
			}
			got := Compute(tc.in)
			if !slices.Equal(got.Cancel, tc.wantCancel) {
				t.Errorf("Cancel = %v, want %v", got.Cancel, tc.wantCancel)
			}
			if !slices.Equal(got.Share, tc.wantShare) {
				t.Errorf("Share = %v, want %v", got.Share, tc.wantShare)
			}
			if over := sortedKeys(got.OverLimit); !slices.Equal(over, orEmpty(tc.wantOver)) {
				t.Errorf("OverLimit = %v, want %v", over, tc.wantOver)
			}
			if got.Winner != tc.wantWinner {
				t.Errorf("Winner = %q, want %q", got.Winner, tc.wantWinner)
			}
			if !maps.Equal(got.Conflicts, tc.wantConflicts) {
				t.Errorf("Conflicts = %v, want %v", got.Conflicts, tc.wantConflicts)
			}
			// Every hand-written scenario must also satisfy the invariants the
			// fuzz test checks, so the two cannot drift apart.
			checkInvariants(t, tc.in, got)
		})
	}
}

// orEmpty makes a nil expectation compare equal to sortedKeys' empty result.
func orEmpty(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func TestComputeMerge(t *testing.T) {
	runComputeCases(t, []computeCase{
		{
			name: "shares the listed accounts in spec order",
			in: Input{Limit: 50, Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id3, id1, id2)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id3, id1, id2),
		},
		{
			name: "does nothing when the cloud matches the spec",
			in: Input{Limit: 50, Shared: ids(id2, id1), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2), Managed: ids(id1, id2)},
			}},
			wantCancel: ids(),
		},
		{
			name: "shares only the listed accounts that are missing",
			in: Input{Limit: 50, Shared: ids(id1), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2), Managed: ids(id1)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id2),
		},
		{
			name: "cancels an account it managed and no longer lists",
			in: Input{Limit: 50, Shared: ids(id1, id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1), Managed: ids(id1, id2)},
			}},
			wantCancel: ids(id2),
		},
		{
			name: "does not cancel again an account whose cancel the cloud refused, until the resync",
			in: Input{Limit: 50, Shared: ids(id1, id2, id3), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Managed: ids(id1, id2),
					KnownBad: map[string]Reason{id1: AccountNotFound}},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Managed: ids(id3), Deleting: true, CancelOnDelete: true,
					KnownBad: map[string]Reason{id3: AccountNotFound}},
			}},
			wantCancel: ids(id2),
		},
		{
			name: "a held member cancels nothing, even what it left",
			in: Input{Limit: 50, Shared: ids(id1, id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Managed: ids(id1), Deleting: true, CancelOnDelete: true,
					Hold: true},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id2), Managed: ids(id2), Hold: true},
			}},
			wantCancel: ids(),
		},
		{
			name: "keeps a dropped account it never managed",
			in: Input{Limit: 50, Shared: ids(id1, id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1), Managed: ids(id1)},
			}},
			wantCancel: ids(),
		},
		{
			name: "does not cancel a managed account that is no longer shared",
			in: Input{Limit: 50, Shared: ids(id1), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1), Managed: ids(id1, id2)},
			}},
			wantCancel: ids(),
		},
		{
			name: "never touches unmanaged shares",
			in: Input{Limit: 50, Shared: ids(id8, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id1),
		},
		{
			name: "does not retry known-bad accounts and gives them no room",
			in: Input{Limit: 1, Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2, id3),
					KnownBad: map[string]Reason{id1: AccountNotFound, id2: NotRootAccount}},
			}},
			wantCancel: ids(),
			wantShare:  ids(id3),
		},
		{
			name:       "an empty member list plans nothing",
			in:         Input{Limit: 50, Shared: ids(id1, id9)},
			wantCancel: ids(),
		},
	})
}

func TestComputeLimit(t *testing.T) {
	runComputeCases(t, []computeCase{
		{
			name: "counts unmanaged shares against the limit",
			in: Input{Limit: 3, Shared: ids(id8, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2, id3)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id1),
			wantOver:   ids(id2, id3),
		},
		{
			name: "spec order decides who fits",
			in: Input{Limit: 2, Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id5, id1, id3)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id5, id1),
			wantOver:   ids(id3),
		},
		{
			name: "a swap at the limit cancels first and fits",
			in: Input{Limit: 2, Shared: ids(id1, id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id3), Managed: ids(id1, id2)},
			}},
			wantCancel: ids(id2),
			wantShare:  ids(id3),
		},
		{
			name: "a limit of zero shares nothing",
			in: Input{Limit: 0, Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1)},
			}},
			wantCancel: ids(),
			wantOver:   ids(id1),
		},
		{
			name: "a lowered limit leaves existing shares and has no room",
			in: Input{Limit: 1, Shared: ids(id1, id2, id8), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2, id3), Managed: ids(id1, id2)},
			}},
			wantCancel: ids(),
			wantOver:   ids(id3),
		},
		{
			name: "a lowered limit still over after cancels has no room",
			in: Input{Limit: 1, Shared: ids(id1, id2, id3, id8), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id4), Managed: ids(id1, id2, id3)},
			}},
			wantCancel: ids(id2, id3),
			wantOver:   ids(id4),
		},
		{
			name: "an account listed by two members takes one slot",
			in: Input{Limit: 3, Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2)},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id2, id3)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id1, id2, id3),
		},
		{
			name: "an account reported twice by the cloud takes one slot",
			in: Input{Limit: 2, Shared: ids(id8, id8), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id1),
		},
		{
			name: "over-limit names exactly the accounts that did not fit",
			in: Input{Limit: 3, Shared: ids(id1), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2, id3, id4),
					Managed: ids(id1), KnownBad: map[string]Reason{id3: AccountIsOwner}},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id1, id4, id5)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id2, id4),
			wantOver:   ids(id5),
		},
		{
			name: "deletion frees room for another member in the same pass",
			in: Input{Limit: 2, Shared: ids(id1, id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2), Managed: ids(id1, id2),
					Deleting: true, CancelOnDelete: true},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id3)},
			}},
			wantCancel: ids(id1, id2),
			wantShare:  ids(id3),
		},
	})
}

func TestComputeManyMembers(t *testing.T) {
	runComputeCases(t, []computeCase{
		{
			name: "the oldest member fits first whatever the input order",
			in: Input{Limit: 2, Members: []Member{
				{Key: keyA, CreatedAt: at(2), Mode: Merge, Accounts: ids(id1, id2)},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id3, id4)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id3, id4),
			wantOver:   ids(id1, id2),
		},
		{
			name: "the key breaks a creation-time tie",
			in: Input{Limit: 1, Members: []Member{
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id1)},
				{Key: keyA, CreatedAt: at(1), Mode: Merge, Accounts: ids(id2)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id2),
			wantOver:   ids(id1),
		},
		{
			name: "a dropped account another member lists is kept",
			in: Input{Limit: 50, Shared: ids(id1, id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1), Managed: ids(id1, id2)},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id2), Managed: ids(id2)},
			}},
			wantCancel: ids(),
		},
		{
			name: "a dropped account an Observe member lists is kept",
			in: Input{Limit: 50, Shared: ids(id1, id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1), Managed: ids(id1, id2)},
				{Key: keyB, CreatedAt: at(1), Mode: Observe, Accounts: ids(id2)},
			}},
			wantCancel: ids(),
		},
		{
			name: "an account dropped by every member is cancelled once",
			in: Input{Limit: 50, Shared: ids(id1, id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1), Managed: ids(id1, id2)},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Managed: ids(id2)},
			}},
			wantCancel: ids(id2),
		},
		{
			name: "no Exclusive member means no winner and no conflict",
			in: Input{Limit: 50, Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Observe, Accounts: ids(id1)},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id2)},
			}},
			wantCancel: ids(),
			wantShare:  ids(id2),
		},
	})
}

func TestComputeExclusive(t *testing.T) {
	runComputeCases(t, []computeCase{
		{
			name: "cancels every share it does not list, unmanaged included",
			in: Input{Limit: 50, Shared: ids(id1, id8, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Exclusive, Accounts: ids(id1, id2), Managed: ids(id1)},
			}},
			wantCancel: ids(id8, id9),
			wantShare:  ids(id2),
			wantWinner: keyA,
		},
		{
			name: "does nothing when the cloud matches the spec",
			in: Input{Limit: 50, Shared: ids(id1), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Exclusive, Accounts: ids(id1), Managed: ids(id1)},
			}},
			wantCancel: ids(),
			wantWinner: keyA,
		},
		{
			name: "an empty list cancels every share",
			in: Input{Limit: 50, Shared: ids(id1, id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Exclusive, Managed: ids(id1)},
			}},
			wantCancel: ids(id1, id2),
			wantWinner: keyA,
		},
		{
			name: "replaces a full share list without overshooting",
			in: Input{Limit: 2, Shared: ids(id8, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Exclusive, Accounts: ids(id1, id2, id3)},
			}},
			wantCancel: ids(id8, id9),
			wantShare:  ids(id1, id2),
			wantOver:   ids(id3),
			wantWinner: keyA,
		},
		{
			name: "of two Exclusive members the younger conflicts and does nothing",
			in: Input{Limit: 50, Shared: ids(id1, id9), Members: []Member{
				{Key: keyB, CreatedAt: at(2), Mode: Exclusive, Accounts: ids(id2, id9)},
				{Key: keyA, CreatedAt: at(1), Mode: Exclusive, Accounts: ids(id1)},
			}},
			wantCancel:    ids(id9),
			wantWinner:    keyA,
			wantConflicts: map[string]string{keyB: keyA},
		},
		{
			name: "of two Exclusive members created together the key decides",
			in: Input{Limit: 50, Members: []Member{
				{Key: keyB, CreatedAt: at(1), Mode: Exclusive, Accounts: ids(id2)},
				{Key: keyA, CreatedAt: at(1), Mode: Exclusive, Accounts: ids(id1)},
			}},
			wantCancel:    ids(),
			wantShare:     ids(id1),
			wantWinner:    keyA,
			wantConflicts: map[string]string{keyB: keyA},
		},
		{
			name: "an older Merge member wins over a younger Exclusive one",
			in: Input{Limit: 50, Shared: ids(id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1)},
				{Key: keyB, CreatedAt: at(1), Mode: Exclusive, Accounts: ids(id2)},
			}},
			wantCancel:    ids(),
			wantShare:     ids(id1),
			wantWinner:    keyA,
			wantConflicts: map[string]string{keyB: keyA},
		},
		{
			name: "an older Exclusive member wins over a younger Merge one",
			in: Input{Limit: 50, Shared: ids(id3, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Exclusive, Accounts: ids(id1)},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id2), Managed: ids(id3)},
			}},
			wantCancel:    ids(id3, id9),
			wantShare:     ids(id1),
			wantWinner:    keyA,
			wantConflicts: map[string]string{keyB: keyA},
		},
		{
			name: "an Exclusive owner puts every other member, Observe included, in conflict",
			in: Input{Limit: 50, Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Exclusive, Accounts: ids(id1)},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id2)},
				{Key: keyC, CreatedAt: at(2), Mode: Observe, Accounts: ids(id3)},
			}},
			wantCancel:    ids(),
			wantShare:     ids(id1),
			wantWinner:    keyA,
			wantConflicts: map[string]string{keyB: keyA, keyC: keyA},
		},
		{
			name: "an older Observe member wins over a younger Exclusive one",
			in: Input{Limit: 50, Shared: ids(id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Observe, Accounts: ids(id1)},
				{Key: keyB, CreatedAt: at(1), Mode: Exclusive, Accounts: ids(id2)},
			}},
			wantCancel:    ids(),
			wantWinner:    keyA,
			wantConflicts: map[string]string{keyB: keyA},
		},
		{
			name: "a conflicted member's listed accounts still protect a Merge cancel",
			in: Input{Limit: 50, Shared: ids(id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Managed: ids(id2)},
				{Key: keyB, CreatedAt: at(1), Mode: Exclusive, Accounts: ids(id2)},
			}},
			wantCancel:    ids(),
			wantWinner:    keyA,
			wantConflicts: map[string]string{keyB: keyA},
		},
		{
			name: "a deleting Exclusive owner hands the image to the next Exclusive member",
			in: Input{Limit: 50, Shared: ids(id1), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Exclusive, Accounts: ids(id1), Managed: ids(id1), Deleting: true},
				{Key: keyB, CreatedAt: at(1), Mode: Exclusive, Accounts: ids(id2)},
			}},
			wantCancel: ids(id1),
			wantShare:  ids(id2),
			wantWinner: keyB,
		},
	})
}

func TestComputeObserve(t *testing.T) {
	runComputeCases(t, []computeCase{
		{
			name: "never cancels or shares",
			in: Input{Limit: 50, Shared: ids(id1, id3, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Observe, Accounts: ids(id1, id2), Managed: ids(id1, id3)},
			}},
			wantCancel: ids(),
		},
		{
			name: "never cancels on deletion, even under Delete",
			in: Input{Limit: 50, Shared: ids(id1, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1), Managed: ids(id1)},
				{Key: keyB, CreatedAt: at(1), Mode: Exclusive, Accounts: ids(id2), Deleting: true, CancelOnDelete: true},
			}},
			wantCancel: ids(),
		},
	})
}

func TestOrdered(t *testing.T) {
	in := []Member{
		{Key: keyC, CreatedAt: at(0)},
		{Key: keyB, CreatedAt: at(1)},
		{Key: keyA, CreatedAt: at(1)},
	}
	got := Ordered(in)
	keys := make([]string, 0, len(got))
	for _, m := range got {
		keys = append(keys, m.Key)
	}
	if want := ids(keyC, keyA, keyB); !slices.Equal(keys, want) {
		t.Errorf("Ordered keys = %v, want %v", keys, want)
	}
	if in[0].Key != keyC || in[1].Key != keyB || in[2].Key != keyA {
		t.Errorf("Ordered reordered its argument: %v", in)
	}
}

func TestComputeDeletion(t *testing.T) {
	runComputeCases(t, []computeCase{
		{
			name: "Merge under Delete cancels only managed accounts nobody else lists",
			in: Input{Limit: 50, Shared: ids(id1, id2, id3, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2, id3, id4),
					Managed: ids(id1, id2, id3), Deleting: true, CancelOnDelete: true},
				{Key: keyB, CreatedAt: at(1), Mode: Merge, Accounts: ids(id2), Managed: ids(id2)},
			}},
			wantCancel: ids(id1, id3),
		},
		{
			name: "Merge under Orphan cancels nothing",
			in: Input{Limit: 50, Shared: ids(id1, id2), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2), Managed: ids(id1, id2),
					Deleting: true},
			}},
			wantCancel: ids(),
		},
		{
			name: "a deleting member shares nothing it still lists",
			in: Input{Limit: 50, Shared: ids(id1), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id2), Managed: ids(id1),
					Deleting: true, CancelOnDelete: true},
			}},
			wantCancel: ids(id1),
		},
		{
			name: "an Exclusive owner under Delete cancels every share nobody else lists",
			in: Input{Limit: 50, Shared: ids(id1, id2, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Exclusive, Accounts: ids(id1, id2), Managed: ids(id1, id2),
					Deleting: true, CancelOnDelete: true},
			}},
			wantCancel: ids(id1, id2, id9),
		},
		{
			name: "an Exclusive owner under Orphan cancels nothing",
			in: Input{Limit: 50, Shared: ids(id1, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Exclusive, Accounts: ids(id1), Managed: ids(id1), Deleting: true},
			}},
			wantCancel: ids(),
		},
		{
			name: "a deleting Exclusive owner hands the image to the next Exclusive member",
			in: Input{Limit: 50, Shared: ids(id1), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Exclusive, Accounts: ids(id1), Managed: ids(id1), Deleting: true},
				{Key: keyB, CreatedAt: at(1), Mode: Exclusive, Accounts: ids(id2)},
			}},
			wantCancel: ids(id1),
			wantShare:  ids(id2),
			wantWinner: keyB,
		},
		{
			name: "a conflicted Exclusive member under Delete leaves the Merge owner's unmanaged shares",
			in: Input{Limit: 50, Shared: ids(id1, id9), Members: []Member{
				{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1), Managed: ids(id1)},
				{Key: keyB, CreatedAt: at(1), Mode: Exclusive, Accounts: ids(id2), Deleting: true, CancelOnDelete: true},
			}},
			wantCancel: ids(),
		},
	})
}
