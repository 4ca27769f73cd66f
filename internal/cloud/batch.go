package cloud

import (
	"slices"
	"time"
)

// MaxAccountsPerCall is the most accounts one ModifyImageSharePermission takes.
const MaxAccountsPerCall = 100

// CodeTooManySplits is the code of the error SendInBatches returns when its
// call bound left accounts unsent: not a cloud failure, more work for the
// next pass (the accounts set aside so far are known).
const CodeTooManySplits = "ClientError.TooManySplits"

// Batches is what SendInBatches did.
type Batches struct {
	// Done are the accounts a call succeeded for.
	Done []string
	// Aside are the accounts set aside, each with the error that named it.
	Aside map[string]error
	// Unsent are the accounts neither done nor set aside when the run
	// ended on an error (the call bound, or an error perAccount did not take).
	Unsent []string
	// Calls is how many calls were made.
	Calls int
}

// SendInBatches sends accounts MaxAccountsPerCall a call, the one place
// that knows how Tencent answers a SHARE or CANCEL: it fails the whole call
// for one account. When perAccount says an error is of that kind, the
// account is set aside and the rest sent again: the account the error names,
// or, when it names none of the batch, each account of that batch alone
// (then back to full batches). Each extra call settles at least one
// account. After maxCalls calls (0: no bound) the rest is left with an
// error of ReasonThrottled, to be sent another time. The first error
// perAccount does not take ends the run; it is returned with what was done.
func SendInBatches(accounts []string, maxCalls int, send func(batch []string) error,
	perAccount func(error) bool) (Batches, error) {
	b := Batches{Aside: map[string]error{}}
	pending := slices.Clone(accounts)
	alone := 0 // how many of the next pending accounts go one per call
	for len(pending) > 0 {
		if maxCalls > 0 && b.Calls == maxCalls {
			b.Unsent = pending
			return b, &Error{Op: "ModifyImageSharePermission", Code: CodeTooManySplits,
				Reason: ReasonThrottled, Message: "more bad accounts than one pass splits around",
				RetryAfter: time.Second}
		}
		n := min(len(pending), MaxAccountsPerCall)
		if alone > 0 {
			n = 1
		}
		batch := pending[:n]
		err := send(batch)
		b.Calls++
		if err == nil {
			b.Done = append(b.Done, batch...)
			pending, alone = pending[n:], max(alone-n, 0)
			continue
		}
		if !perAccount(err) {
			b.Unsent = pending
			return b, err
		}
		named := ""
		if ce := AsError(err); ce != nil && slices.Contains(batch, ce.Account) {
			named = ce.Account
		}
		switch {
		case named != "":
			i := slices.Index(pending, named)
			pending = slices.Delete(pending, i, i+1)
			if i < alone {
				alone--
			}
			b.Aside[named] = err
		case n > 1:
			alone = n
		default:
			b.Aside[batch[0]] = err
			pending, alone = pending[1:], max(alone-1, 0)
		}
	}
	return b, nil
}
