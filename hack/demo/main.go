/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command demo is `make demo`: the whole ImageShare system on this machine in one command, with
// no cluster and no Tencent Cloud account. It provides kube-apiserver, etcd and kubectl
// (hack/envtest-assets.sh), builds the manager and the CVM emulator into bin/, starts them with
// the control plane on loopback (internal/testenv, the tests' own harness), applies
// config/samples, waits until every ImageShare and ImageSharePolicy (with the ImageShares the
// policy creates) is Ready or Stalled, prints what the operator did and the emulator's share
// table, and stops everything it started.
//
//	go run ./hack/demo            run, show, stop (make demo)
//	go run ./hack/demo --keep     leave it running (make demo KEEP=1)
//	go run ./hack/demo --stop     stop what --keep left running (make demo-stop)
//	go run ./hack/demo --report F also write what happened as JSON to F (the e2e test reads it)
//
// bin/demo/pids records the demo while it runs and every process it started: etcd,
// kube-apiserver, the emulator and the manager, each the leader of a process group of its own,
// so that neither Ctrl-C nor closing the terminal reaches them. With --keep the demo exits and
// leaves them running; --stop signals each group, waits, and checks that none is left. The file
// is also the lock: a demo does not start while a process it records is alive.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// stopTimeout is how long --stop gives each process after SIGTERM before SIGKILL.
const stopTimeout = 20 * time.Second

// config is the command line, with every path made absolute.
type config struct {
	projectDir, dir, binDir, assets, setupEnvtest, k8sVersion string
	seed, samples, namespace, emulatorListen, report          string
	timeout                                                   time.Duration
	shareLimit                                                int
	apiQPS                                                    float64
	keep, stop                                                bool
}

func main() {
	// The demo's client logs nothing; without a logger controller-runtime prints a stack trace
	// when the client is created more than 30 s after start (a slow first build).
	ctrllog.SetLogger(logr.Discard())
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if cfg.stop {
		err = stopDemo(cfg)
	} else {
		err = runDemo(ctx, cfg)
	}
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&cfg.dir, "dir", "bin/demo", "directory for the kubeconfig, logs and pids")
	fs.StringVar(&cfg.binDir, "bin-dir", "bin", "directory the manager and cvm-emulator binaries are built into")
	fs.StringVar(&cfg.assets, "assets", "", "directory with kube-apiserver, etcd and kubectl "+
		"(default $KUBEBUILDER_ASSETS, else what hack/envtest-assets.sh provides)")
	fs.StringVar(&cfg.setupEnvtest, "setup-envtest", "bin/setup-envtest",
		"setup-envtest binary for hack/envtest-assets.sh")
	fs.StringVar(&cfg.k8sVersion, "k8s-version", "", "Kubernetes version of the control plane (default: from k8s.io/api)")
	fs.StringVar(&cfg.seed, "seed", "config/samples/emulator-seed.yaml", "emulator seed file")
	fs.StringVar(&cfg.samples, "samples", "config/samples", "kustomization applied with kubectl apply -k")
	fs.StringVar(&cfg.namespace, "namespace", "demo", "namespace the samples are applied to")
	fs.StringVar(&cfg.emulatorListen, "emulator-listen", "127.0.0.1:0", "emulator address (port 0 picks a free one)")
	fs.StringVar(&cfg.report, "report", "", "also write what happened as JSON to this file")
	fs.DurationVar(&cfg.timeout, "timeout", 3*time.Minute, "how long to wait for the ImageShares to settle")
	fs.IntVar(&cfg.shareLimit, "share-limit", 50, "the manager's --share-limit")
	fs.Float64Var(&cfg.apiQPS, "api-qps", testenv.DemoAPIQPS, "the manager's --api-qps")
	fs.BoolVar(&cfg.keep, "keep", false, "leave everything running (make demo KEEP=1)")
	fs.BoolVar(&cfg.stop, "stop", false, "stop what --keep left running (make demo-stop)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.keep && cfg.stop {
		return cfg, errors.New("--keep and --stop exclude each other")
	}
	root, err := testenv.ProjectDir()
	if err != nil {
		return cfg, err
	}
	cfg.projectDir = root
	for _, p := range []*string{&cfg.dir, &cfg.binDir, &cfg.setupEnvtest, &cfg.seed, &cfg.samples, &cfg.report} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(root, *p)
		}
	}
	if cfg.assets == "" {
		cfg.assets = os.Getenv(testenv.AssetsEnv)
	}
	if cfg.k8sVersion == "" {
		cfg.k8sVersion = k8sVersion()
	}
	return cfg, nil
}

// k8sVersion derives the control plane version from the k8s.io/api this program is built
// with (v0.37.2 is Kubernetes 1.37.2), as the Makefile's ENVTEST_K8S_VERSION does.
func k8sVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if _, minorPatch, ok := strings.Cut(strings.TrimPrefix(dep.Version, "v"), "."); ok && dep.Path == "k8s.io/api" {
				return "1." + minorPatch
			}
		}
	}
	return ""
}

