// Command bench measures how close the operator comes to Tencent's rate limit:
// it starts a local control plane (envtest), the CVM emulator with Tencent's
// documented per-action, per-account limits, and the real manager binary, then
// runs the cold-start, steady-state and change-latency workloads for each size
// and number of tenants, and the hot-image shape, and prints one table (and an
// SVG plot per run with -plots).
//
// `make bench` runs the default sizes, `make test` a tiny one so it keeps working.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// Action names, as the emulator's stats count them.
const (
	actDescribe = "DescribeImages"
	actList     = "DescribeImageSharePermission"
	actModify   = "ModifyImageSharePermission"
)

// perObject is the accounts each ImageShare lists.
const perObject = 5

var regions = []string{"ap-guangzhou", "ap-shanghai"}

type config struct {
	sizes, tenants []int
	hot            bool
	hotObjects     int
	resync         time.Duration
	resyncs        int
	changes        int
	shareQPS       float64
	describeQPS    float64
	apiQPS         float64
	kubeQPS        float64
	kubeBurst      int
	workers        int
	manager        string
	managerLog     string
	plots          string
	timeout        time.Duration
}

func main() {
	var cfg config
	var sizes, teams string
	flag.StringVar(&sizes, "n", "100,500,1000", "Comma-separated numbers of ImageShares (on n/2 images); "+
		"empty for none.")
	flag.StringVar(&teams, "tenants", "1", "Comma-separated numbers of tenants: each N runs once per T, its "+
		"objects split evenly over T namespaces, each with its own cloud account and Secret.")
	flag.BoolVar(&cfg.hot, "hot", false, "Also run the hot-image shape: 100 ImageShares x 5 accounts on one "+
		"image (--share-limit 500), then half of them deleted together.")
	flag.IntVar(&cfg.hotObjects, "hot-objects", 100, "ImageShares on the hot image (5 accounts each).")
	flag.DurationVar(&cfg.resync, "resync-period", 0,
		"The manager's --resync-period for the run; 0 picks 2 x (a tenant's images / share-qps), at least "+
			"10s and N/20 s, so a period's reads fit the budget and its lastSyncTime writes stay near 20/s.")
	flag.IntVar(&cfg.resyncs, "resyncs", 2, "Resync periods the steady-state workload watches.")
	flag.IntVar(&cfg.changes, "changes", 30, "Single-object spec changes for the change-latency workload.")
	flag.Float64Var(&cfg.shareQPS, "share-qps", 10, "Emulator limit per account and action for the share APIs "+
		"(Tencent: 10/s).")
	flag.Float64Var(&cfg.describeQPS, "describe-qps", 40, "Emulator limit per account for DescribeImages "+
		"(Tencent: 40/s).")
	flag.Float64Var(&cfg.apiQPS, "api-qps", 10, "The manager's --api-qps.")
	flag.Float64Var(&cfg.kubeQPS, "kube-api-qps", 0, "The manager's --kube-api-qps (0: its default, no "+
		"client-side limit).")
	flag.IntVar(&cfg.kubeBurst, "kube-api-burst", 0, "The manager's --kube-api-burst (0: its default).")
	flag.IntVar(&cfg.workers, "max-concurrent-reconciles", 0,
		"The manager's --max-concurrent-reconciles (0: its default).")
	flag.StringVar(&cfg.manager, "manager", "bin/manager", "The manager binary (make build).")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "Give up on a workload after this long.")
	flag.StringVar(&cfg.managerLog, "manager-log", "", "Write the manager's log (debug level) to this file.")
	flag.StringVar(&cfg.plots, "plots", "", "Write an SVG per run into this directory (empty: none).")
	flag.Parse()
	// envtest logs through controller-runtime; the bench prints only its table.
	logf.SetLogger(logr.Discard())
	cfg.sizes = ints("n", sizes, 2)
	cfg.tenants = ints("tenants", teams, 1)
	rows := make([]result, 0, len(cfg.sizes)*len(cfg.tenants)+1)
	keep := func(r result, err error) {
		if err != nil {
			fatalf("%s: %v", r.label, err)
		}
		if cfg.plots != "" {
			if err := writePlot(plotFile(cfg.plots, r), r); err != nil {
				fatalf("%s: %v", r.label, err)
			}
		}
		rows = append(rows, r)
	}
	for _, t := range cfg.tenants {
		for _, n := range cfg.sizes {
			if n < 2*t {
				fatalf("-n %d is too small for %d tenants", n, t)
			}
			progress("N=%d T=%d: starting", n, t)
			keep(run(cfg, n, t))
		}
	}
	if cfg.hot {
		if cfg.hotObjects < 2 || cfg.hotObjects > 100 {
			fatalf("-hot-objects %d: want 2 to 100 (the image takes at most 500 shares)", cfg.hotObjects)
		}
		progress("hot image: starting")
		keep(runHot(cfg))
	}
	printTable(os.Stdout, cfg, rows)
}

// ints parses a comma list of integers of at least least; empty is none.
func ints(name, list string, least int) []int {
	var out []int
	for s := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < least {
			fatalf("bad -%s %q", name, s)
		}
		out = append(out, v)
	}
	return out
}

// progress tells on stderr where a long run is; stdout keeps only the table.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %s "+format+"\n", append([]any{time.Now().Format(time.TimeOnly)}, args...)...)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

// change adds (or removes) one account and waits until the object is Ready for
// the new generation and the cloud shows the change.
func change(ctx context.Context, k8s client.Client, key client.ObjectKey, accounts []string,
	add bool, timeout time.Duration) (time.Duration, error) {
	o := &cvmv1alpha1.ImageShare{}
	if err := k8s.Get(ctx, key, o); err != nil {
		return 0, fmt.Errorf("get %s: %w", key, err)
	}
	var target string
	if add {
		for _, a := range accounts {
			if !slices.Contains(o.Spec.AccountIDs, a) {
				target = a
				break
			}
		}
		o.Spec.AccountIDs = append(o.Spec.AccountIDs, target)
	} else {
		target = o.Spec.AccountIDs[len(o.Spec.AccountIDs)-1]
		o.Spec.AccountIDs = o.Spec.AccountIDs[:len(o.Spec.AccountIDs)-1]
	}
	start := time.Now()
	if err := k8s.Update(ctx, o); err != nil {
		return 0, fmt.Errorf("update %s: %w", key, err)
	}
	for time.Since(start) < timeout {
		cur := &cvmv1alpha1.ImageShare{}
		if err := k8s.Get(ctx, key, cur); err != nil {
			return 0, fmt.Errorf("get %s: %w", key, err)
		}
		done := slices.Contains(cur.Status.SharedAccountIDs, target) == add
		if testenv.Ready(cur) && cur.Status.ObservedGeneration == o.Generation && done {
			return time.Since(start), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not Ready after %s", key, timeout)
}

func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(math.Ceil(p*float64(len(s))))-1]
}

// procStats reads the manager's peak RSS (VmHWM) and CPU time from /proc.
func procStats(pid int) (int64, time.Duration) {
	var hwm int64
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				hwm, _ = strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			}
		}
	}
	var cpu time.Duration
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		stt, _ := strconv.ParseInt(fields[12], 10, 64)
		cpu = time.Duration(ut+stt) * time.Second / 100 // USER_HZ
	}
	return hwm, cpu
}
