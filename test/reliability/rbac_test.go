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

package reliability

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// grant is one permission the manager needs.
type grant struct {
	group, resource string
	// verbs are the verbs the manager uses; tolerated are scaffold extras
	// allowed to remain in the file (never applied in these tests).
	verbs, tolerated []string
	// namespaced grants belong in the leader election Role, not the ClusterRole.
	namespaced bool
	why        string
}

// managerNeeds is everything the manager does with the API server, and why.
// The manager processes of this package run with exactly these verbs (see
// installRBAC), so every test here shows they suffice.
var managerNeeds = []grant{
	{group: "", resource: "secrets", verbs: []string{"get", "update"},
		why: "credentialsRef: one direct GET in the object's namespace; no list, no watch, no cache; " +
			"update only for the in-use finalizer"},
	{group: "cvm.imageshare.dev", resource: "imageshares",
		verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"},
		why:   "the informer (list, watch), finalizer patches; a policy creates, updates and deletes its children"},
	{group: "cvm.imageshare.dev", resource: "imageshares/status", verbs: []string{"get", "patch", "update"},
		why: "status patches"},
	{group: "cvm.imageshare.dev", resource: "imageshares/finalizers", verbs: []string{"update"},
		why: "setting the finalizer where OwnerReferencesPermissionEnforcement is on"},
	// The ImageSharePolicy controller (internal/policy, issue #15).
	{group: "cvm.imageshare.dev", resource: "imagesharepolicies", verbs: []string{"get", "list", "update", "watch"},
		why: "the policy informer (list, watch), its finalizer (update)"},
	{group: "cvm.imageshare.dev", resource: "imagesharepolicies/status", verbs: []string{"get", "patch", "update"},
		why: "policy status patches"},
	{group: "cvm.imageshare.dev", resource: "imagesharepolicies/finalizers", verbs: []string{"update"},
		why: "owner references to the policy where OwnerReferencesPermissionEnforcement is on"},
	{group: "", resource: "configmaps", verbs: []string{"create", "get", "list", "update", "watch"},
		why: "spec.accountsFrom: a metadata-only informer (list, watch) so an edit re-plans, then one direct " +
			"GET for the data (no cache of ConfigMap data); spec.publish (ImageShare and ImageSharePolicy): " +
			"create and update the owned ConfigMap"},
	{group: "events.k8s.io", resource: "events", verbs: []string{"create", "patch"}, why: "the controller's events"},
	{group: "coordination.k8s.io", resource: "leases", verbs: []string{"create", "get", "update"},
		tolerated: []string{"delete", "list", "patch", "watch"}, namespaced: true,
		why: "leader election (client-go's LeaseLock gets, creates and updates its Lease)"},
	{group: "", resource: "events", verbs: []string{"create", "patch"}, namespaced: true,
		why: "leader election's own events (LeaderElection)"},
	{group: "authentication.k8s.io", resource: "tokenreviews", verbs: []string{"create"},
		why: "authenticating /metrics callers"},
	{group: "authorization.k8s.io", resource: "subjectaccessreviews", verbs: []string{"create"},
		why: "authorizing /metrics callers"},
}

func needFor(group, resource string) *grant {
	for i := range managerNeeds {
		if managerNeeds[i].group == group && managerNeeds[i].resource == resource {
			return &managerNeeds[i]
		}
	}
	return nil
}

// neededOnly keeps, of rules, only the verbs managerNeeds lists.
func neededOnly(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				need := needFor(g, res)
				if need == nil {
					continue
				}
				var verbs []string
				for _, v := range r.Verbs {
					if slices.Contains(need.verbs, v) {
						verbs = append(verbs, v)
					}
				}
				if len(verbs) > 0 {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{res}, Verbs: verbs})
				}
			}
		}
	}
	return out
}

// TestLeastPrivilege reads the RBAC, Deployment and metrics configuration the
// operator ships and holds them to least privilege.
func TestLeastPrivilege(t *testing.T) {
	rbacDir := filepath.Join(root, "config", "rbac")
	roles, bound := managerRoles(t, rbacDir)
	granted := map[[2]string][]string{}
	for _, name := range bound {
		role, ok := roles[name]
		if !ok {
			t.Errorf("a binding of the manager's service account names role %q, which config/rbac does not define", name)
			continue
		}
		for _, r := range role.rules {
			checkRule(t, role, r, granted)
		}
	}
	for _, need := range managerNeeds {
		got := granted[[2]string{need.group, need.resource}]
		for _, v := range need.verbs {
			if !slices.Contains(got, v) {
				t.Errorf("the manager needs %s on %s (%s), and is not granted it", v, groupResource(need.group,
					need.resource), need.why)
			}
		}
	}
	checkDeployment(t)
	checkMetricsConfig(t)
}

