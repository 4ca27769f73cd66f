package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// result is one run's figures; hot is set for the hot-image shape.
type result struct {
	label                string
	n, tenants, images   int
	totalShares          int
	coldTime             time.Duration
	cloudBound           time.Duration // the slowest tenant's minimum calls at the limits
	kubeBound            time.Duration // the minimum Kubernetes writes at --kube-api-qps
	kubeWrites           int
	coldCalls, coldMin   map[string]int
	budgetLo, budgetHi   float64 // per-tenant budget used: share-list min, busiest action max
	steadyPerImage       float64
	steadyModify         int
	changeP50, changeP99 time.Duration
	peakRSS              int64 // KiB
	cpu                  time.Duration
	apiErrors            map[string]int
	resync               time.Duration
	samples              []sample
	hot                  *hotResult
}

// bound is the larger of the cloud's and Kubernetes' bounds.
func (r result) bound() time.Duration { return max(r.cloudBound, r.kubeBound) }

func (r result) binds() string {
	if r.kubeBound > r.cloudBound {
		return "Kubernetes writes"
	}
	return "cloud"
}

// timeTarget is the time/bound target for r's shape, 0 if none.
func (r result) timeTarget() float64 {
	switch {
	case r.hot != nil:
		return 0
	case r.n >= 10000 || (r.tenants >= 10 && r.n >= 5000):
		return 1.25
	case r.tenants == 1 && r.n == 1000:
		return 1.15
	}
	return 0
}

// callsTarget is the calls/minimum target for r's shape.
func (r result) callsTarget() float64 {
	switch {
	case r.hot != nil:
		return 1.2
	case r.tenants == 1 && r.n == 1000:
		return 1.05
	}
	return 1.1
}

func sum(m map[string]int) int {
	t := 0
	for _, v := range m {
		t += v
	}
	return t
}

func judged(value string, ok bool) string {
	if ok {
		return value + " (met)"
	}
	return value + " (MISSED)"
}

