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

package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// RunManager starts a controller-runtime manager in this process, for the suites that test the
// reconciler from the inside: setup wires the reconciler (the caller's, since this package must
// not import internal/controller, whose own tests use it). Unset options get what every
// in-process manager here wants: no metrics or probe servers, and Secrets read past the cache,
// as cmd/main.go does. stop ends the manager and returns what it failed with, if anything.
func RunManager(cfg *rest.Config, opts ctrl.Options, setup func(ctrl.Manager) error) (stop func() error,
	err error) {
	if opts.Metrics.BindAddress == "" {
		opts.Metrics = metricsserver.Options{BindAddress: "0"}
	}
	if opts.HealthProbeBindAddress == "" {
		opts.HealthProbeBindAddress = "0"
	}
	if opts.Client.Cache == nil {
		opts.Client.Cache = &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := setup(mgr); err != nil {
		return nil, fmt.Errorf("set up manager: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() error {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("manager: %w", err)
		}
		return nil
	}, nil
}

// ManagerArgs are the flags every harness runs the manager binary with: the emulator at
// endpoint over plain HTTP, no metrics server, the health probes on probe ("0" for none); then
// extra, which win because the flag package keeps the last value.
func ManagerArgs(endpoint, probe string, extra ...string) []string {
	return append([]string{"--cvm-endpoint", endpoint, "--cvm-scheme", "http", "--metrics-bind-address", "0",
		"--health-probe-bind-address", probe}, extra...)
}

// ManagerEnv is this process's environment without TENCENTCLOUD_* credentials, so that a test
// or the demo never reaches past the Secret to a developer's real keys.
func ManagerEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "TENCENTCLOUD_") || strings.HasPrefix(kv, "KUBECONFIG=")
	})
}

// ManagerProcess is how to run the manager binary (cmd/) as its own process, the way it runs
// in a cluster: for the end-to-end and reliability tests, hack/bench and hack/demo.
type ManagerProcess struct {
	// Bin is the binary, as Build writes it.
	Bin string
	// Kubeconfig is the identity it runs as.
	Kubeconfig string
	// Args is its command line; see ManagerArgs.
	Args []string
	// Env is its environment before KUBECONFIG; nil means ManagerEnv().
	Env []string
	// Log receives its stdout and stderr.
	Log *os.File
	// LogPath, when Log is nil, is a file Start creates (truncating) for its stdout and stderr;
	// the child holds the only descriptor of it.
	LogPath string
	// Probe, when an address, is its --health-probe-bind-address: Start waits until /readyz
	// answers there.
	Probe string
}

// Start starts the manager and, when Probe is set, waits until it is ready. On failure the
// process is stopped and the error quotes the end of its log.
func (m ManagerProcess) Start(ctx context.Context) (*Child, error) {
	env := m.Env
	if env == nil {
		env = ManagerEnv()
	}
	log := m.Log
	if log == nil && m.LogPath != "" {
		f, err := os.Create(m.LogPath)
		if err != nil {
			return nil, fmt.Errorf("create the manager log: %w", err)
		}
		defer func() { _ = f.Close() }()
		log = f
	}
	c, err := StartChild(ProcessManager, m.Bin, m.Args, append(slices.Clone(env), "KUBECONFIG="+m.Kubeconfig), log)
	if err != nil || m.Probe == "" || m.Probe == "0" {
		return c, err
	}
	httpc := &http.Client{Timeout: 2 * time.Second}
	err = c.WaitFor(ctx, startTimeout, func() (bool, error) {
		_, code, err := Get(ctx, httpc, "http://"+m.Probe+"/readyz", nil)
		if err != nil {
			return false, nil //nolint:nilerr // not listening yet
		}
		return code == http.StatusOK, nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start the manager: %w", err), c.Stop(stopTimeout))
	}
	return c, nil
}
