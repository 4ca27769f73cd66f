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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Names of the processes a control plane and a Stack run, as Process.Name reports them.
const (
	ProcessEtcd      = "etcd"
	ProcessAPIServer = "kube-apiserver"
	ProcessEmulator  = "cvm-emulator"
	ProcessManager   = "manager"
)

const (
	// startTimeout bounds each part's start; far above what a loaded 2-core machine needs, it
	// only turns a hang into a message.
	startTimeout = 2 * time.Minute
	// stopTimeout is how long a part gets to stop after SIGTERM before SIGKILL.
	stopTimeout = 20 * time.Second
	// runDir, inside a control plane's Dir, holds what lives exactly as long as the control plane.
	runDir = "run"
	// kubeconfigName is the admin kubeconfig's file name inside Dir.
	kubeconfigName = "kubeconfig"
)

// ControlPlaneOptions say where a control plane finds its binaries and puts its files.
type ControlPlaneOptions struct {
	// AssetsDir holds kube-apiserver, etcd and kubectl; empty means AssetsDir() (KUBEBUILDER_ASSETS).
	AssetsDir string
	// Dir receives the kubeconfig, etcd's data and the API server's certificates; empty means a
	// temporary directory, removed by Stop. Tests may put their own files in it.
	Dir string
	// LogDir, when set, receives etcd.log and kube-apiserver.log.
	LogDir string
	// SkipCRDs leaves config/crd/bases uninstalled, for a caller that installs them itself with
	// kubectl, the way the demo shows it.
	SkipCRDs bool
}

// ControlPlane is kube-apiserver and etcd on loopback, started through envtest, with a
// cluster-admin kubeconfig and (unless SkipCRDs) the project's CRDs.
type ControlPlane struct {
	// Env is the running envtest environment.
	Env *envtest.Environment
	// Config is a cluster-admin REST config for in-process clients.
	Config *rest.Config
	// Kubeconfig is a cluster-admin kubeconfig file, for kubectl and the manager binary.
	Kubeconfig string
	// KubectlPath is the kubectl of AssetsDir, which matches the API server's version.
	KubectlPath string
	// APIServer is the API server's URL.
	APIServer string
	// Dir is ControlPlaneOptions.Dir, or the temporary directory used instead.
	Dir     string
	tempDir bool
	logs    []*os.File
}

// StartControlPlane starts etcd and kube-apiserver, installs the CRDs from config/crd/bases and
// writes a system:masters kubeconfig. Call Stop when done, also when a later step fails.
func StartControlPlane(opts ControlPlaneOptions) (*ControlPlane, error) {
	var err error
	if opts.AssetsDir == "" {
		if opts.AssetsDir, err = AssetsDir(); err != nil {
			return nil, err
		}
	} else if err := CheckAssets(opts.AssetsDir); err != nil {
		return nil, err
	}
	root, err := ProjectDir()
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{Dir: opts.Dir, KubectlPath: filepath.Join(opts.AssetsDir, "kubectl")}
	if cp.Dir == "" {
		if cp.Dir, err = os.MkdirTemp("", "imageshare-controlplane-"); err != nil {
			return nil, fmt.Errorf("create control plane directory: %w", err)
		}
		cp.tempDir = true
	}
	if err := cp.start(root, opts); err != nil {
		return nil, errors.Join(err, cp.Stop())
	}
	return cp, nil
}

