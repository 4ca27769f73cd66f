package cloud

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestSendInBatches drives the splitting with a scripted cloud that refuses
// whole calls holding a bad account, naming it or not.
func TestSendInBatches(t *testing.T) {
	accounts := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("1%011d", i+1)
		}
		return out
	}
	cases := []struct {
		name      string
		accounts  []string
		bad       []string // refused, the whole call fails
		named     bool     // the error names the bad account
		other     string   // this account fails with an error perAccount does not take
		maxCalls  int
		wantCalls int
		wantAside int
		wantDone  int
		// wantUnsent: neither done nor set aside when the run ended.
		wantUnsent int
		wantErr    bool
	}{
		{name: "250 accounts take three calls", accounts: accounts(250), wantCalls: 3, wantDone: 250},
		{name: "a named bad account costs one call", accounts: accounts(150), bad: accounts(1), named: true,
			wantCalls: 3, wantAside: 1, wantDone: 149},
		{name: "an unnamed bad account splits only its batch", accounts: accounts(103), bad: accounts(3)[2:],
			wantCalls: 1 + 100 + 1, wantAside: 1, wantDone: 102},
		{name: "the call bound leaves the rest for later", accounts: accounts(5), bad: accounts(5), named: true,
			maxCalls: 3, wantCalls: 3, wantAside: 3, wantUnsent: 2, wantErr: true},
		{name: "another error ends the run with what was done", accounts: accounts(150), other: accounts(150)[120],
			wantCalls: 2, wantDone: 100, wantUnsent: 50, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls [][]string
			send := func(batch []string) error {
				calls = append(calls, slices.Clone(batch))
				if len(batch) > MaxAccountsPerCall {
					t.Fatalf("a call of %d accounts", len(batch))
				}
				if tc.other != "" && slices.Contains(batch, tc.other) {
					return errors.New("connection reset")
				}
				for _, a := range batch {
					if slices.Contains(tc.bad, a) {
						e := &Error{Reason: ReasonAccountNotFound}
						if tc.named {
							e.Account = a
						}
						return e
					}
				}
				return nil
			}
			b, err := SendInBatches(tc.accounts, tc.maxCalls, send, func(err error) bool {
				ce := AsError(err)
				return ce != nil && ce.AccountScoped()
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if b.Calls != tc.wantCalls || len(calls) != tc.wantCalls {
				t.Errorf("%d calls (%d seen), want %d", b.Calls, len(calls), tc.wantCalls)
			}
			if len(b.Aside) != tc.wantAside || len(b.Done) != tc.wantDone || len(b.Unsent) != tc.wantUnsent {
				t.Errorf("aside %d, done %d, unsent %d; want %d, %d, %d", len(b.Aside), len(b.Done), len(b.Unsent),
					tc.wantAside, tc.wantDone, tc.wantUnsent)
			}
			if got := len(b.Done) + len(b.Aside) + len(b.Unsent); got != len(tc.accounts) {
				t.Errorf("done, aside and unsent cover %d accounts, want all %d", got, len(tc.accounts))
			}
			for a := range b.Aside {
				if !slices.Contains(tc.bad, a) || slices.Contains(b.Done, a) {
					t.Errorf("%s set aside but not bad, or also done", a)
				}
			}
		})
	}
}