// say prints one progress line.
func say(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func (c config) rel(path string) string { return testenv.RelPath(c.projectDir, path) }

func (c config) pids() string { return filepath.Join(c.dir, "pids") }

// prepare provides the control plane binaries and builds the manager and the emulator.
func prepare(ctx context.Context, cfg *config) error {
	if cfg.assets != "" {
		say("Using kube-apiserver, etcd and kubectl from %s", cfg.assets)
	} else {
		say("Providing kube-apiserver, etcd and kubectl %s (seconds once cached; the first run without "+
			"internet builds them from the Go module proxy, about 12 minutes)", cfg.k8sVersion)
		dir, err := testenv.ProvideAssets(ctx, cfg.projectDir, cfg.setupEnvtest, cfg.k8sVersion, cfg.binDir, say)
		if err != nil {
			return err
		}
		cfg.assets = dir
		say("Control plane binaries are in %s", dir)
	}
	if err := testenv.CheckAssets(cfg.assets); err != nil {
		return err
	}
	say("Building %s and %s (a minute or two the first time, seconds after)",
		cfg.rel(filepath.Join(cfg.binDir, testenv.ManagerBinary)),
		cfg.rel(filepath.Join(cfg.binDir, testenv.EmulatorBinary)))
	return testenv.Build(ctx, cfg.projectDir, cfg.binDir, say)
}

// claim records this process in bin/demo/pids, or says which demo runs. The file is created
// exclusively, so of two demos starting at once only one gets it; a file whose processes are
// all gone (a demo killed with SIGKILL) is stale and replaced.
func claim(cfg config) (testenv.Process, error) {
	self, err := testenv.Identify("demo", os.Getpid())
	if err != nil {
		return self, err
	}
	for range 2 {
		f, err := os.OpenFile(cfg.pids(), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			_ = f.Close()
			return self, testenv.WriteProcesses(cfg.pids(), []testenv.Process{self})
		}
		if !errors.Is(err, os.ErrExist) {
			return self, fmt.Errorf("create %s: %w", cfg.pids(), err)
		}
		procs, err := testenv.ReadProcesses(cfg.pids())
		if live := testenv.Running(procs); err == nil && len(live) > 0 {
			return self, fmt.Errorf("another demo is running (pid %d; %s); use it with `export KUBECONFIG=%s`, "+
				"or stop it with `make demo-stop` before starting another", live[0].PID, testenv.Describe(live),
				filepath.Join(cfg.dir, "kubeconfig"))
		}
		if err := os.Remove(cfg.pids()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return self, fmt.Errorf("remove stale %s: %w", cfg.pids(), err)
		}
	}
	return self, fmt.Errorf("another demo is starting (it holds %s); try again in a moment", cfg.pids())
}

// runDemo is `make demo`: claim, prepare, start, show, then stop, or with --keep leave it up.
func runDemo(ctx context.Context, cfg config) error {
	start := time.Now()
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", cfg.dir, err)
	}
	self, err := claim(cfg)
	if err != nil {
		return err
	}
	kept := false
	defer func() {
		if !kept {
			_ = os.Remove(cfg.pids())
		}
	}()
	if err := prepare(ctx, &cfg); err != nil {
		return err
	}
	st, err := testenv.StartStack(ctx, testenv.StackOptions{
		ProjectDir: cfg.projectDir, Dir: cfg.dir, BinDir: cfg.binDir, AssetsDir: cfg.assets, Seed: cfg.seed,
		EmulatorListen: cfg.emulatorListen, Progress: say,
		ManagerArgs: []string{"--share-limit", fmt.Sprint(cfg.shareLimit), "--api-qps", fmt.Sprint(cfg.apiQPS)},
	})
	if err != nil {
		return err
	}
	// This process is recorded too while it runs: `make demo-stop` then also ends a demo that has
	// not finished, and a second demo refuses to start.
	if err := testenv.WriteProcesses(cfg.pids(), append([]testenv.Process{self}, st.Processes...)); err != nil {
		return errors.Join(err, st.Stop())
	}
	rep, showErr := showcase(ctx, cfg, st)
	rep.Elapsed = time.Since(start).Round(time.Second).String()
	if cfg.keep {
		kept = true
		err := errors.Join(testenv.WriteProcesses(cfg.pids(), st.Processes), rep.Write(cfg.report))
		printKeep(cfg, st)
		if showErr != nil {
			return fmt.Errorf("%w (the demo is left running for inspection; `make demo-stop` stops it)", showErr)
		}
		return err
	}
	stopping := slices.Clone(st.Processes)
	slices.Reverse(stopping)
	say("Stopping %s", testenv.Describe(stopping))
	stopErr := st.Stop()
	rep.Stopped = len(testenv.Running(st.Processes)) == 0
	if stopErr == nil && rep.Stopped {
		say("Stopped everything the demo started; no process left behind. Logs are in %s/", cfg.rel(cfg.dir))
	}
	if err := rep.Write(cfg.report); err != nil {
		return errors.Join(showErr, stopErr, err)
	}
	if showErr != nil {
		return errors.Join(errors.New("the demo did not finish (see above); everything it started is stopped"),
			stopErr)
	}
	return stopErr
}

// stopDemo is `make demo-stop`: it stops every process bin/demo/pids records, the last started
// first, and checks that none is left.
func stopDemo(cfg config) error {
	procs, err := testenv.ReadProcesses(cfg.pids())
	if err != nil {
		return err
	}
	live := testenv.Running(procs)
	if len(live) > 0 {
		stopping := slices.Clone(live)
		slices.Reverse(stopping)
		say("Stopping the demo: %s", testenv.Describe(stopping))
		if err := testenv.Terminate(live, stopTimeout); err != nil {
			return err
		}
	}
	if err := os.Remove(cfg.pids()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", cfg.pids(), err)
	}
	if len(live) == 0 {
		say("No demo is running")
		return nil
	}
	if err := testenv.CleanDir(cfg.dir); err != nil {
		return err
	}
	say("Stopped; no process left behind")
	return nil
}
