package chart

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The names the chart gives the release "rel" (fullname rel-imageshare-operator).
const (
	fullname    = "rel-imageshare-operator"
	managerRole = fullname + "-manager"
)

func TestChartLint(t *testing.T) {
	helm(t, "lint", "--strict", chartDir())
	helm(t, "lint", "--strict", chartDir(), "-f", allOptionsValues())
}

// TestChartDefault renders the default values: every namespace watched with ClusterRoles, the
// CRDs kept on uninstall, no credentials, metrics without the prometheus-operator objects.
func TestChartDefault(t *testing.T) {
	manifest := render(t)
	objs := objects(t, manifest)

	checkCRDs(t, objs, true)
	if got, want := rulesOf(t, one(t, objs, "ClusterRole", managerRole, "")), generatedRules(t); got != want {
		t.Errorf("ClusterRole %s rules differ from config/rbac/role.yaml:\n%s\nwant:\n%s", managerRole, got, want)
	}
	one(t, objs, "ClusterRoleBinding", managerRole, "")
	if roles := find(objs, "Role", managerRole, ""); len(roles) != 0 {
		t.Errorf("the default install has namespaced manager Roles: %d", len(roles))
	}
	one(t, objs, "Role", fullname+"-leader-election", releaseNamespace)
	one(t, objs, "Service", fullname+"-metrics", releaseNamespace)
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		if len(find(objs, kind, "", "")) != 0 {
			t.Errorf("the default install has a %s", kind)
		}
	}

	chart := readChart(t)
	c := managerContainer(t, objs)
	if want := "ghcr.io/imageshare/imageshare-operator:" + chart.AppVersion; c["image"] != want {
		t.Errorf("image = %v, want %s (the chart's appVersion)", c["image"], want)
	}
	if _, ok := c["env"]; ok {
		t.Errorf("the default install sets env: %v", c["env"])
	}
	args := stringsOf(c["args"])
	for _, absent := range []string{"--watch-namespaces", "--env-credentials-namespaces", "--credential-sources",
		"--api-qps", "--kube-api-qps"} {
		if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, absent+"=") }) {
			t.Errorf("default args pass %s: %v", absent, args)
		}
	}
	for _, want := range []string{"--leader-elect", "--share-limit=50", "--resync-period=10m",
		"--metrics-bind-address=:8443"} {
		if !slices.Contains(args, want) {
			t.Errorf("default args lack %s: %v", want, args)
		}
	}

	dryRun(t, manifest, releaseNamespace)
}

// TestChartAllOptions renders ci/all-options-values.yaml: the namespaced mode, env credentials
// from a Secret, a ServiceMonitor and the PrometheusRule.
func TestChartAllOptions(t *testing.T) {
	manifest := render(t, "-f", allOptionsValues())
	objs := objects(t, manifest)

	checkCRDs(t, objs, true)
	for _, kind := range []string{"ClusterRole", "ClusterRoleBinding"} {
		if len(find(objs, kind, managerRole, "")) != 0 {
			t.Errorf("the namespaced install has a %s %s", kind, managerRole)
		}
	}
	for _, o := range find(objs, "ClusterRole", "", "") {
		if strings.Contains(rulesOf(t, o), "secrets") {
			t.Errorf("ClusterRole %s grants access to Secrets in the namespaced install", o.GetName())
		}
	}
	for _, ns := range []string{"team-a", "team-b"} {
		role := one(t, objs, "Role", managerRole, ns)
		if got, want := rulesOf(t, role), generatedRules(t); got != want {
			t.Errorf("Role %s/%s rules differ from config/rbac/role.yaml:\n%s\nwant:\n%s", ns, managerRole, got, want)
		}
		if verbs := secretVerbs(role); !slices.Equal(verbs, []string{"get", "update"}) {
			t.Errorf("Role %s/%s grants %v on Secrets, want [get update]", ns, managerRole, verbs)
		}
		one(t, objs, "RoleBinding", managerRole, ns)
	}
	if roles := find(objs, "Role", managerRole, releaseNamespace); len(roles) != 0 {
		t.Errorf("the release namespace, not watched, has a manager Role")
	}

	c := managerContainer(t, objs)
	if c["image"] != "registry.example.com/platform/imageshare-operator:1.2.3" {
		t.Errorf("image = %v", c["image"])
	}
	args := stringsOf(c["args"])
	for _, want := range []string{"--share-limit=500", "--api-qps=5", "--resync-period=30m",
		"--regions=ap-guangzhou,ap-shanghai,ap-beijing", "--watch-namespaces=team-a,team-b",
		"--env-credentials-namespaces=team-a", "--credential-sources=env,oidc", "--kube-api-qps=50",
		"--kube-api-burst=100", "--max-concurrent-reconciles=8", "--zap-log-level=debug"} {
		if !slices.Contains(args, want) {
			t.Errorf("args lack %s: %v", want, args)
		}
	}
	env := map[string]string{}
	for _, e := range c["env"].([]any) {
		m := e.(map[string]any)
		ref, _, _ := unstructured.NestedString(m, "valueFrom", "secretKeyRef", "name")
		env[m["name"].(string)] = ref
	}
	for _, name := range []string{"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SECURITY_TOKEN"} {
		if env[name] != "imageshare-manager-credentials" {
			t.Errorf("env %s is not read from the Secret imageshare-manager-credentials: %v", name, env)
		}
	}

	one(t, objs, "ServiceMonitor", fullname, releaseNamespace)
	checkAlerts(t, one(t, objs, "PrometheusRule", fullname, releaseNamespace))

	dryRun(t, manifest, releaseNamespace, "team-a", "team-b")
}

