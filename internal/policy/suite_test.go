package policy_test

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud/tencent"
	"github.com/imageshare/imageshare-operator/internal/controller"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/policy"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// The suite runs one manager with both controllers (as cmd/main.go wires
// them) against one in-process emulator; each spec works in its own
// namespace on its own images (its own name prefix or tag), so specs never
// see each other's images.

const (
	ownerID     = "100000000001"
	ownerSecret = "AKIDowner0001"
	ownerKey    = "owner-secret-key-0001"
	recipientA  = "100000000002"
	recipientB  = "100000000004"
	gz          = "ap-guangzhou"
	sh          = "ap-shanghai"
	// resync is the policy controller's --resync-period: short, so a new
	// build is picked up within seconds.
	resync = 2 * time.Second
)

var (
	k8sClient client.Client
	emu       *emulator.Emulator
	emuURL    string
)

func TestPolicy(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ImageSharePolicy suite")
}

// seedImages are the builds that exist before the suite starts, all older
// than anything a spec adds at runtime.
var seedImages = []emulator.SeedImage{
	{ID: "img-alph0001", Region: gz, Owner: ownerID, Name: "alpha-1", CreatedTime: "2026-01-01T00:00:00Z"},
	{ID: "img-beta0001", Region: gz, Owner: ownerID, Name: "b-1", Tags: map[string]string{"team": "beta"},
		CreatedTime: "2026-01-01T00:00:00Z"},
	{ID: "img-beta0002", Region: gz, Owner: ownerID, Name: "b-2", Tags: map[string]string{"team": "beta"},
		CreatedTime: "2026-02-01T00:00:00Z"},
	{ID: "img-gamm0001", Region: gz, Owner: ownerID, Name: "gamma-1", CreatedTime: "2026-01-01T00:00:00Z"},
	{ID: "img-gamm0002", Region: gz, Owner: ownerID, Name: "gamma-2", CreatedTime: "2026-01-02T00:00:00Z"},
	{ID: "img-gamm0003", Region: gz, Owner: ownerID, Name: "gamma-3", State: "CREATING"},
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(cvmv1alpha1.AddToScheme(scheme)).To(Succeed())

	cfg := startControlPlane()
	var err error
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	syncSeconds := 0 // copies are NORMAL at once
	emu, err = emulator.New(&emulator.Seed{SyncSeconds: &syncSeconds, Accounts: []emulator.SeedAccount{
		{ID: ownerID, SecretID: ownerSecret, SecretKey: ownerKey}, {ID: recipientA}, {ID: recipientB}},
		Images: seedImages})
	Expect(err).NotTo(HaveOccurred())
	srv := httptest.NewServer(emu)
	DeferCleanup(srv.Close)
	emuURL = srv.URL
	u, err := url.Parse(srv.URL)
	Expect(err).NotTo(HaveOccurred())

	factory := tencent.NewFactory(tencent.Options{Endpoint: u.Host, Scheme: "http", QPS: 100})
	stop, err := testenv.RunManager(cfg, ctrl.Options{Scheme: scheme}, func(mgr ctrl.Manager) error {
		if err := (&controller.ImageShareReconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
			Recorder: mgr.GetEventRecorder("imageshare-controller"), Cloud: factory,
			Options: controller.Options{ShareLimit: 50, ResyncPeriod: time.Hour, Regions: []string{gz, sh},
				MaxConcurrentReconciles: 2},
		}).SetupWithManager(mgr); err != nil {
			return err
		}
		return (&policy.Reconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
			Recorder: mgr.GetEventRecorder("imagesharepolicy-controller"), Cloud: factory,
			Options: policy.Options{ResyncPeriod: resync, MaxConcurrentReconciles: 2},
		}).SetupWithManager(mgr)
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(stop()).To(Succeed()) })
})

// startControlPlane starts kube-apiserver and etcd with the project's CRDs
// (the shared harness) and stops them when the suite ends.
func startControlPlane() *rest.Config {
	GinkgoHelper()
	cp, err := testenv.StartControlPlane(testenv.ControlPlaneOptions{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(cp.Stop)
	return cp.Config
}
