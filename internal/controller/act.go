package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
)

// maxCallsPerOp bounds the calls one reconcile may spend splitting a SHARE
// or CANCEL around bad accounts; the rest waits for the next reconcile.
const maxCallsPerOp = 12

// actResult is what executing a plan on one image did.
type actResult struct {
	// after is the share list once the calls ran (fully or in part).
	after []string
	// shared and cancelled are what this reconcile changed.
	shared, cancelled []string
	// failed are accounts the cloud refused, SHARE or CANCEL, with its reason.
	failed map[string]cvmv1alpha1.FailedAccount
	// overQuota are accounts the cloud's own quota refused.
	overQuota map[string]bool
	// deferred are shares left for later because a cancel before them failed
	// and sharing them now could overshoot the limit.
	deferred []string
	// err is the first failure that was not about one account.
	err error
}

func (a *actResult) changed() bool { return len(a.shared) > 0 || len(a.cancelled) > 0 }

// execute runs a plan: cancels first, so a swap at the limit never
// overshoots, then shares in priority order, as far as the limit allows
// after the cancels that really happened. One account the cloud refuses
// (on SHARE or CANCEL) is set aside and the others go on.
func (r *ImageShareReconciler) execute(ctx context.Context, cl cloud.Client, target imageKey, cancel, share,
	shares []string) *actResult {
	res := &actResult{failed: map[string]cvmv1alpha1.FailedAccount{}, overQuota: map[string]bool{}}
	after := toSet(shares)
	done, err := r.modify(ctx, cl, target, opCancel, cancel, res)
	for _, a := range done {
		delete(after, a)
	}
	res.cancelled, res.err = done, err
	room := max(r.ShareLimit-len(after), 0)
	if err != nil && cloud.IsTerminal(err) {
		room = 0 // the keys or the image are the problem: a SHARE would fail the same way
	}
	if len(share) > room {
		share, res.deferred = share[:room], share[room:]
	}
	done, err = r.modify(ctx, cl, target, opShare, share, res)
	for _, a := range done {
		after[a] = true
	}
	res.shared = done
	if res.err == nil {
		res.err = err
	}
	res.after = sortedKeys(after)
	return res
}

type modifyOp string

const (
	opShare  modifyOp = "SHARE"
	opCancel modifyOp = "CANCEL"
)

// modify calls SHARE or CANCEL on accounts (cloud.SendInBatches). Tencent
// fails a whole call for one bad account: that account goes to res.failed
// and the rest is sent again. It returns the accounts done and the first
// error not about one account.
func (r *ImageShareReconciler) modify(ctx context.Context, cl cloud.Client, target imageKey, op modifyOp,
	accounts []string, res *actResult) ([]string, error) {
	call := cl.Share
	if op == opCancel {
		call = cl.Cancel
	}
	send := func(batch []string) error { return call(ctx, target.Region, target.ImageID, batch) }
	b, err := cloud.SendInBatches(accounts, maxCallsPerOp, send, func(err error) bool {
		ce := cloud.AsError(err)
		return ce != nil && ce.AccountScoped()
	})
	for a, aerr := range b.Aside {
		ce := cloud.AsError(aerr)
		res.failed[a] = cvmv1alpha1.FailedAccount{AccountID: a, Reason: string(ce.Reason), Message: accountMessage(ce)}
	}
	if err == nil {
		return b.Done, nil
	}
	pending := b.Unsent
	ce := cloud.AsError(err)
	switch {
	case ce != nil && ce.Code == cloud.CodeTooManySplits:
		return b.Done, err
	case op == opShare && ce != nil && ce.Reason == cloud.ReasonShareLimitExceeded:
		// The cloud's own quota is smaller than --share-limit.
		for _, a := range pending {
			res.overQuota[a] = true
		}
		return b.Done, nil
	case op == opCancel:
		// The cancels still owed stay managed and are listed with the
		// cloud's reason; the shares go on (within the limit).
		code := "network error"
		if ce != nil {
			code = ce.Code
		}
		for _, a := range pending {
			res.failed[a] = cvmv1alpha1.FailedAccount{AccountID: a, Reason: string(cloud.ReasonOf(err)),
				Message: fmt.Sprintf("Cancelling the share failed (%s): retrying", code)}
		}
		return b.Done, fmt.Errorf("cancel shares of image %s: %w", target.ImageID, err)
	default:
		return b.Done, fmt.Errorf("share image %s: %w", target.ImageID, err)
	}
}

func accountMessage(ce *cloud.Error) string {
	switch ce.Reason {
	case cloud.ReasonAccountNotFound:
		return "No Tencent Cloud account has this ID: check the ID"
	case cloud.ReasonAccountIsOwner:
		return "This is the image owner's own account: remove it from spec.accountIds"
	case cloud.ReasonNotRootAccount:
		return "This is a collaborator (sub) account: list its root account instead"
	case cloud.ReasonInvalidAccountID:
		return "The cloud refused this account ID's format: check the ID"
	}
	return ce.Message
}

// toSet makes a set of account IDs.
func toSet(xs []string) map[string]bool {
	s := make(map[string]bool, len(xs))
	for _, x := range xs {
		s[x] = true
	}
	return s
}

// sortedKeys lists a set in order; nil when empty, as a decoded status has it,
// so an unchanged status compares equal and is not patched again.
func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}