// role is a Role or ClusterRole read from config/rbac.
type role struct {
	file       string
	namespaced bool
	rules      []rbacv1.PolicyRule
}

// managerRoles reads every role of dir, and the names of those bound to the
// manager's service account (controller-manager).
func managerRoles(t *testing.T, dir string) (map[string]role, []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("read %s: %v", dir, err)
	}
	roles := map[string]role{}
	var bound []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Kind     string
			Metadata struct{ Name string }
			Rules    []rbacv1.PolicyRule
			RoleRef  rbacv1.RoleRef
			Subjects []rbacv1.Subject
		}
		if err := yaml.Unmarshal(data, &head); err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		switch head.Kind {
		case "ClusterRole", "Role":
			roles[head.Metadata.Name] = role{file: filepath.Base(f), namespaced: head.Kind == "Role", rules: head.Rules}
		case "ClusterRoleBinding", "RoleBinding":
			for _, s := range head.Subjects {
				if s.Kind == "ServiceAccount" && s.Name == "controller-manager" {
					bound = append(bound, head.RoleRef.Name)
				}
			}
		}
	}
	return roles, bound
}

func checkRule(t *testing.T, r role, rule rbacv1.PolicyRule, granted map[[2]string][]string) {
	t.Helper()
	for _, list := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs, rule.ResourceNames,
		rule.NonResourceURLs} {
		if slices.Contains(list, "*") {
			t.Errorf("%s: wildcard in %+v", r.file, rule)
		}
	}
	if len(rule.NonResourceURLs) > 0 {
		t.Errorf("%s: the manager needs no non-resource URLs, granted %v", r.file, rule.NonResourceURLs)
	}
	for _, g := range rule.APIGroups {
		for _, res := range rule.Resources {
			gr := groupResource(g, res)
			need := needFor(g, res)
			if need == nil {
				t.Errorf("%s grants %v on %s, which the manager never uses", r.file, rule.Verbs, gr)
				continue
			}
			if need.namespaced != r.namespaced {
				t.Errorf("%s grants %s in a %s role; it belongs in the %s", r.file, gr, kindOf(r.namespaced),
					kindOf(need.namespaced))
			}
			for _, v := range rule.Verbs {
				if !slices.Contains(need.verbs, v) && !slices.Contains(need.tolerated, v) {
					t.Errorf("%s grants %s on %s; the manager uses only %v (%s)", r.file, v, gr, need.verbs, need.why)
				}
			}
			granted[[2]string{g, res}] = append(granted[[2]string{g, res}], rule.Verbs...)
		}
	}
}

func groupResource(group, resource string) string {
	if group == "" {
		return resource
	}
	return resource + "." + group
}

func kindOf(namespaced bool) string {
	if namespaced {
		return "namespaced Role (leader election)"
	}
	return "ClusterRole"
}

// checkDeployment holds config/manager/manager.yaml to the hardened security
// context the kubebuilder scaffold ships.
func checkDeployment(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "config", "manager", "manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dep *appsv1.Deployment
	for doc := range strings.SplitSeq(string(data), "\n---") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err == nil && d.Kind == "Deployment" {
			dep = &d
		}
	}
	if dep == nil {
		t.Fatalf("config/manager/manager.yaml has no Deployment")
	}
	pod := dep.Spec.Template.Spec
	for _, p := range testenv.PodHardening(&pod) {
		t.Errorf("the manager Deployment: %s", p)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("the manager pod must not share the host's network, PID or IPC namespaces")
	}
	if pod.ServiceAccountName != "controller-manager" {
		t.Errorf("the manager pod runs as %q, not the controller-manager service account the roles are bound to",
			pod.ServiceAccountName)
	}
	if pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken {
		t.Errorf("the manager needs its service account token")
	}
	for _, c := range pod.Containers {
		checkContainer(t, c)
	}
}

// checkContainer checks what PodHardening does not: no credentials as literal values.
func checkContainer(t *testing.T, c corev1.Container) {
	t.Helper()
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "TENCENTCLOUD_") && e.Value != "" {
			t.Errorf("container %s carries %s as a literal value; use a Secret", c.Name, e.Name)
		}
	}
}