// TestChartToggles checks the switches that remove objects.
func TestChartToggles(t *testing.T) {
	checkCRDs(t, objects(t, render(t, "--set", "crds.keep=false")), false)
	noCRDs := objects(t, render(t, "--set", "crds.enabled=false"))
	if crds := find(noCRDs, "CustomResourceDefinition", "", ""); len(crds) != 0 {
		t.Errorf("crds.enabled=false still renders %d CRDs", len(crds))
	}
	objs := objects(t, render(t, "--set", "metrics.enabled=false"))
	if len(find(objs, "Service", "", "")) != 0 || len(find(objs, "ClusterRole", fullname+"-metrics-auth", "")) != 0 {
		t.Error("metrics.enabled=false still renders the metrics Service or its auth ClusterRole")
	}
	// values.schema.json rejects what the manager would: a misspelt key, an unknown credential source.
	for _, bad := range []string{"watchNamespaces={*}", "watchNamespace=team-a", "credentialSources={envv}",
		"cvmScheme=ftp"} {
		if out, err := run(t, helmPath(t), "template", "rel", chartDir(), "--set", bad); err == nil {
			t.Errorf("--set %s rendered; want an error:\n%s", bad, out)
		}
	}
}

// checkCRDs checks that the chart renders every CRD of config/crd/bases, with or without the
// helm.sh/resource-policy: keep annotation.
func checkCRDs(t *testing.T, objs []*unstructured.Unstructured, keep bool) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(projectRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := objects(t, string(data))[0].GetName()
		crd := one(t, objs, "CustomResourceDefinition", name, "")
		if got := crd.GetAnnotations()["helm.sh/resource-policy"] == "keep"; got != keep {
			t.Errorf("CRD %s has helm.sh/resource-policy: keep = %v, want %v", name, got, keep)
		}
	}
}

// checkAlerts checks the four alerts and the metrics they query.
func checkAlerts(t *testing.T, rule *unstructured.Unstructured) {
	t.Helper()
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	exprs := map[string]string{}
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			m := r.(map[string]any)
			exprs[m["alert"].(string)] = m["expr"].(string)
		}
	}
	want := map[string]string{
		"ImageShareStalled":     "imageshare_objects{reason=~",
		"ImageShareThrottled":   "imageshare_cloud_throttled_total",
		"ImageShareCircuitOpen": "imageshare_circuit_open",
		"ImageShareCloudErrors": "imageshare_cloud_api_calls_total",
	}
	for alert, metric := range want {
		if !strings.Contains(exprs[alert], metric) {
			t.Errorf("alert %s does not query %s: %q", alert, metric, exprs[alert])
		}
	}
	if len(exprs) != len(want) {
		t.Errorf("PrometheusRule has alerts %v, want %v", exprs, want)
	}
}

// chartMeta is the part of Chart.yaml the tests read.
type chartMeta struct {
	Version    string `json:"version"`
	AppVersion string `json:"appVersion"`
}

func readChart(t *testing.T) chartMeta {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir(), "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c chartMeta
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("parse Chart.yaml: %v", err)
	}
	return c
}

// managerContainer returns the Deployment's manager container.
func managerContainer(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
	t.Helper()
	d := one(t, objs, "Deployment", fullname, releaseNamespace)
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		if m := c.(map[string]any); m["name"] == "manager" {
			return m
		}
	}
	t.Fatal("the Deployment has no manager container")
	return nil
}

// secretVerbs returns the verbs a Role grants on Secrets.
func secretVerbs(role *unstructured.Unstructured) []string {
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	var verbs []string
	for _, r := range rules {
		m := r.(map[string]any)
		if slices.Contains(stringsOf(m["resources"]), "secrets") {
			verbs = append(verbs, stringsOf(m["verbs"])...)
		}
	}
	slices.Sort(verbs)
	return verbs
}

// stringsOf converts a decoded YAML list of strings.
func stringsOf(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, s.(string))
	}
	return out
}
