// Package gitops checks that GitOps tools read an ImageShare's health the way
// contract §3 means it: the Argo CD health check in config/argocd (run by the
// Lua engine Argo CD embeds) and kstatus (what a Flux Kustomization with
// `wait: true` computes), both over ImageShares captured from real runs of the
// manager against the CVM emulator; and that the install bundle applies cleanly.
//
// Refresh the captured objects and health_test.yaml with
//
//	UPDATE_GITOPS_TESTDATA=1 go test ./test/gitops/ -run TestCapture
//
// TestCapture starts the one manager a process may hold (controller names are
// process-wide), so run the package once per process (no -count above 1).
package gitops

import (
	"path/filepath"
	"testing"

	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// updateEnv names the variable that makes TestCapture rewrite the testdata.
const updateEnv = "UPDATE_GITOPS_TESTDATA"

// sharedControlPlane is a kube-apiserver and etcd with the ImageShare CRD, started on first
// use; TestMain stops it. Tests that need no API server never start it.
var sharedControlPlane testenv.SharedControlPlane

// controlPlane starts, once per test binary, the shared control plane.
func controlPlane(t *testing.T) *testenv.ControlPlane {
	t.Helper()
	return sharedControlPlane.Get(t)
}

func TestMain(m *testing.M) { sharedControlPlane.Main(m) }

// projectPath is a path inside the repository.
func projectPath(t *testing.T, elem ...string) string {
	t.Helper()
	root, err := testenv.ProjectDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// customizationDir is the Argo CD resource customization of ImageShare, laid
// out as Argo CD's own resource_customizations/<group>/<kind>.
func customizationDir(t *testing.T) string {
	return projectPath(t, "config", "argocd", "cvm.imageshare.dev", "ImageShare")
}
