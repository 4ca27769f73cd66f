package main

import (
	"errors"
	"flag"
	"os"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/imageshare/imageshare-operator/internal/cloud/tencent"
	"github.com/imageshare/imageshare-operator/internal/controller"
)

// scopeFlags are the manager flags of contract §4 about whose credentials it
// uses and what it watches.
type scopeFlags struct {
	credentialSources string
	envCredNamespaces string
	watchNamespaces   string
	kubeQPS           float64
	kubeBurst         int
}

func (f *scopeFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.credentialSources, "credential-sources", tencent.SourceEnv,
		"Where the manager's own credentials come from, tried in order: comma list of env "+
			"(TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY, TENCENTCLOUD_SECURITY_TOKEN), "+
			"oidc (TKE pod identity) and cvm-role (the CVM instance role).")
	fs.StringVar(&f.envCredNamespaces, "env-credentials-namespaces", "",
		"Comma list of namespaces whose ImageShares and ImageSharePolicies may omit credentialsRef and use "+
			"the manager's own credentials; * for all. Default none.")
	fs.StringVar(&f.watchNamespaces, "watch-namespaces", "",
		"Comma list of namespaces the manager watches and acts in. Default all.")
	fs.Float64Var(&f.kubeQPS, "kube-api-qps", 0, "Client-side limit of queries per second to the Kubernetes API "+
		"server. 0 keeps controller-runtime's default: no client-side limit, the server's API Priority and Fairness "+
		"decides; -1 is the same.")
	fs.IntVar(&f.kubeBurst, "kube-api-burst", 0, "Burst of queries to the Kubernetes API server, with --kube-api-qps. "+
		"0 keeps client-go's default.")
}

// credentials is the chain of --credential-sources.
func (f *scopeFlags) credentials() (*tencent.Chain, error) {
	if os.Getenv(tencent.EnvSecurityToken) == "" && os.Getenv(tencent.EnvSessionToken) != "" {
		setupLog.Info("TENCENTCLOUD_SESSION_TOKEN is deprecated: set TENCENTCLOUD_SECURITY_TOKEN instead")
	}
	return tencent.NewChain(splitList(f.credentialSources))
}

// restConfig applies --kube-api-qps and --kube-api-burst to cfg.
func (f *scopeFlags) restConfig(cfg *rest.Config) (*rest.Config, error) {
	if f.kubeBurst < 0 {
		return nil, errors.New("--kube-api-burst must not be negative")
	}
	if f.kubeQPS != 0 {
		cfg.QPS = float32(f.kubeQPS)
	}
	if f.kubeBurst > 0 {
		cfg.Burst = f.kubeBurst
	}
	return cfg, nil
}

// cache restricts o to --watch-namespaces.
func (f *scopeFlags) cache(o cache.Options) cache.Options {
	o.DefaultNamespaces = controller.CacheNamespaces(splitList(f.watchNamespaces))
	return o
}

// envNamespaces is --env-credentials-namespaces.
func (f *scopeFlags) envNamespaces() []string { return splitList(f.envCredNamespaces) }
