package observability

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// root is the repository root, from this package's directory.
var root = filepath.Join("..", "..")

// startControlPlane starts the shared harness's API server with the project's
// CRDs and returns an admin client and a kubeconfig for the manager.
func startControlPlane(t *testing.T) (client.Client, string) {
	t.Helper()
	cp, err := testenv.StartControlPlane(testenv.ControlPlaneOptions{})
	if err != nil {
		t.Fatalf("start the control plane: %v", err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := cvmv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	return admin, cp.Kubeconfig
}

// manager is the manager binary, built from cmd/ and running.
type manager struct {
	metricsURL string
	logPath    string
}

// logs is everything the manager wrote so far.
func (m *manager) logs() string {
	b, _ := os.ReadFile(m.logPath)
	return string(b)
}

// startManager builds cmd/ and runs it against kubeconfig and the emulator
// at endpoint, with plain-HTTP metrics on a free loopback port and its
// default log format.
func startManager(t *testing.T, kubeconfig, endpoint string) *manager {
	t.Helper()
	dir := t.TempDir()
	if err := testenv.Build(t.Context(), root, dir, nil, testenv.ManagerBinary); err != nil {
		t.Fatal(err)
	}
	addr := testenv.MustFreeAddr(t)
	m := &manager{metricsURL: "http://" + addr + "/metrics", logPath: filepath.Join(dir, "manager.log")}
	child, err := testenv.ManagerProcess{Bin: filepath.Join(dir, testenv.ManagerBinary), Kubeconfig: kubeconfig,
		Args: testenv.ManagerArgs(endpoint, "0", "--metrics-bind-address="+addr, "--metrics-secure=false",
			"--regions=ap-guangzhou,ap-shanghai", "--resync-period=1m"), LogPath: m.logPath}.Start(context.Background())
	if err != nil {
		t.Fatalf("start the manager: %v", err)
	}
	t.Cleanup(func() {
		_ = child.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("manager output:\n%s", m.logs())
		}
	})
	return m
}

// scrape returns the manager's /metrics page.
func (m *manager) scrape(ctx context.Context) (string, error) {
	body, err := testenv.GetBody(ctx, m.metricsURL)
	return string(body), err
}

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	if err := testenv.Eventually(t.Context(), timeout, 200*time.Millisecond, f); err != nil {
		t.Fatalf("after %v: %v", timeout, err)
	}
}
