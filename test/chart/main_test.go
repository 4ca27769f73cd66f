// Package chart tests what a user installs: the Helm chart in dist/chart (helm lint, helm
// template, and the rendered objects applied with kubectl apply --dry-run=server to a real API
// server), the release bundle (make installer; the manager's --version, start log line and
// imageshare_build_info) and the uninstall snippets of docs/operations.md.
package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// controlPlane is the shared harness's kube-apiserver and etcd, with the ServiceMonitor and
// PrometheusRule CRDs installed (not the ImageShare CRD: the chart brings it). It starts on
// first use; TestMain stops it.
var controlPlane = testenv.SharedControlPlane{
	Options: testenv.ControlPlaneOptions{SkipCRDs: true},
	Setup: func(plane *testenv.ControlPlane) error {
		if _, err := envtest.InstallCRDs(plane.Config, envtest.CRDInstallOptions{
			Paths:              []string{filepath.Join(projectRoot(), "test", "chart", "testdata", "crds")},
			ErrorIfPathMissing: true,
		}); err != nil {
			return fmt.Errorf("install the monitoring CRDs: %w", err)
		}
		return nil
	},
}

// sharedControlPlane starts the control plane once per test binary; TestMain stops it.
func sharedControlPlane(t *testing.T) *testenv.ControlPlane {
	t.Helper()
	return controlPlane.Get(t)
}

func TestMain(m *testing.M) { controlPlane.Main(m) }

// projectRoot is the repository root: two levels above this package.
func projectRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}
