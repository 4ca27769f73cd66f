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

// Package stack runs the whole ImageShare system on one machine, each part a process of its own
// on loopback: etcd and kube-apiserver (started through envtest), the CVM emulator
// (cmd/cvm-emulator) with a seed, and the manager (cmd/main.go) pointed at the emulator. `make demo`
// (hack/demo) and the end-to-end tests in test/e2e start the system through this one code path, so
// what the tests prove is what the demo shows.
package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Names of the processes a stack runs, as Info.Processes reports them.
const (
	ProcessEtcd      = "etcd"
	ProcessAPIServer = "kube-apiserver"
	ProcessEmulator  = "cvm-emulator"
	ProcessManager   = "manager"
)

// Binary names in Options.BinDir, as Build writes them.
const (
	ManagerBinary  = "manager"
	EmulatorBinary = "cvm-emulator"
)

const (
	// startTimeout bounds each part's start; far above what a loaded 2-core machine needs, it
	// only turns a hang into a message.
	startTimeout = 2 * time.Minute
	// stopTimeout is how long a part gets to stop after SIGTERM before SIGKILL.
	stopTimeout = 20 * time.Second
	// runDir holds what lives exactly as long as the stack (etcd data, API server certificates).
	runDir = "run"
)

// DemoAPIQPS is the manager's --api-qps in the demo and the e2e tests: the manager's own default,
// so the demo shows the operator as it runs anywhere. The wrong-region sample makes the manager
// search the other regions for its image, one DescribeImages call each; at 8 calls/s that search
// finishes within a couple of seconds.
const DemoAPIQPS = 8

// Options say where a stack finds its parts and puts its files.
type Options struct {
	// ProjectDir is the repository root: config/crd/bases is installed from it.
	ProjectDir string
	// Dir receives the kubeconfig, the logs and the run data (bin/demo for the demo).
	Dir string
	// BinDir holds the manager and cvm-emulator binaries (see Build).
	BinDir string
	// AssetsDir holds kube-apiserver, etcd and kubectl (hack/envtest-assets.sh prints it).
	AssetsDir string
	// Seed is the emulator's seed file.
	Seed string
	// EmulatorListen is the emulator's --listen address; empty means 127.0.0.1:0 (a free port).
	EmulatorListen string
	// ManagerArgs are extra manager flags, e.g. --share-limit 500.
	ManagerArgs []string
	// Progress receives one line per step; nil is silent.
	Progress func(format string, args ...any)
}

// Info is what a running stack is to its users: where to reach it, its files and its processes.
// It is plain data, so that a stack kept running in the background can hand it over as JSON.
type Info struct {
	// Dir is Options.Dir.
	Dir string `json:"dir"`
	// Kubeconfig is a cluster-admin kubeconfig for the API server.
	Kubeconfig string `json:"kubeconfig"`
	// KubectlPath is the kubectl binary that matches the API server.
	KubectlPath string `json:"kubectl"`
	// APIServer is the API server's URL.
	APIServer string `json:"apiServer"`
	// Emulator is the emulator's host:port (the manager's --cvm-endpoint).
	Emulator string `json:"emulator"`
	// ManagerArgs are the flags the manager runs with.
	ManagerArgs []string `json:"managerArgs"`
	// Processes are every process the stack started, in start order.
	Processes []Process `json:"processes"`
}

// Stack is a running system. Stop it when done, also when a later step fails.
type Stack struct {
	Info
	opts     Options
	env      *envtest.Environment
	children []*child
	logs     []*os.File
}

// Start starts etcd and kube-apiserver, writes the kubeconfig, starts the emulator with the seed,
// installs the CRDs with kubectl, starts the manager and waits until it is ready. On failure it
// stops whatever it started and says which part failed, with the end of its log.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.Progress == nil {
		opts.Progress = func(string, ...any) {}
	}
	if opts.EmulatorListen == "" {
		opts.EmulatorListen = "127.0.0.1:0"
	}
	if err := checkInputs(opts); err != nil {
		return nil, err
	}
	s := &Stack{opts: opts, Info: Info{Dir: opts.Dir, KubectlPath: filepath.Join(opts.AssetsDir, "kubectl")}}
	if err := s.start(ctx); err != nil {
		if stopErr := s.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return s, nil
}

// CheckAssets fails, and says what to do, when dir lacks kube-apiserver, etcd or kubectl.
func CheckAssets(dir string) error {
	if missing := missingExecutables(filepath.Join(dir, "etcd"), filepath.Join(dir, "kube-apiserver"),
		filepath.Join(dir, "kubectl")); len(missing) > 0 {
		return fmt.Errorf("missing %s: run `make envtest-assets` (make demo and make test do) or point "+
			"--assets / KUBEBUILDER_ASSETS at the directory hack/envtest-assets.sh prints",
			strings.Join(missing, ", "))
	}
	return nil
}