func (cp *ControlPlane) start(root string, opts ControlPlaneOptions) error {
	// A run killed before it could clean up leaves its etcd data behind; never start from it.
	if err := CleanDir(cp.Dir); err != nil {
		return err
	}
	run := filepath.Join(cp.Dir, runDir)
	etcd := &envtest.Etcd{Path: filepath.Join(opts.AssetsDir, "etcd"), DataDir: filepath.Join(run, "etcd")}
	api := &envtest.APIServer{Path: filepath.Join(opts.AssetsDir, "kube-apiserver"),
		CertDir: filepath.Join(run, "apiserver")}
	for _, d := range []string{etcd.DataDir, api.CertDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	if opts.LogDir != "" {
		for name, set := range map[string]func(*os.File){
			"etcd.log":           func(f *os.File) { etcd.Out, etcd.Err = f, f },
			"kube-apiserver.log": func(f *os.File) { api.Out, api.Err = f, f },
		} {
			f, err := os.Create(filepath.Join(opts.LogDir, name))
			if err != nil {
				return fmt.Errorf("create log: %w", err)
			}
			cp.logs = append(cp.logs, f)
			set(f)
		}
	}
	// Explicit paths, so that a TEST_ASSET_* in the environment cannot swap in other binaries
	// than the ones checked above.
	cp.Env = &envtest.Environment{
		UseExistingCluster:       new(false),
		BinaryAssetsDirectory:    opts.AssetsDir,
		ControlPlaneStartTimeout: startTimeout,
		ControlPlaneStopTimeout:  stopTimeout,
		ControlPlane:             envtest.ControlPlane{Etcd: etcd, APIServer: api, KubectlPath: cp.KubectlPath},
	}
	if !opts.SkipCRDs {
		cp.Env.CRDDirectoryPaths = []string{filepath.Join(root, "config", "crd", "bases")}
		cp.Env.ErrorIfCRDPathMissing = true
	}
	cfg, err := cp.Env.Start()
	if err != nil {
		return fmt.Errorf("start etcd and kube-apiserver from %s: %w", opts.AssetsDir, err)
	}
	cp.Config, cp.APIServer = cfg, strings.TrimSuffix(cfg.Host, "/")
	cp.Kubeconfig = filepath.Join(cp.Dir, kubeconfigName)
	// A user of its own rather than envtest's default one, so the file stays valid for as long
	// as the control plane runs, also after this process ends (make demo KEEP=1).
	return cp.WriteKubeconfig(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, cp.Kubeconfig)
}

// WriteKubeconfig provisions user and writes a kubeconfig for it to path: the reliability
// tests run the manager as its service account, with exactly the roles of config/rbac.
func (cp *ControlPlane) WriteKubeconfig(user envtest.User, path string) error {
	u, err := cp.Env.AddUser(user, nil)
	if err != nil {
		return fmt.Errorf("add kubeconfig user %s: %w", user.Name, err)
	}
	data, err := u.KubeConfig()
	if err != nil {
		return fmt.Errorf("render kubeconfig of %s: %w", user.Name, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// Kubectl runs the control plane's kubectl with its admin kubeconfig (see Kubectl).
func (cp *ControlPlane) Kubectl(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	return Kubectl(ctx, cp.KubectlPath, cp.Kubeconfig, args...)
}

// Processes finds the etcd and kube-apiserver processes. envtest does not say which processes
// it started: they are this process's children, told apart from any other control plane this
// process runs by their data and certificate directories.
func (cp *ControlPlane) Processes() ([]Process, error) {
	etcdFlag := "--data-dir=" + cp.Env.ControlPlane.Etcd.DataDir
	certFlag := "--cert-dir=" + cp.Env.ControlPlane.APIServer.CertDir
	procs, err := childProcesses(os.Getpid(), func(name string, args []string) bool {
		return name == ProcessEtcd && slices.Contains(args, etcdFlag) ||
			name == ProcessAPIServer && slices.Contains(args, certFlag)
	})
	if err == nil && len(procs) != 2 {
		err = fmt.Errorf("find the etcd and kube-apiserver processes envtest started: found %s", Describe(procs))
	}
	// etcd first: the order they were started in.
	slices.SortFunc(procs, func(a, b Process) int { return strings.Compare(a.Name, b.Name) })
	return procs, err
}

// Stop stops kube-apiserver and etcd and removes the run data and the kubeconfig (the whole
// directory when it is a temporary one). Logs stay.
func (cp *ControlPlane) Stop() error {
	var errs []error
	if cp.Env != nil {
		if err := cp.Env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop etcd and kube-apiserver: %w", err))
		}
	}
	for _, f := range cp.logs {
		_ = f.Close()
	}
	if cp.tempDir {
		errs = append(errs, os.RemoveAll(cp.Dir))
	} else {
		errs = append(errs, CleanDir(cp.Dir))
	}
	return errors.Join(errs...)
}

// CleanDir removes what a control plane kept in dir while it ran: etcd's data, the API
// server's certificates, the kubeconfig and kubectl's cache. Logs stay.
func CleanDir(dir string) error {
	var errs []error
	for _, name := range []string{runDir, kubeconfigName, "kubectl-cache"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
