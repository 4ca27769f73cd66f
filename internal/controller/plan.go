package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud"
	"github.com/imageshare/imageshare-operator/internal/planner"
)

// seat is one ImageShare's part in the plan of one image: its own image, or
// its copy in a replica region. Source and copies go through the same plan,
// act and view code.
type seat struct {
	m *member
	// scope is "" for the object's own image, else the replica region (the
	// scope of its write-ahead record and managed list).
	scope string
	// listed are the accounts it wants on this image.
	listed []string
	// managed are the accounts it shared here (status and write-ahead record).
	managed []string
	// leaving: deleting, or its replica region was removed; it wants nothing here.
	leaving bool
	// knownBad are accounts the cloud refused, for the account itself, since
	// the spec last changed: a SHARE of a listed one or a CANCEL of one it
	// no longer wants. Neither is tried again before the next resync.
	knownBad map[string]planner.Reason

	conflict string
	view     accountView
}

func (s *seat) key() string { return s.m.name() }

// newSeat builds a seat from the status the object keeps for that scope.
func newSeat(m *member, scope string, listed []string, managed []string, failed []cvmv1alpha1.FailedAccount,
	leaving bool, retryBad bool) *seat {
	s := &seat{m: m, scope: scope, listed: listed, leaving: leaving, knownBad: map[string]planner.Reason{}}
	if m.observe() {
		managed = nil
	}
	s.managed = slices.Clone(managed)
	for _, a := range pendingShares(m.obj, scope) {
		// Every entry counts, also for an account the spec no longer lists:
		// the spec may have changed while a manager that had just shared it
		// was down, and that share must still be cancelled. (Anyone who may
		// edit the object can write the record; objects of one identity are
		// one tenant, as an Exclusive object of that identity shows.)
		if !slices.Contains(s.managed, a) && !m.observe() {
			s.managed = append(s.managed, a)
		}
	}
	if !retryBad {
		for _, f := range failed {
			// Wanted and already its own: the entry is stale, nothing to skip.
			stale := slices.Contains(listed, f.AccountID) && !leaving && slices.Contains(s.managed, f.AccountID)
			if !retryableReason(f.Reason) && f.Reason != cvmv1alpha1.AccountReasonShareLimitExceeded && !stale {
				s.knownBad[f.AccountID] = planner.Reason(f.Reason)
			}
		}
	}
	return s
}

// planImage plans one image for its seats, records the write-ahead, acts, and
// fills each seat's view. It returns the act result (nil when nothing ran).
func (r *ImageShareReconciler) planImage(ctx context.Context, cl cloud.Client, target imageKey, seats []*seat,
	shares []string) (*actResult, error) {
	members := make([]planner.Member, 0, len(seats))
	for _, s := range seats {
		m := planner.Member{Key: s.key(), CreatedAt: s.m.obj.CreationTimestamp.Time,
			Mode: planner.Mode(s.m.obj.Spec.Mode), Accounts: s.listed, Managed: s.managed, KnownBad: s.knownBad,
			Deleting: s.leaving, CancelOnDelete: !s.m.orphans(), Hold: s.m.frozen != nil}
		if m.Mode == "" {
			m.Mode = planner.Merge
		}
		members = append(members, m)
	}
	in := planner.Input{Shared: shares, Members: members, Limit: r.ShareLimit}
	plan := planner.Compute(in)
	for _, s := range seats {
		s.conflict = plan.Conflicts[s.key()]
	}
	if len(plan.Share) > 0 {
		if err := r.recordPending(ctx, seats, plan.Share); err != nil {
			return nil, err
		}
	}
	res := r.execute(withImageShares(ctx, seatMembers(seats)...), cl, target, plan.Cancel, plan.Share, shares)
	identity := seats[0].m.identity
	if res.changed() {
		r.reads.forgetOthers(identity, target) // a change is seen by every key of the account
	}
	r.reads.planned(identity, target, res.after)
	if res.err != nil && cloud.IsTerminal(res.err) {
		r.reads.forget(identity, target) // the verdict rests on the call: read again next time
	}
	for _, s := range seats {
		if (res.changed() || len(res.failed) > 0) && s.m.frozen == nil {
			r.recordEvents(s, target, res) // a frozen object did nothing: its siblings' changes are not its events
		}
	}
	fillViews(seats, in, plan, res)
	return res, nil
}

// fillViews computes each seat's accounts after the plan ran: what it
// manages now, and its shared, unmanaged, missing and failed accounts.
func fillViews(seats []*seat, in planner.Input, plan planner.Plan, res *actResult) {
	next := nextManaged(seats, in, plan, res)
	after := toSet(res.after)
	for _, s := range seats {
		v := accountView{managed: sortedKeys(next[s])}
		listed := toSet(s.listed)
		for _, a := range res.after {
			switch {
			case listed[a] && !s.leaving:
				v.shared = append(v.shared, a)
			case next[s][a]:
				v.cancelOwed = append(v.cancelOwed, a)
			default:
				v.unmanaged = append(v.unmanaged, a)
			}
		}
		failed := seatFailures(s, res, plan, next[s], in.Limit)
		for _, a := range s.listed {
			if _, f := failed[a]; !after[a] && !f && !s.leaving {
				v.missing = append(v.missing, a)
			}
		}
		v.failed = failedList(failed)
		slices.Sort(v.missing)
		s.view = v
	}
}

