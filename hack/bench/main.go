// Command bench measures how close the operator comes to Tencent's rate limit:
// it starts a local control plane (envtest), the CVM emulator with Tencent's
// documented per-action limits, and the real manager binary, then runs the
// cold-start, steady-state and change-latency workloads and prints one table.
//
// It reports; it does not judge. `make bench` runs the full sizes, `make test`
// a tiny one so it keeps working.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// Action names, as the emulator's stats count them.
const (
	actDescribe = "DescribeImages"
	actList     = "DescribeImageSharePermission"
	actModify   = "ModifyImageSharePermission"
)

const (
	ownerID   = "100000000001"
	secretID  = "AKIDbench0001"
	secretKey = "bench-secret-key"
	namespace = "bench"
	perObject = 5
)

var regions = []string{"ap-guangzhou", "ap-shanghai"}

type config struct {
	sizes       []int
	resync      time.Duration
	resyncs     int
	changes     int
	shareQPS    float64
	describeQPS float64
	apiQPS      float64
	manager     string
	managerLog  string
	timeout     time.Duration
}

func main() {
	var cfg config
	var sizes string
	flag.StringVar(&sizes, "n", "100,500,1000", "Comma-separated numbers of ImageShares (on n/2 images).")
	flag.DurationVar(&cfg.resync, "resync-period", 0,
		"The manager's --resync-period for the run; 0 picks 2 x (images / share-qps), at least 10s, so a "+
			"period's reads fit the budget.")
	flag.IntVar(&cfg.resyncs, "resyncs", 5, "Resync periods the steady-state workload watches.")
	flag.IntVar(&cfg.changes, "changes", 50, "Single-object spec changes for the change-latency workload.")
	flag.Float64Var(&cfg.shareQPS, "share-qps", 10, "Emulator limit per action for the share APIs (Tencent: 10/s).")
	flag.Float64Var(&cfg.describeQPS, "describe-qps", 40, "Emulator limit for DescribeImages (Tencent: 40/s).")
	flag.Float64Var(&cfg.apiQPS, "api-qps", 10, "The manager's --api-qps.")
	flag.StringVar(&cfg.manager, "manager", "bin/manager", "The manager binary (make build).")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "Give up on a workload after this long.")
	flag.StringVar(&cfg.managerLog, "manager-log", "", "Write the manager's log (info level) to this file.")
	flag.Parse()
	// envtest logs through controller-runtime; the bench prints only its table.
	logf.SetLogger(logr.Discard())
	for s := range strings.SplitSeq(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 {
			fatalf("bad -n %q", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	rows := make([]result, 0, len(cfg.sizes))
	for _, n := range cfg.sizes {
		fmt.Fprintf(os.Stderr, "bench: N=%d: starting\n", n)
		r, err := run(cfg, n)
		if err != nil {
			fatalf("N=%d: %v", n, err)
		}
		rows = append(rows, r)
	}
	printTable(os.Stdout, cfg, rows)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

type result struct {
	n, images            int
	coldTime, coldBound  time.Duration
	coldCalls, coldMin   map[string]int
	steadyPerImage       float64
	steadyModify         int
	changeP50, changeP99 time.Duration
	peakRSS              int64 // KiB
	cpu                  time.Duration
	apiErrors            map[string]int
	resync               time.Duration
}

func run(cfg config, n int) (result, error) {
	res := result{n: n, images: (n + 1) / 2}
	if cfg.resync == 0 {
		cfg.resync = max(10*time.Second, time.Duration(2*float64(res.images)/cfg.shareQPS*float64(time.Second)))
	}
	res.resync = cfg.resync
	ctx := context.Background()

	cp, err := testenv.StartControlPlane(testenv.ControlPlaneOptions{})
	if err != nil {
		return res, err
	}
	defer func() { _ = cp.Stop() }()
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = cvmv1alpha1.AddToScheme(scheme)
	k8s, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		return res, err
	}

	// The cloud: N/2 images over two regions, 2 ImageShares each, 5 accounts each.
	accounts := make([]string, 10)
	seed := &emulator.Seed{ShareLimit: 50, Faults: emulator.Faults{QPSByAction: map[string]float64{
		actDescribe: cfg.describeQPS, actList: cfg.shareQPS, actModify: cfg.shareQPS}}}
	seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: ownerID, SecretID: secretID, SecretKey: secretKey})
	for i := range accounts {
		accounts[i] = fmt.Sprintf("2000000000%02d", i)
		seed.Accounts = append(seed.Accounts, emulator.SeedAccount{ID: accounts[i]})
	}
	for i := range res.images {
		seed.Images = append(seed.Images, emulator.SeedImage{ID: imageID(i), Region: regions[i%2], Owner: ownerID})
	}
	emu, err := emulator.New(seed)
	if err != nil {
		return res, err
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()

	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return res, err
	}
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: namespace},
		StringData: map[string]string{"secretId": secretID, "secretKey": secretKey}}); err != nil {
		return res, err
	}
	for i := range n {
		// The two objects of an image list the two halves of the account pool.
		half := accounts[(i%2)*perObject : (i%2+1)*perObject]
		o := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ims-%04d", i),
			Namespace: namespace}, Spec: cvmv1alpha1.ImageShareSpec{ImageID: imageID(i / 2),
			Region: regions[(i/2)%2], AccountIDs: slices.Clone(half),
			CredentialsRef: &cvmv1alpha1.SecretReference{Name: "creds"}}}
		if err := k8s.Create(ctx, o); err != nil {
			return res, err
		}
	}

	// Cold start: the objects exist before the manager starts.
	emu.ResetStats()
	mgr := testenv.ManagerProcess{Bin: cfg.manager, Kubeconfig: cp.Kubeconfig,
		Args: testenv.ManagerArgs(strings.TrimPrefix(srv.URL, "http://"), "0", "--api-qps", fmt.Sprint(cfg.apiQPS),
			"--resync-period", cfg.resync.String())}
	if cfg.managerLog != "" {
		mgr.Args = append(mgr.Args, "--zap-log-level", "debug")
		if mgr.Log, err = os.Create(cfg.managerLog); err != nil {
			return res, err
		}
		defer func() { _ = mgr.Log.Close() }()
	}
	start := time.Now()
	proc, err := mgr.Start(ctx)
	if err != nil {
		return res, fmt.Errorf("start manager %s (run make build): %w", cfg.manager, err)
	}
	defer proc.Kill()
	if err := waitAllReady(ctx, k8s, n, cfg.timeout); err != nil {
		return res, fmt.Errorf("cold start: %w", err)
	}
	res.coldTime = time.Since(start)
	st := emu.Stats()
	res.coldCalls = st.Calls
	res.apiErrors = st.Errors
	res.coldMin = map[string]int{actList: res.images, actModify: res.images, actDescribe: 0}
	for r := range regions {
		inRegion := (res.images + len(regions) - 1 - r) / len(regions)
		res.coldMin[actDescribe] += (inRegion + 99) / 100
	}
	res.coldBound = boundTime(res.coldMin, cfg)
	if err := checkShares(emu, accounts); err != nil {
		return res, fmt.Errorf("cold start left the cloud wrong: %w", err)
	}

	// Steady state: the converged objects over several resync periods.
	emu.ResetStats()
	time.Sleep(time.Duration(cfg.resyncs) * cfg.resync)
	st = emu.Stats()
	total := 0
	for _, c := range st.Calls {
		total += c
	}
	res.steadyPerImage = float64(total) / float64(res.images) / float64(cfg.resyncs)
	res.steadyModify = st.Calls[actModify]

	// Change latency: one object at a time, add or remove one account.
	var lat []time.Duration
	for i := range cfg.changes {
		name := fmt.Sprintf("ims-%04d", (i*7)%n)
		d, err := change(ctx, k8s, name, accounts, i%2 == 0, cfg.timeout)
		if err != nil {
			return res, fmt.Errorf("change %d: %w", i, err)
		}
		lat = append(lat, d)
	}
	res.changeP50, res.changeP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	res.peakRSS, res.cpu = procStats(proc.PID)
	return res, nil
}

