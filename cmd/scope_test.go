package main

import (
	"flag"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

func parseScope(t *testing.T, args ...string) *scopeFlags {
	t.Helper()
	var f scopeFlags
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &f
}

func TestScopeFlagDefaults(t *testing.T) {
	f := parseScope(t)
	cfg, err := f.restConfig(&rest.Config{QPS: -1, Burst: 7})
	if err != nil || cfg.QPS != -1 || cfg.Burst != 7 {
		t.Errorf("defaults changed the client's rate limit: %v %v", cfg, err)
	}
	if ns := f.cache(cache.Options{}).DefaultNamespaces; ns != nil {
		t.Errorf("default --watch-namespaces is not all: %v", ns)
	}
	if got := f.envNamespaces(); len(got) != 0 {
		t.Errorf("default --env-credentials-namespaces is not none: %v", got)
	}
	if f.credentialSources != "env" {
		t.Errorf("default --credential-sources = %q", f.credentialSources)
	}
}

func TestScopeFlagsSet(t *testing.T) {
	f := parseScope(t, "--watch-namespaces=team-a, team-b", "--kube-api-qps=50", "--kube-api-burst=100",
		"--env-credentials-namespaces=platform", "--credential-sources=oidc,env")
	cfg, err := f.restConfig(&rest.Config{})
	if err != nil || cfg.QPS != 50 || cfg.Burst != 100 {
		t.Errorf("rest.Config QPS/Burst = %v/%v, %v", cfg.QPS, cfg.Burst, err)
	}
	ns := f.cache(cache.Options{}).DefaultNamespaces
	if _, ok := ns["team-b"]; !ok || len(ns) != 2 {
		t.Errorf("cache namespaces = %v", ns)
	}
	if got := f.envNamespaces(); len(got) != 1 || got[0] != "platform" {
		t.Errorf("env namespaces = %v", got)
	}
	if c, err := f.credentials(); err != nil || c.Describe() != "--credential-sources oidc,env" {
		t.Errorf("chain: %v", err)
	}
	if _, err := parseScope(t, "--credential-sources=env,vault").credentials(); err == nil {
		t.Error("an unknown credential source was accepted")
	}
	if _, err := parseScope(t, "--kube-api-burst=-1").restConfig(&rest.Config{}); err == nil {
		t.Error("a negative burst was accepted")
	}
}
