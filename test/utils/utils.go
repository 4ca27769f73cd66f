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

// Package utils holds what the envtest and end-to-end suites share: a throwaway
// control plane (kube-apiserver and etcd with the project's CRDs) reachable through
// a kubeconfig file, and a runner for the real kubectl binary.
package utils

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/imageshare/imageshare-operator/hack/demo/stack"
)

// AssetsEnv is the variable that names the directory holding kube-apiserver, etcd
// and kubectl, as envtest and setup-envtest define it.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// assetsHint tells a developer how to get the binaries; `make test` sets the
// variable itself, so only a bare `go test` run ever needs this.
const assetsHint = "run `make test`, or set it to the directory that hack/envtest-assets.sh prints " +
	"(for example ~/.local/share/kubebuilder-envtest/k8s/1.37.2-linux-amd64)"

// ProjectDir returns the repository root, the nearest directory above the working
// directory that holds go.mod, so that suites in any package find config/ the same way.
func ProjectDir() (string, error) { return stack.ProjectDir() }

// AssetsDir returns the directory named by KUBEBUILDER_ASSETS. It fails with a
// message that says what to do when the variable is unset or the binaries are not
// there, instead of the envtest error about /usr/local/kubebuilder a developer
// would otherwise see.
func AssetsDir() (string, error) {
	dir := os.Getenv(AssetsEnv)
	if dir == "" {
		return "", fmt.Errorf("%s is not set: %s", AssetsEnv, assetsHint)
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("%s=%s has no %s: %s", AssetsEnv, dir, name, assetsHint)
		}
	}
	return dir, nil
}

// ControlPlane is a kube-apiserver and etcd on loopback with the project's CRDs
// installed, for tests that talk to a real API server.
type ControlPlane struct {
	// Env is the running envtest environment.
	Env *envtest.Environment
	// Config is a cluster-admin REST config for in-process clients.
	Config *rest.Config
	// Kubeconfig is the path of a cluster-admin kubeconfig file, for kubectl and
	// for processes such as the manager.
	Kubeconfig string
	// Dir is a temporary directory that lives as long as the control plane; tests
	// may put their own files (manifests, logs) in it.
	Dir string
}

// StartControlPlane starts etcd and kube-apiserver from KUBEBUILDER_ASSETS, installs
// the CRDs from config/crd/bases and writes a system:masters kubeconfig for them.
// Call Stop when done, also when a later step of the test fails.
func StartControlPlane() (*ControlPlane, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	root, err := ProjectDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "imageshare-controlplane-")
	if err != nil {
		return nil, fmt.Errorf("create control plane directory: %w", err)
	}
	cp := &ControlPlane{
		Env: &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
			BinaryAssetsDirectory: assets,
		},
		Dir: dir,
	}
	cp.Config, err = cp.Env.Start()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start envtest control plane from %s: %w", assets, err)
	}
	if err := cp.writeKubeconfig(); err != nil {
		_ = cp.Stop()
		return nil, err
	}
	return cp, nil
}

// writeKubeconfig provisions a user of its own instead of reusing envtest's
// default one, so the file stays valid for as long as the control plane runs.
func (cp *ControlPlane) writeKubeconfig() error {
	user, err := cp.Env.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add kubeconfig user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("render kubeconfig: %w", err)
	}
	path := filepath.Join(cp.Dir, "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	cp.Kubeconfig = path
	return nil
}

// Stop stops the API server and etcd and removes the temporary directory.
func (cp *ControlPlane) Stop() error {
	errs := []error{}
	if err := cp.Env.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("stop envtest control plane: %w", err))
	}
	if err := os.RemoveAll(cp.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", cp.Dir, err))
	}
	return errors.Join(errs...)
}

// KubectlPath returns the kubectl to run: the one in KUBEBUILDER_ASSETS when there
// is one, because it matches the API server's version, else the first on PATH.
func KubectlPath() (string, error) {
	if dir := os.Getenv(AssetsEnv); dir != "" {
		path := filepath.Join(dir, "kubectl")
		if info, err := os.Stat(path); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return "", fmt.Errorf("find kubectl in %s or PATH: %w", AssetsEnv, err)
	}
	return path, nil
}

// Kubectl runs the real kubectl binary against the cluster of kubeconfig, as a
// user would, and returns what it printed. A non-zero exit is an error that
// carries stderr; stdout and stderr are returned either way, so a test can check
// the message of a command that is meant to fail.
func Kubectl(ctx context.Context, kubeconfig string, args ...string) (stdout, stderr string, err error) {
	bin, err := KubectlPath()
	if err != nil {
		return "", "", err
	}
	// A discovery cache beside the kubeconfig keeps runs apart: a later control
	// plane on the same port must not be served an earlier one's resource list.
	cacheDir := filepath.Join(filepath.Dir(kubeconfig), "kubectl-cache")
	cmd := exec.CommandContext(ctx, bin, append([]string{"--cache-dir=" + cacheDir}, args...)...)
	// KUBECTL_KUBERC=false keeps a developer's ~/.kube/kuberc aliases and defaults
	// out of the test; later entries win over the inherited environment.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "KUBECTL_KUBERC=false")
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), errOut.String(), fmt.Errorf("kubectl %s: %w: %s",
			strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), nil
}
