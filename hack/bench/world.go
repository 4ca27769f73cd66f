package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// secretName is the Secret with a tenant's keys, in its namespace.
const secretName = "creds"

// tenant is one team of a shape: its namespace, and the cloud account whose
// keys its Secret holds and whose images its ImageShares share.
type tenant struct {
	namespace, owner, secretID, secretKey string
}

func tenants(t int) []tenant {
	if t == 1 {
		return []tenant{{namespace: "bench", owner: "100000000001", secretID: "AKIDbench0001",
			secretKey: "bench-secret-key"}}
	}
	out := make([]tenant, t)
	for i := range out {
		out[i] = tenant{namespace: fmt.Sprintf("bench-t%02d", i), owner: fmt.Sprintf("1000000001%02d", i),
			secretID: fmt.Sprintf("AKIDbenchT%02d", i), secretKey: fmt.Sprintf("bench-secret-key-%02d", i)}
	}
	return out
}

// world is one run's control plane, cloud and client; stop tears it down.
type world struct {
	cp   *testenv.ControlPlane
	k8s  client.WithWatch
	emu  *emulator.Emulator
	srv  *httptest.Server
	mgr  *testenv.Child
	logf *os.File
}

// newWorld starts a control plane and an emulator seeded with seed, its
// per-action limits set from cfg.
func newWorld(cfg config, seed *emulator.Seed) (*world, error) {
	seed.Faults = emulator.Faults{QPSByAction: map[string]float64{
		actDescribe: cfg.describeQPS, actList: cfg.shareQPS, actModify: cfg.shareQPS}}
	emu, err := emulator.New(seed)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	cp, err := testenv.StartControlPlane(testenv.ControlPlaneOptions{})
	if err != nil {
		return nil, fmt.Errorf("control plane: %w", err)
	}
	w := &world{cp: cp, emu: emu, srv: httptest.NewServer(emu)}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = cvmv1alpha1.AddToScheme(scheme)
	if w.k8s, err = client.NewWithWatch(cp.Config, client.Options{Scheme: scheme}); err != nil {
		w.stop()
		return nil, fmt.Errorf("client: %w", err)
	}
	return w, nil
}

func (w *world) stop() {
	if w.mgr != nil {
		w.mgr.Kill()
	}
	if w.logf != nil {
		_ = w.logf.Close()
	}
	w.srv.Close()
	_ = w.cp.Stop()
}

// addTenant creates t's namespace and the Secret with its keys.
func (w *world) addTenant(ctx context.Context, t tenant) error {
	if err := w.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: t.namespace}}); err != nil {
		return fmt.Errorf("namespace %s: %w", t.namespace, err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: t.namespace},
		StringData: map[string]string{"secretId": t.secretID, "secretKey": t.secretKey}}
	if err := w.k8s.Create(ctx, s); err != nil {
		return fmt.Errorf("secret in %s: %w", t.namespace, err)
	}
	return nil
}

// startManager starts the manager binary against the emulator with cfg's
// flags and extra ones.
func (w *world) startManager(ctx context.Context, cfg config, extra ...string) error {
	args := []string{"--api-qps", fmt.Sprint(cfg.apiQPS)}
	if cfg.kubeQPS != 0 {
		args = append(args, "--kube-api-qps", fmt.Sprint(cfg.kubeQPS))
	}
	if cfg.kubeBurst > 0 {
		args = append(args, "--kube-api-burst", fmt.Sprint(cfg.kubeBurst))
	}
	if cfg.workers > 0 {
		args = append(args, "--max-concurrent-reconciles", fmt.Sprint(cfg.workers))
	}
	mgr := testenv.ManagerProcess{Bin: cfg.manager, Kubeconfig: w.cp.Kubeconfig,
		Args: testenv.ManagerArgs(strings.TrimPrefix(w.srv.URL, "http://"), "0", append(args, extra...)...)}
	if cfg.managerLog != "" {
		mgr.Args = append(mgr.Args, "--zap-log-level", "debug")
		f, err := os.Create(cfg.managerLog)
		if err != nil {
			return fmt.Errorf("manager log: %w", err)
		}
		w.logf, mgr.Log = f, f
	}
	proc, err := mgr.Start(ctx)
	if err != nil {
		return fmt.Errorf("start manager %s (run make build): %w", cfg.manager, err)
	}
	w.mgr = proc
	return nil
}

// sharedPairs counts the (image, account) shares in the cloud.
func sharedPairs(emu *emulator.Emulator) int {
	n := 0
	for _, img := range emu.State().Images {
		n += len(img.SharedWith)
	}
	return n
}