// nextManaged is what each seat manages once the plan ran: the planner's
// rule (planner.NextManaged) on the input the plan was made from.
func nextManaged(seats []*seat, in planner.Input, plan planner.Plan, res *actResult) map[*seat]map[string]bool {
	byKey := planner.NextManaged(in, plan, res.after, res.shared)
	next := make(map[*seat]map[string]bool, len(seats))
	for _, s := range seats {
		next[s] = toSet(byKey[s.key()])
	}
	return next
}

// seatFailures are the accounts of a seat the cloud refused (SHARE of a
// listed one, CANCEL of a managed one), refused recently, or that do not fit.
func seatFailures(s *seat, res *actResult, plan planner.Plan, managed map[string]bool,
	limit int) map[string]cvmv1alpha1.FailedAccount {
	after := toSet(res.after)
	listed := toSet(s.listed)
	failed := map[string]cvmv1alpha1.FailedAccount{}
	// An Exclusive owner cancels shares it never made: a refused one is its
	// failure too (retried at each resync, not polled).
	owner := s.m.exclusive() && !s.leaving && s.conflict == ""
	for a, f := range res.failed {
		if (listed[a] && !s.leaving) || managed[a] || owner {
			failed[a] = f
		}
	}
	if s.scope == "" && !s.leaving {
		for _, f := range s.m.badLines {
			failed[f.AccountID] = f
		}
	}
	for a := range s.knownBad {
		if (!listed[a] || s.leaving) && after[a] && (managed[a] || owner) {
			failed[a] = knownBadEntry(s, a) // a refused cancel, not retried before the resync
		}
	}
	if s.leaving || s.m.passive() || s.conflict != "" {
		return failed
	}
	for _, a := range s.listed {
		if _, bad := s.knownBad[a]; bad && !after[a] {
			failed[a] = knownBadEntry(s, a)
		}
		if slices.Contains(res.deferred, a) && !after[a] {
			failed[a] = cvmv1alpha1.FailedAccount{AccountID: a, Reason: cvmv1alpha1.AccountReasonShareLimitExceeded,
				Message: "The image is at its share limit until a cancel the cloud refused goes through: " +
					"retried at each resync"}
		}
		if (plan.OverLimit[a] || res.overQuota[a]) && !after[a] {
			failed[a] = cvmv1alpha1.FailedAccount{AccountID: a, Reason: cvmv1alpha1.AccountReasonShareLimitExceeded,
				Message: fmt.Sprintf("The image is shared with as many accounts as allowed (%d): "+
					"remove accounts or cancel other shares", limit)}
		}
	}
	return failed
}

// knownBadEntry keeps the failedAccounts entry the status already holds.
func knownBadEntry(s *seat, a string) cvmv1alpha1.FailedAccount {
	for _, f := range failedOf(s.m.obj, s.scope) {
		if f.AccountID == a {
			return f
		}
	}
	return cvmv1alpha1.FailedAccount{AccountID: a, Reason: string(s.knownBad[a])}
}

func failedOf(o *cvmv1alpha1.ImageShare, scope string) []cvmv1alpha1.FailedAccount {
	if scope == "" {
		return o.Status.FailedAccounts
	}
	if st := regionStatus(o, scope); st != nil {
		return st.FailedAccounts
	}
	return nil
}

func failedList(m map[string]cvmv1alpha1.FailedAccount) []cvmv1alpha1.FailedAccount {
	out := make([]cvmv1alpha1.FailedAccount, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b cvmv1alpha1.FailedAccount) int { return strings.Compare(a.AccountID, b.AccountID) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// isResync reports whether the member's last cloud read is a resync period
// old: failed accounts and copies are tried again then.
func (r *ImageShareReconciler) isResync(m *member, now time.Time) bool {
	t := m.obj.Status.LastSyncTime
	return t == nil || now.Sub(t.Time) >= r.readMaxAge()
}

// ownSeat is a member's seat on its own image.
func (r *ImageShareReconciler) ownSeat(m *member, now time.Time) *seat {
	return newSeat(m, "", m.accounts, m.obj.Status.ManagedAccountIDs, m.obj.Status.FailedAccounts,
		m.deleting(), m.specChanged() || r.isResync(m, now))
}

// judgeSeat is the verdict of a seat whose plan ran on image id.
func (r *ImageShareReconciler) judgeSeat(s *seat, id string, res *actResult) verdict {
	return r.judge(judgeInput{imageID: id, mode: s.m.obj.Spec.Mode, listed: s.listed, conflict: s.conflict,
		view: s.view, limit: r.ShareLimit, othersHold: len(res.after) - len(s.view.shared)})
}
