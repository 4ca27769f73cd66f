package observability

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	m := &manager{metricsURL: "http://" + addr + "/metrics", logPath: filepath.Join(dir, "manager.log")}
	log, err := os.Create(m.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = log.Close() }()
	child, err := testenv.ManagerProcess{Bin: filepath.Join(dir, testenv.ManagerBinary), Kubeconfig: kubeconfig,
		Args: testenv.ManagerArgs(endpoint, "0", "--metrics-bind-address="+addr, "--metrics-secure=false",
			"--regions=ap-guangzhou,ap-shanghai", "--resync-period=1m"), Log: log}.Start(context.Background())
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.metricsURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("scrape %s: %w", m.metricsURL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", m.metricsURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("scrape %s: %s", m.metricsURL, resp.Status)
	}
	return string(body), nil
}

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
