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
// the control plane on loopback (hack/demo/stack), applies config/samples, waits until every
// ImageShare is Ready or Stalled, prints what the operator did and the emulator's share table,
// and stops everything it started.
//
//	go run ./hack/demo            run, show, stop (make demo)
//	go run ./hack/demo --keep     leave it running in the background (make demo KEEP=1)
//	go run ./hack/demo --stop     stop what --keep left running (make demo-stop)
//	go run ./hack/demo --report F also write what happened as JSON to F (the e2e test reads it)
//
// With --keep the stack is run by a background copy of this program (--serve), which holds the
// lock bin/demo/demo.lock for as long as it runs and records itself and every process it
// started in bin/demo/state.json; --stop signals it and checks that all of them are gone.
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

	"github.com/imageshare/imageshare-operator/hack/demo/stack"
)

// config is the command line, with every path made absolute.
type config struct {
	projectDir     string
	dir            string
	binDir         string
	assets         string
	setupEnvtest   string
	k8sVersion     string
	seed           string
	samples        string
	namespace      string
	emulatorListen string
	report         string
	timeout        time.Duration
	shareLimit     int
	apiQPS         float64
	keep           bool
	stop           bool
	serve          bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	switch {
	case cfg.stop:
		err = stopDemo(cfg)
	case cfg.serve:
		err = serve(ctx, cfg)
	default:
		err = runDemo(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		cancel()
		os.Exit(1) //nolint:gocritic // cancel has run
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&cfg.dir, "dir", "bin/demo", "directory for the kubeconfig, logs, lock and state")
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
	fs.Float64Var(&cfg.apiQPS, "api-qps", stack.DemoAPIQPS, "the manager's --api-qps")
	fs.BoolVar(&cfg.keep, "keep", false, "leave everything running in the background (make demo KEEP=1)")
	fs.BoolVar(&cfg.stop, "stop", false, "stop what --keep left running (make demo-stop)")
	fs.BoolVar(&cfg.serve, "serve", false, "run the stack in the background for --keep (internal)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.keep && cfg.stop {
		return cfg, errors.New("--keep and --stop exclude each other")
	}
	root, err := stack.ProjectDir()
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
		cfg.assets = os.Getenv("KUBEBUILDER_ASSETS")
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
			if dep.Path == "k8s.io/api" {
				if _, minorPatch, ok := strings.Cut(strings.TrimPrefix(dep.Version, "v"), "."); ok {
					return "1." + minorPatch
				}
			}
		}
	}
	return ""
}

// say prints one progress line.
func say(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func (c config) rel(path string) string { return stack.RelPath(c.projectDir, path) }

// options are the stack's options for this command line.
func (c config) options() stack.Options {
	return stack.Options{
		ProjectDir: c.projectDir, Dir: c.dir, BinDir: c.binDir, AssetsDir: c.assets, Seed: c.seed,
		EmulatorListen: c.emulatorListen, Progress: say,
		ManagerArgs: []string{"--share-limit", fmt.Sprint(c.shareLimit), "--api-qps", fmt.Sprint(c.apiQPS)},
	}
}

// prepare provides the control plane binaries and builds the manager and the emulator.
func prepare(ctx context.Context, cfg *config) error {
	if cfg.assets != "" {
		say("Using kube-apiserver, etcd and kubectl from %s", cfg.assets)
	} else {
		say("Providing kube-apiserver, etcd and kubectl %s (seconds once cached; the first run without "+
			"internet builds them from the Go module proxy, about 12 minutes)", cfg.k8sVersion)
		dir, err := stack.ProvideAssets(ctx, cfg.projectDir, cfg.setupEnvtest, cfg.k8sVersion, cfg.binDir, say)
		if err != nil {
			return err
		}
		cfg.assets = dir
		say("Control plane binaries are in %s", dir)
	}
	if err := stack.CheckAssets(cfg.assets); err != nil {
		return err
	}
	say("Building %s and %s (a minute or two the first time, seconds after)",
		cfg.rel(filepath.Join(cfg.binDir, stack.ManagerBinary)), cfg.rel(filepath.Join(cfg.binDir, stack.EmulatorBinary)))
	return stack.Build(ctx, cfg.projectDir, cfg.binDir, say)
}

// runDemo is `make demo`: lock, prepare, start, show, stop (or, with --keep, hand the running
// stack to a background process).
func runDemo(ctx context.Context, cfg config) error {
	start := time.Now()
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", cfg.dir, err)
	}
	lock, err := acquireLock(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Close() }()
	if err := cleanLeftovers(cfg); err != nil {
		return err
	}
	// Recorded at once, so that `make demo-stop` finds this process while it is still preparing.
	if err := writeState(cfg, demoState{Keep: cfg.keep}); err != nil {
		return err
	}
	defer removeState(cfg)
	if err := prepare(ctx, &cfg); err != nil {
		return err
	}
	if cfg.keep {
		return runKeep(ctx, cfg, lock, start)
	}

	st, err := stack.Start(ctx, cfg.options())
	if err != nil {
		return err
	}
	if err := writeState(cfg, demoState{Ready: true, Info: st.Info}); err != nil {
		return errors.Join(err, st.Stop())
	}
	rep, showErr := showcase(ctx, cfg, st.Info)
	if showErr != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", showErr)
	}
	say("Stopping %s", stack.Describe(reversed(st.Processes)))
	stopErr := st.Stop()
	left := stack.Running(st.Processes)
	if stopErr == nil && len(left) == 0 {
		say("Stopped everything the demo started; no process left behind. Logs are in %s/", cfg.rel(cfg.dir))
	}
	rep.Stopped = len(left) == 0
	rep.Elapsed = time.Since(start).Round(time.Second).String()
	if err := rep.write(cfg.report); err != nil {
		return errors.Join(showErr, stopErr, err)
	}
	if showErr != nil {
		return errors.Join(errors.New("the demo did not finish (see above); everything it started is stopped"),
			stopErr)
	}
	return stopErr
}

// reversed lists processes in stop order, the last started first.
func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