func imageID(i int) string { return fmt.Sprintf("img-%08d", i) }

// boundTime is how long the minimum calls take at the emulator's limits; the
// actions have separate budgets, so they run side by side.
func boundTime(minCalls map[string]int, cfg config) time.Duration {
	var worst float64
	for action, n := range minCalls {
		qps := cfg.shareQPS
		if action == actDescribe {
			qps = cfg.describeQPS
		}
		worst = math.Max(worst, float64(n)/qps)
	}
	return time.Duration(worst * float64(time.Second))
}

// waitAllReady waits until the n ImageShares are settled, and fails unless every one is Ready:
// the bench's workloads leave nothing for the controller to refuse.
func waitAllReady(ctx context.Context, k8s client.Client, n int, timeout time.Duration) error {
	objs, err := testenv.WaitSettled(ctx, k8s, testenv.WaitOptions{Namespace: namespace, Count: n, Timeout: timeout,
		Interval: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	for i := range objs {
		if !testenv.Ready(&objs[i]) {
			return fmt.Errorf("%s settled without being Ready", testenv.Summary(&objs[i]))
		}
	}
	return nil
}

func checkShares(emu *emulator.Emulator, accounts []string) error {
	want := slices.Clone(accounts)
	slices.Sort(want)
	for _, img := range emu.State().Images {
		if !slices.Equal(img.SharedWith, want) {
			return fmt.Errorf("image %s shared with %v, want %v", img.ID, img.SharedWith, want)
		}
	}
	return nil
}

// change adds (or removes) one account and waits until the object is Ready for
// the new generation and the cloud shows the change.
func change(ctx context.Context, k8s client.Client, name string, accounts []string,
	add bool, timeout time.Duration) (time.Duration, error) {
	o := &cvmv1alpha1.ImageShare{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, o); err != nil {
		return 0, err
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
		return 0, err
	}
	for time.Since(start) < timeout {
		cur := &cvmv1alpha1.ImageShare{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
			return 0, err
		}
		done := slices.Contains(cur.Status.SharedAccountIDs, target) == add
		if testenv.Ready(cur) && cur.Status.ObservedGeneration == o.Generation && done {
			return time.Since(start), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not Ready after %s", name, timeout)
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

func sum(m map[string]int) int {
	t := 0
	for _, v := range m {
		t += v
	}
	return t
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// printTable prints one Markdown table: figures, targets and whether each is met.
func printTable(w io.Writer, cfg config, rows []result) {
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
	p("Emulator limits: share APIs %g/s per action, DescribeImages %g/s; manager --api-qps %g.\n\n",
		cfg.shareQPS, cfg.describeQPS, cfg.apiQPS)
	p("| figure | target |")
	for _, r := range rows {
		p(" N=%d |", r.n)
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
	line("images", "", func(r result) string { return fmt.Sprint(r.images) })
	line("--resync-period", "", func(r result) string { return r.resync.String() })
	round := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	line("cold start: time to all Ready", "", func(r result) string { return round(r.coldTime) })
	line("cold start: bound at the limits", "", func(r result) string { return round(r.coldBound) })
	line("cold start: time / bound", "≤ 1.25 at N=1000", func(r result) string {
		ratio := r.coldTime.Seconds() / r.coldBound.Seconds()
		return fmt.Sprintf("%.2f (%s)", ratio, mark(ratio <= 1.25 || r.n < 1000))
	})
	for _, action := range []string{actDescribe, actList, actModify} {
		line("cold start: "+action+" calls (minimum)", "", func(r result) string {
			return fmt.Sprintf("%d (%d)", r.coldCalls[action], r.coldMin[action])
		})
	}
	line("cold start: calls / minimum", "≤ 1.1", func(r result) string {
		ratio := float64(sum(r.coldCalls)) / float64(sum(r.coldMin))
		return fmt.Sprintf("%.3f (%s)", ratio, mark(ratio <= 1.1))
	})
	line("cold start: cloud errors", "", func(r result) string { return fmt.Sprint(r.apiErrors) })
	line("one resource per account (Crossplane/Terraform model): calls", "", func(r result) string {
		// Each of the 5N account resources reads the share list and shares once.
		return fmt.Sprint(2 * perObject * r.n)
	})
	line("steady state: calls per image per resync", "≤ 1.05", func(r result) string {
		return fmt.Sprintf("%.3f (%s)", r.steadyPerImage, mark(r.steadyPerImage <= 1.05))
	})
	line("steady state: ModifyImageSharePermission calls", "0", func(r result) string {
		return fmt.Sprintf("%d (%s)", r.steadyModify, mark(r.steadyModify == 0))
	})
	line("one resource per account: reads per image per resync", "", func(r result) string {
		return fmt.Sprint(2 * perObject)
	})
	line("change latency p50", "", func(r result) string { return r.changeP50.Round(time.Millisecond).String() })
	line("change latency p99", "≤ 1s idle", func(r result) string {
		return fmt.Sprintf("%s (%s)", r.changeP99.Round(time.Millisecond), mark(r.changeP99 <= time.Second))
	})
	line("manager peak RSS", "≤ 64 MiB at N=1000", func(r result) string {
		mib := float64(r.peakRSS) / 1024
		return fmt.Sprintf("%.1f MiB (%s)", mib, mark(mib <= 64 || r.n < 1000))
	})
	line("manager CPU time", "", func(r result) string { return r.cpu.Round(10 * time.Millisecond).String() })
}