// checkMetricsConfig checks that the shipped configuration serves /metrics
// over HTTPS behind authentication and authorization.
func checkMetricsConfig(t *testing.T) {
	t.Helper()
	read := func(parts ...string) string {
		data, err := os.ReadFile(filepath.Join(append([]string{root}, parts...)...))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if k := read("config", "default", "kustomization.yaml"); !strings.Contains(k, "- path: manager_metrics_patch.yaml") {
		t.Errorf("config/default does not apply manager_metrics_patch.yaml: the metrics endpoint is off or unpatched")
	}
	if p := read("config", "default", "manager_metrics_patch.yaml"); !strings.Contains(p, "--metrics-bind-address=:8443") {
		t.Errorf("manager_metrics_patch.yaml does not bind the metrics endpoint to the HTTPS port 8443")
	}
	rbacKustomization := read("config", "rbac", "kustomization.yaml")
	for _, f := range []string{"metrics_auth_role.yaml", "metrics_auth_role_binding.yaml"} {
		if !strings.Contains(rbacKustomization, "- "+f) {
			t.Errorf("config/rbac/kustomization.yaml does not include %s: the metrics filter cannot review tokens", f)
		}
	}
	err := filepath.WalkDir(filepath.Join(root, "config"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && bytes.Contains(data, []byte("metrics-secure=false")) {
			t.Errorf("%s turns the metrics endpoint's authentication off", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	src := read("cmd", "main.go")
	if !strings.Contains(src, `"metrics-secure", true`) ||
		!strings.Contains(src, "filters.WithAuthenticationAndAuthorization") {
		t.Errorf("cmd/main.go no longer defaults --metrics-secure to true with " +
			"filters.WithAuthenticationAndAuthorization")
	}
}

// TestMetricsNeedAuth runs the manager with its default secure metrics and
// checks that /metrics answers only a caller that is both authenticated and
// authorized (the metrics-reader ClusterRole of config/rbac).
func TestMetricsNeedAuth(t *testing.T) {
	c := requireCluster(t)
	emu, err := emulator.New(&emulator.Seed{})
	if err != nil {
		t.Fatal(err)
	}
	front := startFront(t, emu)
	addr := testenv.MustFreeAddr(t)
	startManager(t, "metrics-auth", managerConfig{endpoint: front.Addr(),
		args: []string{"--metrics-bind-address=" + addr}})
	url := "https://" + addr + "/metrics"

	const ns = "metrics-probe"
	ensureNamespace(t, ns)
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		t.Fatal(err)
	}
	// Two callers: the authorizer caches a denial for a while, so the one
	// that gets metrics-reader is never denied first.
	tokenFor := func(name string) string {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if err := c.admin.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{},
			metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("request a service account token: %v", err)
		}
		return tr.Status.Token
	}
	token, readerToken := tokenFor("nosy"), tokenFor("prometheus")

	var anonymous int
	eventually(t, time.Minute, 200*time.Millisecond, func() error {
		_, code, err := getTLS(url, "")
		anonymous = code
		if err != nil {
			return err
		}
		if code != http.StatusUnauthorized && code != http.StatusForbidden {
			return fmt.Errorf("GET /metrics without a token: HTTP %d, want 401 or 403", code)
		}
		return nil
	})
	// controller-runtime's filter answers 500 when the API server cannot
	// review a token at all; what matters is that no metrics come back.
	body, code, err := getTLS(url, "not-a-token")
	if err != nil || code == http.StatusOK || strings.Contains(body, "controller_runtime") {
		t.Errorf("GET /metrics with a forged token: HTTP %d %v, want a refusal", code, err)
	}
	t.Logf("FIGURES metrics: no token: HTTP %d; forged token: HTTP %d", anonymous, code)
	if _, code, err := getTLS(url, token); err != nil || code != http.StatusForbidden {
		t.Errorf("GET /metrics with a valid token that lacks metrics-reader: HTTP %d %v, want 403", code, err)
	}

	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "metrics_reader_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	reader := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(data, reader); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "metrics-probe"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: ns}}}
	if err := c.admin.Create(ctx, reader); err != nil {
		t.Fatal(err)
	}
	if err := c.admin.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, 200*time.Millisecond, func() error {
		body, code, err := getTLS(url, readerToken)
		if err != nil || code != http.StatusOK || !strings.Contains(body, "controller_runtime_reconcile_total") {
			return fmt.Errorf("GET /metrics as metrics-reader: HTTP %d %v", code, err)
		}
		return nil
	})
}

func getTLS(url, token string) (string, int, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		// The manager serves a self-signed certificate when none is mounted.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a test against loopback
	}}
	var header http.Header
	if token != "" {
		header = http.Header{"Authorization": {"Bearer " + token}}
	}
	data, code, err := testenv.Get(context.Background(), c, url, header)
	return string(data), code, err
}
