// Package chart tests what a user installs: the Helm chart in dist/chart (helm lint, helm
// template, and the rendered objects applied with kubectl apply --dry-run=server to a real API
// server), the release bundle (make installer; the manager's --version, start log line and
// imageshare_build_info) and the uninstall snippets of docs/operations.md.
package chart

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// controlPlane is the shared harness's kube-apiserver and etcd, with the ServiceMonitor and
// PrometheusRule CRDs installed (not the ImageShare CRD: the chart brings it).
type controlPlane struct {
	cp         *testenv.ControlPlane
	kubeconfig string
	kubectl    string
}

var (
	cpOnce sync.Once
	cp     *controlPlane
	cpErr  error
)

// startControlPlane starts the harness's control plane without the project's CRDs and
// installs the monitoring CRDs the chart's optional objects need.
func startControlPlane() (*controlPlane, error) {
	plane, err := testenv.StartControlPlane(testenv.ControlPlaneOptions{SkipCRDs: true})
	if err != nil {
		return nil, fmt.Errorf("start the control plane: %w", err)
	}
	if _, err := envtest.InstallCRDs(plane.Config, envtest.CRDInstallOptions{
		Paths:              []string{filepath.Join(projectRoot(), "test", "chart", "testdata", "crds")},
		ErrorIfPathMissing: true,
	}); err != nil {
		return nil, errors.Join(fmt.Errorf("install the monitoring CRDs: %w", err), plane.Stop())
	}
	return &controlPlane{cp: plane, kubeconfig: plane.Kubeconfig, kubectl: plane.KubectlPath}, nil
}

// stop stops the API server and etcd and removes their files.
func (c *controlPlane) stop() error { return c.cp.Stop() }

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
