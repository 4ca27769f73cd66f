package planner

import (
	"slices"
	"testing"
)

// TestNextManaged checks what "managed" means (contract §2): only what an
// object shared itself, handed over while another object that may act still
// lists it, owed while its cancel has not happened.
func TestNextManaged(t *testing.T) {
	cases := []struct {
		name    string
		members []Member
		after   []string // the share list once the plan ran
		shared  []string // what this run's SHAREs added
		// conflicts as the plan found them (member key → winner key).
		conflicts map[string]string
		want      map[string][]string
	}{
		{
			name:    "an account the console shared before it was listed is not managed",
			members: []Member{{Key: keyA, Mode: Merge, Accounts: ids(id1, id2)}},
			after:   ids(id1, id2), shared: ids(id2),
			want: map[string][]string{keyA: ids(id2)},
		},
		{
			name: "Observe manages nothing and takes nothing over",
			members: []Member{
				{Key: keyA, Mode: Merge, Accounts: ids(id1), Managed: ids(id1)},
				{Key: keyB, Mode: Observe, Accounts: ids(id1), Managed: ids(id1)},
			},
			after: ids(id1),
			want:  map[string][]string{keyA: ids(id1)},
		},
		{
			name: "a deleting object hands a shared account over to every other that lists it",
			members: []Member{
				{Key: keyA, Mode: Merge, Accounts: ids(id1), Managed: ids(id1), Deleting: true, CancelOnDelete: true},
				{Key: keyB, Mode: Merge, Accounts: ids(id1)},
				{Key: keyC, Mode: Exclusive, Accounts: ids(id1)},
			},
			after: ids(id1),
			want:  map[string][]string{keyB: ids(id1), keyC: ids(id1)},
		},
		{
			name: "an account only Observe members list is let go",
			members: []Member{
				{Key: keyA, Mode: Merge, Accounts: ids(id2), Managed: ids(id1)},
				{Key: keyB, Mode: Observe, Accounts: ids(id1)},
			},
			after: ids(id1),
			want:  map[string][]string{},
		},
		{
			name: "a member in Conflict that lists it inherits it, to cancel it once the conflict clears",
			members: []Member{
				{Key: keyA, Mode: Exclusive, Accounts: ids(id2), Managed: ids(id1), Deleting: true,
					CancelOnDelete: true},
				{Key: keyB, Mode: Exclusive, Accounts: ids(id1)},
				{Key: keyC, Mode: Merge, Accounts: ids(id1)},
			},
			conflicts: map[string]string{keyC: keyB},
			after:     ids(id1),
			want:      map[string][]string{keyB: ids(id1), keyC: ids(id1)},
		},
		{
			name: "a held member keeps what it manages and inherits, but claims no share of its own",
			members: []Member{
				{Key: keyA, Mode: Merge, Accounts: ids(id1, id2), Managed: ids(id3), Hold: true},
				{Key: keyB, Mode: Merge, Accounts: ids(id2), Managed: ids(id1), Deleting: true, CancelOnDelete: true},
				{Key: keyC, Mode: Merge, Accounts: ids(id2)},
			},
			after: ids(id1, id2, id3), shared: ids(id2),
			want: map[string][]string{keyA: ids(id1, id3), keyC: ids(id2)},
		},
		{
			name: "a held member that left keeps what it manages; no sibling takes it",
			members: []Member{
				{Key: keyA, Mode: Merge, Accounts: ids(id1), Managed: ids(id1), Hold: true, Deleting: true,
					CancelOnDelete: true},
				{Key: keyB, Mode: Merge, Accounts: ids(id1)},
			},
			after: ids(id1),
			want:  map[string][]string{keyA: ids(id1)},
		},
		{
			name: "a refused cancel stays owed; a done one is forgotten",
			members: []Member{
				{Key: keyA, Mode: Merge, Managed: ids(id1, id2)},
			},
			after: ids(id1),
			want:  map[string][]string{keyA: ids(id1)},
		},
		{
			name: "a deleting Orphan member lets go of everything",
			members: []Member{
				{Key: keyA, Mode: Merge, Accounts: ids(id1), Managed: ids(id1, id2), Deleting: true},
			},
			after: ids(id1, id2),
			want:  map[string][]string{},
		},
		{
			name: "a member in Conflict claims none of the shares made",
			members: []Member{
				{Key: keyA, Mode: Exclusive, Accounts: ids(id1)},
				{Key: keyB, Mode: Merge, Accounts: ids(id1, id2), Managed: ids(id2)},
			},
			conflicts: map[string]string{keyB: keyA},
			after:     ids(id1, id2), shared: ids(id1),
			want: map[string][]string{keyA: ids(id1), keyB: ids(id2)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := Plan{Conflicts: tc.conflicts}
			got := NextManaged(Input{Members: tc.members}, plan, tc.after, tc.shared)
			for _, m := range tc.members {
				if !slices.Equal(got[m.Key], tc.want[m.Key]) && len(got[m.Key])+len(tc.want[m.Key]) > 0 {
					t.Errorf("%s manages %v, want %v", m.Key, got[m.Key], tc.want[m.Key])
				}
			}
		})
	}
}
