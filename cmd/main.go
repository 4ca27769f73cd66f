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

package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	// Import all Kubernetes client auth plugins (e.g. Azure, GCP, OIDC, etc.)
	// to ensure that exec-entrypoint and run can make use of them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/regions"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/cloud/tencent"
	"github.com/imageshare/imageshare-operator/internal/controller"
	"github.com/imageshare/imageshare-operator/internal/credentials"
	"github.com/imageshare/imageshare-operator/internal/policy"
	"github.com/imageshare/imageshare-operator/internal/version"
	// +kubebuilder:scaffold:imports
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))

	utilruntime.Must(cvmv1alpha1.AddToScheme(scheme))
	// +kubebuilder:scaffold:scheme
}

// nolint:gocyclo
func main() {
	var metricsAddr string
	var metricsCertPath, metricsCertName, metricsCertKey string
	var webhookCertPath, webhookCertName, webhookCertKey string
	var webhookPort int
	var enableLeaderElection bool
	var leaderElectionNamespace string
	var probeAddr string
	var secureMetrics bool
	var enableHTTP2 bool
	var tlsOpts []func(*tls.Config)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "",
		"The namespace of the leader election Lease; required when running outside a cluster.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false,
		"Enable leader election for controller manager. "+
			"Enabling this will ensure there is only one active controller manager.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"If set, the metrics endpoint is served securely via HTTPS. Use --metrics-secure=false to use HTTP instead.")
	flag.StringVar(&webhookCertPath, "webhook-cert-path", "", "The directory that contains the webhook certificate.")
	flag.StringVar(&webhookCertName, "webhook-cert-name", "tls.crt", "The name of the webhook certificate file.")
	flag.StringVar(&webhookCertKey, "webhook-cert-key", "tls.key", "The name of the webhook key file.")
	flag.IntVar(&webhookPort, "webhook-port", 9443, "Port the webhook server listens on. "+
		"Defaults to 9443. Set -1 to disable the webhook server.")
	flag.StringVar(&metricsCertPath, "metrics-cert-path", "",
		"The directory that contains the metrics server certificate.")
	flag.StringVar(&metricsCertName, "metrics-cert-name", "tls.crt", "The name of the metrics server certificate file.")
	flag.StringVar(&metricsCertKey, "metrics-cert-key", "tls.key", "The name of the metrics server key file.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"If set, HTTP/2 will be enabled for the metrics and webhook servers")
	var cvmEndpoint, cvmScheme, regionList string
	var shareLimit, maxConcurrent int
	var resyncPeriod time.Duration
	var apiQPS float64
	flag.StringVar(&cvmEndpoint, "cvm-endpoint", tencent.DefaultEndpoint,
		"The CVM API endpoint, host[:port]; point it at cvm-emulator for tests and demos.")
	flag.StringVar(&cvmScheme, "cvm-scheme", "https", "The CVM API scheme: https, or http for the emulator.")
	flag.IntVar(&shareLimit, "share-limit", 50,
		"The most accounts one image may be shared with (Tencent documents 50; accounts raised to 500 since 2024).")
	flag.DurationVar(&resyncPeriod, "resync-period", 10*time.Minute,
		"How often each image's shares are re-read from the cloud to correct drift (jittered).")
	flag.Float64Var(&apiQPS, "api-qps", tencent.DefaultQPS,
		"Client-side CVM API calls per second, per credential and action (Tencent allows 10 for the share APIs); "+
			"the rate adapts down on RequestLimitExceeded and recovers to this ceiling.")
	flag.StringVar(&regionList, "regions", strings.Join(defaultRegions(), ","),
		"Comma-separated regions searched when an image is not in spec.region.")
	flag.IntVar(&maxConcurrent, "max-concurrent-reconciles", 4, "How many ImageShares are reconciled in parallel.")
	var showVersion bool
	flag.BoolVar(&showVersion, "version", false, "Print the version and exit.")
	var scope scopeFlags
	scope.bind(flag.CommandLine)
	// JSON at info level; --zap-devel switches to the console format.
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	build := version.Get()
	if showVersion {
		fmt.Println(build)
		os.Exit(0)
	}

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog.Info("Starting imageshare-operator",
		"version", build.Version, "revision", build.Revision, "goVersion", build.GoVersion)
	if err := version.Register(ctrlmetrics.Registry); err != nil {
		setupLog.Error(err, "Failed to register the build info metric")
		os.Exit(1)
	}

	// if the enable-http2 flag is false (the default), http/2 should be disabled
	// due to its vulnerabilities. More specifically, disabling http/2 will
	// prevent from being vulnerable to the HTTP/2 Stream Cancellation and
	// Rapid Reset CVEs. For more information see:
	// - https://github.com/advisories/GHSA-qppj-fm5r-hxr3
	// - https://github.com/advisories/GHSA-4374-p667-p6c8
	disableHTTP2 := func(c *tls.Config) {
		setupLog.Info("Disabling HTTP/2")
		c.NextProtos = []string{"http/1.1"}
	}

	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, disableHTTP2)
	}

	// Initial webhook TLS options
	webhookTLSOpts := tlsOpts
	webhookServerOptions := webhook.Options{
		TLSOpts: webhookTLSOpts,
		Port:    webhookPort,
	}

	if len(webhookCertPath) > 0 {
		setupLog.Info("Initializing webhook certificate watcher using provided certificates",
			"webhook-cert-path", webhookCertPath, "webhook-cert-name", webhookCertName, "webhook-cert-key", webhookCertKey)

		webhookServerOptions.CertDir = webhookCertPath
		webhookServerOptions.CertName = webhookCertName
		webhookServerOptions.KeyName = webhookCertKey
	}

	webhookServer := webhook.NewServer(webhookServerOptions)

	// Metrics endpoint is enabled in 'config/default/kustomization.yaml'. The Metrics options configure the server.
	// More info:
	// - https://pkg.go.dev/sigs.k8s.io/controller-runtime@v0.25.0/pkg/metrics/server
	// - https://book.kubebuilder.io/reference/metrics.html
	metricsServerOptions := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}

	if secureMetrics {
		// FilterProvider is used to protect the metrics endpoint with authn/authz.
		// These configurations ensure that only authorized users and service accounts
		// can access the metrics endpoint. The RBAC are configured in 'config/rbac/kustomization.yaml'. More info:
		// https://pkg.go.dev/sigs.k8s.io/controller-runtime@v0.25.0/pkg/metrics/filters#WithAuthenticationAndAuthorization
		metricsServerOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	// If the certificate is not specified, controller-runtime will automatically
	// generate self-signed certificates for the metrics server. While convenient for development and testing,
	// this setup is not recommended for production.
	//
	// TODO(user): If you enable certManager, uncomment the following lines:
	// - [METRICS-WITH-CERTS] at config/default/kustomization.yaml to generate and use certificates
	// managed by cert-manager for the metrics server.
	// - [PROMETHEUS-WITH-CERTS] at config/prometheus/kustomization.yaml for TLS certification.
	if len(metricsCertPath) > 0 {
		setupLog.Info("Initializing metrics certificate watcher using provided certificates",
			"metrics-cert-path", metricsCertPath, "metrics-cert-name", metricsCertName, "metrics-cert-key", metricsCertKey)

		metricsServerOptions.CertDir = metricsCertPath
		metricsServerOptions.CertName = metricsCertName
		metricsServerOptions.KeyName = metricsCertKey
	}

	managerCreds, err := scope.credentials()
	if err != nil {
		setupLog.Error(err, "Invalid --credential-sources")
		os.Exit(1)
	}
	restConfig, err := scope.restConfig(ctrl.GetConfigOrDie())
	if err != nil {
		setupLog.Error(err, "Invalid Kubernetes client flags")
		os.Exit(1)
	}
	setupLog.Info("Manager scope", "credentialSources", scope.credentialSources,
		"watchNamespaces", scope.watchNamespaces, "envCredentialsNamespaces", scope.envCredNamespaces)

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsServerOptions,
		WebhookServer:           webhookServer,
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          enableLeaderElection,
		LeaderElectionID:        "0afdbbba.imageshare.dev",
		LeaderElectionNamespace: leaderElectionNamespace,
		// LeaderElectionReleaseOnCancel defines if the leader should step down voluntarily
		// when the Manager ends. This requires the binary to immediately end when the
		// Manager is stopped, otherwise, this setting is unsafe. Setting this significantly
		// speeds up voluntary leader transitions as the new leader don't have to wait
		// LeaseDuration time first.
		//
		// In the default scaffold provided, the program ends immediately after
		// the manager stops, so would be fine to enable this option. However,
		// if you are doing or is intended to do any operation such as perform cleanups
		// after the manager stops then its usage might be unsafe.
		LeaderElectionReleaseOnCancel: true,
		// Secrets are read with direct GETs only: never cached or watched
		// cluster-wide, so the manager needs no list/watch on Secrets.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		// managedFields are half of a cached object and the controller never reads them.
		// --watch-namespaces restricts it to those namespaces.
		Cache: scope.cache(cache.Options{DefaultTransform: cache.TransformStripManagedFields()}),
	})
	if err != nil {
		setupLog.Error(err, "Failed to start manager")
		os.Exit(1)
	}

	if cvmScheme != "https" && cvmScheme != "http" {
		setupLog.Error(nil, "Invalid --cvm-scheme: use https or http", "scheme", cvmScheme)
		os.Exit(1)
	}
	// Both controllers resolve keys alike; one Roles keeps one STS session
	// per role and base key for both.
	creds := credentials.Sources{Manager: managerCreds, EnvNamespaces: scope.envNamespaces(),
		Roles: tencent.NewRoles("")}
	factory := tencent.NewFactory(tencent.Options{Endpoint: cvmEndpoint, Scheme: cvmScheme, QPS: apiQPS})
	if err := (&controller.ImageShareReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("imageshare-controller"),
		Cloud:     factory,
		Options: controller.Options{
			ShareLimit:              shareLimit,
			ResyncPeriod:            resyncPeriod,
			Regions:                 splitList(regionList),
			Credentials:             creds,
			MaxConcurrentReconciles: maxConcurrent,
		},
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Failed to create controller", "controller", "imageshare")
		os.Exit(1)
	}
	if err := controller.RegisterMetrics(mgr); err != nil {
		setupLog.Error(err, "Failed to register the ImageShare metrics")
		os.Exit(1)
	}
	if err := (&policy.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("imagesharepolicy-controller"), Cloud: factory,
		Options: policy.Options{ResyncPeriod: resyncPeriod, MaxConcurrentReconciles: maxConcurrent,
			Credentials: creds},
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Failed to create controller", "controller", "imagesharepolicy")
		os.Exit(1)
	}
	// +kubebuilder:scaffold:builder

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Failed to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Failed to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "Failed to run manager")
		os.Exit(1)
	}
}

// defaultRegions is the SDK's list of public regions.
func defaultRegions() []string {
	return []string{regions.Bangkok, regions.Beijing, regions.Chengdu, regions.Chongqing, regions.Guangzhou,
		regions.HongKong, regions.Jakarta, regions.Mumbai, regions.Nanjing, regions.Seoul, regions.Shanghai,
		regions.ShanghaiFSI, regions.ShenzhenFSI, regions.Singapore, regions.Tokyo, regions.Frankfurt,
		regions.Moscow, regions.Ashburn, regions.SiliconValley, regions.Toronto, regions.SaoPaulo}
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