func missingExecutables(paths ...string) []string {
	var missing []string
	for _, p := range paths {
		if info, err := os.Stat(p); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	return missing
}

// checkInputs fails early, and says what to do, when a binary or file is missing.
func checkInputs(opts Options) error {
	if err := CheckAssets(opts.AssetsDir); err != nil {
		return err
	}
	if missing := missingExecutables(filepath.Join(opts.BinDir, ManagerBinary),
		filepath.Join(opts.BinDir, EmulatorBinary)); len(missing) > 0 {
		return fmt.Errorf("missing %s: build them with stack.Build (make demo does)", strings.Join(missing, ", "))
	}
	if _, err := os.Stat(opts.Seed); err != nil {
		return fmt.Errorf("emulator seed: %w", err)
	}
	crds := filepath.Join(opts.ProjectDir, "config", "crd", "bases")
	if _, err := os.Stat(crds); err != nil {
		return fmt.Errorf("CRDs: %w", err)
	}
	return nil
}

func (s *Stack) start(ctx context.Context) error {
	run := filepath.Join(s.opts.Dir, runDir)
	// A run killed before it could clean up leaves its etcd data behind; never start from it.
	if err := os.RemoveAll(run); err != nil {
		return fmt.Errorf("clean %s: %w", run, err)
	}
	for _, d := range []string{filepath.Join(run, "etcd"), filepath.Join(run, "apiserver")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := s.startControlPlane(ctx); err != nil {
		return err
	}
	if err := s.startEmulator(ctx); err != nil {
		return err
	}
	if err := s.installCRDs(ctx); err != nil {
		return err
	}
	return s.startManager(ctx)
}

// logFile creates (truncating) a log in Dir that lives until Stop.
func (s *Stack) logFile(name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(s.opts.Dir, name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	s.logs = append(s.logs, f)
	return f, nil
}

func (s *Stack) startControlPlane(ctx context.Context) error {
	s.opts.Progress("Starting etcd and kube-apiserver on loopback (logs: %s, %s)",
		s.rel(filepath.Join(s.opts.Dir, "etcd.log")), s.rel(filepath.Join(s.opts.Dir, "kube-apiserver.log")))
	etcdLog, err := s.logFile("etcd.log")
	if err != nil {
		return err
	}
	apiLog, err := s.logFile("kube-apiserver.log")
	if err != nil {
		return err
	}
	run := filepath.Join(s.opts.Dir, runDir)
	// Explicit paths, so that a KUBEBUILDER_ASSETS or TEST_ASSET_* in the environment cannot
	// swap in other binaries than the ones checked above.
	s.env = &envtest.Environment{
		UseExistingCluster:       new(false),
		BinaryAssetsDirectory:    s.opts.AssetsDir,
		ControlPlaneStartTimeout: startTimeout,
		ControlPlaneStopTimeout:  stopTimeout,
		ControlPlane: envtest.ControlPlane{
			Etcd: &envtest.Etcd{Path: filepath.Join(s.opts.AssetsDir, "etcd"),
				DataDir: filepath.Join(run, "etcd"), Out: etcdLog, Err: etcdLog},
			APIServer: &envtest.APIServer{Path: filepath.Join(s.opts.AssetsDir, "kube-apiserver"),
				CertDir: filepath.Join(run, "apiserver"), Out: apiLog, Err: apiLog},
			KubectlPath: s.KubectlPath,
		},
	}
	started := make(chan error, 1)
	go func() {
		cfg, err := s.env.Start()
		if err == nil {
			s.APIServer = strings.TrimSuffix(cfg.Host, "/")
		}
		started <- err
	}()
	select {
	case err = <-started:
	case <-ctx.Done():
		// envtest cannot be interrupted; let it finish so that Stop finds what it started.
		err = errors.Join(ctx.Err(), <-started)
	}
	// envtest does not say which processes it started: they are this process's children.
	etcdFlag, certFlag := "--data-dir="+s.env.ControlPlane.Etcd.DataDir, "--cert-dir="+s.env.ControlPlane.APIServer.CertDir
	procs, perr := childProcesses(os.Getpid(), func(name string, args []string) bool {
		return name == ProcessEtcd && slices.Contains(args, etcdFlag) ||
			name == ProcessAPIServer && slices.Contains(args, certFlag)
	})
	s.Processes = append(s.Processes, procs...)
	if err != nil {
		return fmt.Errorf("start etcd and kube-apiserver (see %s and %s): %w", s.rel(etcdLog.Name()),
			s.rel(apiLog.Name()), err)
	}
	if perr != nil {
		return perr
	}
	if len(procs) != 2 {
		return fmt.Errorf("find the etcd and kube-apiserver processes envtest started: found %s", Describe(procs))
	}
	user, err := s.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add kubeconfig user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("render kubeconfig: %w", err)
	}
	s.Kubeconfig = filepath.Join(s.opts.Dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	s.opts.Progress("Control plane is up at %s; kubeconfig %s", s.APIServer, s.rel(s.Kubeconfig))
	return nil
}

var listeningLine = regexp.MustCompile(`(?m)^listening on (\S+)$`)

func (s *Stack) startEmulator(ctx context.Context) error {
	s.opts.Progress("Starting the CVM emulator with %s", s.rel(s.opts.Seed))
	log, err := s.logFile("emulator.log")
	if err != nil {
		return err
	}
	c, err := startChild(ProcessEmulator, filepath.Join(s.opts.BinDir, EmulatorBinary),
		[]string{"--listen", s.opts.EmulatorListen, "--seed", s.opts.Seed}, os.Environ(), log)
	if err != nil {
		return err
	}
	s.children = append(s.children, c)
	s.Processes = append(s.Processes, c.proc)
	// The emulator prints its bound address on stdout, which goes to its log.
	err = c.waitFor(ctx, startTimeout, func() (bool, error) {
		data, err := os.ReadFile(log.Name())
		if err != nil {
			return false, fmt.Errorf("read emulator log: %w", err)
		}
		if m := listeningLine.FindSubmatch(data); m != nil {
			s.Emulator = string(m[1])
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("start the CVM emulator on %s: %w", s.opts.EmulatorListen, err)
	}
	s.opts.Progress("Emulator is listening on %s (log: %s)", s.Emulator, s.rel(log.Name()))
	return nil
}

func (s *Stack) installCRDs(ctx context.Context) error {
	crds := filepath.Join(s.opts.ProjectDir, "config", "crd", "bases")
	s.opts.Progress("Installing the ImageShare CRD (kubectl apply -f %s)", s.rel(crds))
	if _, _, err := s.Kubectl(ctx, "apply", "-f", crds); err != nil {
		return fmt.Errorf("install CRDs: %w", err)
	}
	if _, _, err := s.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/imageshares.cvm.imageshare.dev"); err != nil {
		return fmt.Errorf("wait for the ImageShare CRD: %w", err)
	}
	return nil
}

func (s *Stack) startManager(ctx context.Context) error {
	probe, err := freeAddr()
	if err != nil {
		return err
	}
	s.ManagerArgs = append([]string{"--cvm-endpoint", s.Emulator, "--cvm-scheme", "http",
		"--metrics-bind-address", "0", "--health-probe-bind-address", probe}, s.opts.ManagerArgs...)
	log, err := s.logFile("manager.log")
	if err != nil {
		return err
	}
	s.opts.Progress("Starting the manager: %s %s (log: %s)", s.rel(filepath.Join(s.opts.BinDir, ManagerBinary)),
		strings.Join(s.ManagerArgs, " "), s.rel(log.Name()))
	c, err := startChild(ProcessManager, filepath.Join(s.opts.BinDir, ManagerBinary), s.ManagerArgs,
		managerEnv(s.Kubeconfig), log)
	if err != nil {
		return err
	}
	s.children = append(s.children, c)
	s.Processes = append(s.Processes, c.proc)
	client := &http.Client{Timeout: 2 * time.Second}
	err = c.waitFor(ctx, startTimeout, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+probe+"/readyz", nil)
		if err != nil {
			return false, fmt.Errorf("build readyz request: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, nil //nolint:nilerr // not listening yet
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("start the manager: %w", err)
	}
	s.opts.Progress("Manager is ready")
	return nil
}

// managerEnv is this process's environment without the manager's TENCENTCLOUD_* credentials, so
// the demo never reaches past the Secret to a developer's real keys, and with the stack's
// kubeconfig.
func managerEnv(kubeconfig string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "TENCENTCLOUD_") || strings.HasPrefix(kv, "KUBECONFIG=")
	})
	return append(env, "KUBECONFIG="+kubeconfig)
}

// freeAddr returns a loopback address with a port nobody listens on right now. Another process
// may take it before the manager binds it; the manager then exits and Start says so.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

// Stop stops the manager, the emulator, kube-apiserver and etcd, in that order, checks that none
// of the stack's processes is left, and removes the kubeconfig and the run data. Logs stay.
func (s *Stack) Stop() error {
	var errs []error
	for _, c := range slices.Backward(s.children) {
		if err := c.stop(stopTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	if s.env != nil {
		if err := s.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop etcd and kube-apiserver: %w", err))
		}
	}
	if left := Running(s.Processes); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes still running after stop: %s", Describe(left)))
	}
	for _, f := range s.logs {
		_ = f.Close()
	}
	for _, p := range []string{filepath.Join(s.opts.Dir, runDir), filepath.Join(s.opts.Dir, "kubeconfig"),
		filepath.Join(s.opts.Dir, "kubectl-cache")} {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Describe names processes the way the demo prints them: "manager (pid 123), etcd (pid 120)".
func Describe(procs []Process) string {
	parts := make([]string, 0, len(procs))
	for _, p := range procs {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ")
}

func (s *Stack) rel(path string) string { return RelPath(s.opts.ProjectDir, path) }

// RelPath shortens path to be relative to base when it is inside it, for messages.
func RelPath(base, path string) string {
	if rel, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// ProjectDir is the repository root: the nearest directory above the working
// directory that holds go.mod.
func ProjectDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run inside the repository: no go.mod above the working directory")
		}
		dir = parent
	}
}