// printTable prints one Markdown table: figures, targets and whether each is met.
func printTable(w io.Writer, cfg config, rows []result) {
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
	kube := "0 (controller-runtime's default: no client-side limit)"
	if cfg.kubeQPS != 0 {
		kube = fmt.Sprintf("%g, burst %d", cfg.kubeQPS, cfg.kubeBurst)
	}
	workers := "its default"
	if cfg.workers > 0 {
		workers = fmt.Sprint(cfg.workers)
	}
	p("Emulator limits per account: share APIs %g/s per action, DescribeImages %g/s; manager --api-qps %g, "+
		"--kube-api-qps %s, --max-concurrent-reconciles %s.\n\n", cfg.shareQPS, cfg.describeQPS, cfg.apiQPS, kube,
		workers)
	p("| figure | target |")
	for _, r := range rows {
		p(" %s |", r.label)
	}
	p("\n|---|---|")
	for range rows {
		p("---|")
	}
	p("\n")
	line := func(name, target string, cell func(r result) string) {
		p("| %s | %s |", name, target)
		for _, r := range rows {
			p(" %s |", cell(r))
		}
		p("\n")
	}
	round := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	notHot := func(f func(r result) string) func(r result) string {
		return func(r result) string {
			if r.hot != nil {
				return "—"
			}
			return f(r)
		}
	}
	line("tenants × images", "", func(r result) string { return fmt.Sprintf("%d × %d", r.tenants, r.images/r.tenants) })
	line("--resync-period", "", notHot(func(r result) string { return r.resync.String() }))
	line("cold start: time to all Ready", "", func(r result) string { return round(r.coldTime) })
	line("cold start: cloud bound (slowest tenant)", "", func(r result) string { return round(r.cloudBound) })
	line("cold start: Kubernetes writes (minimum) and bound", "", func(r result) string {
		if r.kubeBound == 0 {
			return fmt.Sprintf("%d, no limit", r.kubeWrites)
		}
		return fmt.Sprintf("%d, %s", r.kubeWrites, round(r.kubeBound))
	})
	line("cold start: bound (which binds)", "", func(r result) string {
		return fmt.Sprintf("%s (%s)", round(r.bound()), r.binds())
	})
	line("cold start: time / bound", "≤ 1.15 N=1000; ≤ 1.25 T=10 N=5000, N=10000; hot ≤ bound + 2 s",
		func(r result) string {
			ratio := r.coldTime.Seconds() / r.bound().Seconds()
			v := fmt.Sprintf("%.2f", ratio)
			if r.hot != nil {
				return judged(v, r.coldTime <= r.bound()+2*time.Second)
			}
			if t := r.timeTarget(); t > 0 {
				return judged(v, ratio <= t)
			}
			return v
		})
	for _, action := range []string{actDescribe, actList, actModify} {
		line("cold start: "+action+" calls (minimum)", "", func(r result) string {
			return fmt.Sprintf("%d (%d)", r.coldCalls[action], r.coldMin[action])
		})
	}
	line("cold start: calls / minimum", "≤ 1.05 N=1000; ≤ 1.1 others; hot (with deletion) ≤ 1.2",
		func(r result) string {
			calls, minimum := sum(r.coldCalls), sum(r.coldMin)
			if r.hot != nil {
				calls, minimum = calls+sum(r.hot.delCalls), minimum+sum(r.hot.delMin)
			}
			ratio := float64(calls) / float64(minimum)
			return judged(fmt.Sprintf("%.3f", ratio), ratio <= r.callsTarget())
		})
	line("cold start: cloud errors", "", func(r result) string { return errorList(r.apiErrors) })
	line("per-tenant budget used: share-list reads (lowest tenant) – busiest action", "",
		notHot(func(r result) string { return fmt.Sprintf("%.0f%% – %.0f%%", 100*r.budgetLo, 100*r.budgetHi) }))
	line("hot image: deletion of half, time (bound)", "≤ bound + 2 s", func(r result) string {
		if r.hot == nil {
			return "—"
		}
		return judged(fmt.Sprintf("%s (%s)", round(r.hot.delTime), round(r.hot.delBound)),
			r.hot.delTime <= r.hot.delBound+2*time.Second)
	})
	line("hot image: deletion calls by action (minimum CANCELs)", "", func(r result) string {
		if r.hot == nil {
			return "—"
		}
		return fmt.Sprintf("%s (%d); errors %d", errorList(r.hot.delCalls), r.hot.delMin[actModify], r.hot.delErrors)
	})
	line("hot image: planner.Compute per reconcile (bench process)", "", func(r result) string {
		if r.hot == nil {
			return "—"
		}
		return r.hot.planPerCall.Round(time.Microsecond).String()
	})
	line("steady state: calls per image per resync", "≤ 1.05", notHot(func(r result) string {
		return judged(fmt.Sprintf("%.3f", r.steadyPerImage), r.steadyPerImage <= 1.05)
	}))
	line("steady state: ModifyImageSharePermission calls", "0", notHot(func(r result) string {
		return judged(fmt.Sprint(r.steadyModify), r.steadyModify == 0)
	}))
	line("change latency p50", "", notHot(func(r result) string { return r.changeP50.Round(time.Millisecond).String() }))
	line("change latency p99", "≤ 1 s idle", notHot(func(r result) string {
		return judged(r.changeP99.Round(time.Millisecond).String(), r.changeP99 <= time.Second)
	}))
	line("manager peak RSS", "≤ 64 MiB N=1000; ≤ 160 MiB N=10000", func(r result) string {
		mib := float64(r.peakRSS) / 1024
		v := fmt.Sprintf("%.1f MiB", mib)
		switch {
		case r.hot == nil && r.tenants == 1 && r.n == 1000:
			return judged(v, mib <= 64)
		case r.n >= 10000:
			return judged(v, mib <= 160)
		}
		return v
	})
	line("manager CPU time", "", func(r result) string { return round(r.cpu) })
}

// errorList prints counts by key in a stable order.
func errorList(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	s := ""
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, m[k])
	}
	return s
}
