package planner

import (
	"slices"
	"testing"
)

func TestProject(t *testing.T) {
	cases := []struct {
		name        string
		member      Member
		sharedAfter []string
		failed      map[string]Reason
		plan        Plan
		want        View
	}{
		{
			name:        "sorts shared, unmanaged and missing accounts",
			member:      Member{Key: keyA, Mode: Merge, Accounts: ids(id5, id1, id2, id3)},
			sharedAfter: ids(id2, id9, id1, id8),
			want:        View{Shared: ids(id1, id2), Unmanaged: ids(id8, id9), Missing: ids(id3, id5)},
		},
		{
			name:        "leaves failed accounts out of missing",
			member:      Member{Key: keyA, Mode: Merge, Accounts: ids(id1, id2, id3, id4)},
			sharedAfter: ids(id1),
			failed:      map[string]Reason{id2: AccountNotFound, id4: ShareLimitExceeded},
			want:        View{Shared: ids(id1), Missing: ids(id3)},
		},
		{
			name:        "a failed account that is shared after all counts as shared",
			member:      Member{Key: keyA, Mode: Merge, Accounts: ids(id1)},
			sharedAfter: ids(id1),
			failed:      map[string]Reason{id1: ShareLimitExceeded},
			want:        View{Shared: ids(id1)},
		},
		{
			name:        "keeps a managed account whose cancel has not happened yet",
			member:      Member{Key: keyA, Mode: Merge, Accounts: ids(id1), Managed: ids(id1, id2)},
			sharedAfter: ids(id1, id2),
			plan:        Plan{Cancel: ids(id2)},
			want:        View{Shared: ids(id1, id2)},
		},
		{
			name:        "drops a managed account once its cancel happened",
			member:      Member{Key: keyA, Mode: Merge, Accounts: ids(id1), Managed: ids(id1, id2)},
			sharedAfter: ids(id1),
			plan:        Plan{Cancel: ids(id2)},
			want:        View{Shared: ids(id1)},
		},
		{
			name:        "reports a dropped managed account the plan keeps as unmanaged",
			member:      Member{Key: keyA, Mode: Merge, Accounts: ids(id1), Managed: ids(id1, id2)},
			sharedAfter: ids(id1, id2),
			want:        View{Shared: ids(id1), Unmanaged: ids(id2)},
		},
		{
			name:        "an unlisted account being cancelled that it never managed is unmanaged",
			member:      Member{Key: keyB, Mode: Merge, Accounts: ids(id1), Managed: ids(id1)},
			sharedAfter: ids(id1, id9),
			plan:        Plan{Cancel: ids(id9)},
			want:        View{Shared: ids(id1), Unmanaged: ids(id9)},
		},
		{
			name:        "Observe never keeps an unlisted account as shared",
			member:      Member{Key: keyA, Mode: Observe, Accounts: ids(id1, id3), Managed: ids(id1, id2)},
			sharedAfter: ids(id1, id2),
			plan:        Plan{Cancel: ids(id2)},
			want:        View{Shared: ids(id1), Unmanaged: ids(id2), Missing: ids(id3)},
		},
		{
			name:        "Exclusive keeps a managed account whose cancel has not happened yet",
			member:      Member{Key: keyA, Mode: Exclusive, Accounts: ids(id1), Managed: ids(id1, id2)},
			sharedAfter: ids(id1, id2, id9),
			plan:        Plan{Cancel: ids(id2, id9)},
			want:        View{Shared: ids(id1, id2), Unmanaged: ids(id9)},
		},
		{
			name:   "nothing listed and nothing shared is an empty view",
			member: Member{Key: keyA, Mode: Merge},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Project(tc.member, tc.sharedAfter, tc.failed, tc.plan)
			if !slices.Equal(got.Shared, tc.want.Shared) {
				t.Errorf("Shared = %v, want %v", got.Shared, tc.want.Shared)
			}
			if !slices.Equal(got.Unmanaged, tc.want.Unmanaged) {
				t.Errorf("Unmanaged = %v, want %v", got.Unmanaged, tc.want.Unmanaged)
			}
			if !slices.Equal(got.Missing, tc.want.Missing) {
				t.Errorf("Missing = %v, want %v", got.Missing, tc.want.Missing)
			}
		})
	}
}

// TestProjectAfterCompute ties the two halves together: a member's view after
// its plan ran in full is what the contract shows in status.
func TestProjectAfterCompute(t *testing.T) {
	in := Input{Limit: 3, Shared: ids(id2, id9), Members: []Member{
		{Key: keyA, CreatedAt: at(0), Mode: Merge, Accounts: ids(id1, id3, id4, id5), Managed: ids(id2),
			KnownBad: map[string]Reason{id5: AccountNotFound}},
	}}
	plan := Compute(in)
	after := apply(in.Shared, plan)
	failed := map[string]Reason{id5: AccountNotFound}
	for a := range plan.OverLimit {
		failed[a] = ShareLimitExceeded
	}
	got := Project(in.Members[0], after, failed, plan)
	// id2 was cancelled (freeing a slot), id9 is someone else's, id1 and id3 fit,
	// id4 is over the limit and id5 does not exist: nothing is left missing.
	want := View{Shared: ids(id1, id3), Unmanaged: ids(id9)}
	if !slices.Equal(got.Shared, want.Shared) || !slices.Equal(got.Unmanaged, want.Unmanaged) ||
		!slices.Equal(got.Missing, want.Missing) {
		t.Errorf("Project = %+v, want %+v (plan %+v)", got, want, plan)
	}
	if !plan.OverLimit[id4] || len(plan.OverLimit) != 1 {
		t.Errorf("OverLimit = %v, want only %s", plan.OverLimit, id4)
	}
}
