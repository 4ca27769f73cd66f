package planner

import "slices"

// NextManaged is what each member manages once the plan ran (its new
// status.managedAccountIds), keyed by Member.Key. after is the share list
// once the calls ran, fully or in part; shared are the accounts this run's
// SHAREs added.
//
// A member manages an account when its own SHARE added it, and keeps
// managing it while it is shared and still the member's to cancel. An
// account a member no longer wants (no longer listed, or the member is
// leaving) is handed over to every other live member that lists it and may
// one day act on it (not Observe; a member in Conflict too, which acts once
// the conflict clears), so it is cancelled only when the last of them lets
// go; one that only Observe members list is let go (Observe manages nothing:
// the share stays, as one made from the console); one nobody lists stays
// managed while its cancel is owed. Observe manages
// nothing; a held member keeps what it manages and may inherit, but adds
// nothing of its own; a leaving Orphan member lets go of everything.
func NextManaged(in Input, plan Plan, after, shared []string) map[string][]string {
	isAfter, isShared := toSet(after), toSet(shared)
	next := make(map[string]map[string]bool, len(in.Members))
	for _, m := range in.Members {
		next[m.Key] = map[string]bool{}
	}
	mayAct := func(o Member) bool { return !o.Deleting && o.Mode != Observe }
	heirs := func(self Member, a string) []string {
		var out []string
		for _, o := range in.Members {
			if o.Key != self.Key && mayAct(o) && slices.Contains(o.Accounts, a) {
				out = append(out, o.Key)
			}
		}
		return out
	}
	listedByLive := func(self Member, a string) bool {
		return slices.ContainsFunc(in.Members, func(o Member) bool {
			return o.Key != self.Key && !o.Deleting && slices.Contains(o.Accounts, a)
		})
	}
	for _, m := range in.Members {
		if m.Mode == Observe || m.Deleting && !m.CancelOnDelete {
			continue
		}
		for _, a := range m.Managed {
			switch h := heirs(m, a); {
			case !isAfter[a]:
				// No longer shared: nothing left to manage.
			case m.Hold || !m.Deleting && slices.Contains(m.Accounts, a):
				next[m.Key][a] = true
			case len(h) > 0:
				for _, k := range h {
					next[k][a] = true
				}
			case listedByLive(m, a):
				// Only Observe members still list it.
			default:
				next[m.Key][a] = true // the cancel is still owed
			}
		}
		if m.Deleting || m.Hold || plan.Conflicts[m.Key] != "" {
			continue
		}
		for _, a := range m.Accounts {
			if isShared[a] {
				next[m.Key][a] = true // its own SHARE (recorded as pending first) succeeded
			}
		}
	}
	out := make(map[string][]string, len(next))
	for k, set := range next {
		out[k] = sortedKeys(set)
	}
	return out
}
