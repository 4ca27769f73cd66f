// Package chart tests what a user installs: the Helm chart in dist/chart (helm lint, helm
// template, and the rendered objects applied with kubectl apply --dry-run=server to a real API
// server), the release bundle (make installer; the manager's --version, start log line and
// imageshare_build_info) and the uninstall snippets of docs/operations.md.
package chart

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// controlPlane is a kube-apiserver and etcd on loopback with the ServiceMonitor and
// PrometheusRule CRDs installed (not the ImageShare CRD: the chart brings it).
type controlPlane struct {
	env        *envtest.Environment
	kubeconfig string
	kubectl    string
	dir        string
}

var (
	cpOnce sync.Once
	cp     *controlPlane
	cpErr  error
)

// startControlPlane starts envtest from KUBEBUILDER_ASSETS and writes a system:masters
// kubeconfig. It is self-contained on purpose, so that a shared harness can replace it.
func startControlPlane() (*controlPlane, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make test-chart`, or set it to the " +
			"directory hack/envtest-assets.sh prints")
	}
	dir, err := os.MkdirTemp("", "imageshare-chart-")
	if err != nil {
		return nil, fmt.Errorf("create control plane directory: %w", err)
	}
	c := &controlPlane{dir: dir, kubectl: filepath.Join(assets, "kubectl"), env: &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(projectRoot(), "test", "chart", "testdata", "crds")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}}
	if _, err := exec.LookPath(c.kubectl); err != nil {
		if c.kubectl, err = exec.LookPath("kubectl"); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("find kubectl in %s or PATH: %w", assets, err)
		}
	}
	if _, err := c.env.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start envtest from %s: %w", assets, err)
	}
	user, err := c.env.AddUser(envtest.User{Name: "chart-admin", Groups: []string{"system:masters"}}, nil)
	if err == nil {
		var data []byte
		if data, err = user.KubeConfig(); err == nil {
			c.kubeconfig = filepath.Join(dir, "kubeconfig")
			err = os.WriteFile(c.kubeconfig, data, 0o600)
		}
	}
	if err != nil {
		_ = c.stop()
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	return c, nil
}

// stop stops the API server and etcd and removes the temporary directory.
func (c *controlPlane) stop() error {
	return errors.Join(c.env.Stop(), os.RemoveAll(c.dir))
}

// sharedControlPlane starts the control plane once per test binary; TestMain stops it.
func sharedControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	cpOnce.Do(func() { cp, cpErr = startControlPlane() })
	if cpErr != nil {
		t.Fatalf("start the control plane: %v", cpErr)
	}
	return cp
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cp != nil {
		if err := cp.stop(); err != nil {
			_, _ = fmt.Fprintf(os.Stderr, "stop control plane: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// projectRoot is the repository root: two levels above this package.
func projectRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}
