package gitops

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/imageshare/imageshare-operator/internal/testenv"
)

// The names config/default gives the manager's objects (namePrefix imageshare-operator-).
const (
	operatorNamespace = "imageshare-operator-system"
	managerName       = "imageshare-operator-controller-manager"
	metricsService    = "imageshare-operator-controller-manager-metrics-service"
	serviceAccount    = "system:serviceaccount:" + operatorNamespace + ":" + managerName
)

// buildInstaller renders the install bundle as `make build-installer` does
// (`kustomize build config/default`, with the Makefile's pinned kustomize in
// bin/), into a temporary file instead of dist/: build-installer also runs
// `kustomize edit set image`, which rewrites config/manager/kustomization.yaml,
// and a test must not change the working tree.
func buildInstaller(t *testing.T) string {
	t.Helper()
	root := projectPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	// The Makefile's own target fetches kustomize once (go install, through the
	// Go module proxy) and is a no-op afterwards.
	if out, err := exec.CommandContext(ctx, "make", "--no-print-directory", "-C", root, "kustomize").
		CombinedOutput(); err != nil {
		t.Fatalf("make kustomize: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	build := exec.CommandContext(ctx, filepath.Join(root, "bin", "kustomize"), "build",
		filepath.Join(root, "config", "default"))
	build.Stdout, build.Stderr = &stdout, &stderr
	if err := build.Run(); err != nil {
		t.Fatalf("kustomize build config/default: %v\n%s", err, stderr.String())
	}
	path := filepath.Join(t.TempDir(), "install.yaml")
	if err := os.WriteFile(path, stdout.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// bundleObjects splits the bundle into its objects.
func bundleObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read install.yaml: %v", err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, err := decodeObject(doc)
		if err != nil {
			t.Fatalf("install.yaml: %v", err)
		}
		objs = append(objs, obj)
	}
	return objs
}

// TestInstallBundle applies the install bundle to a real API server with
// server-side apply, as Argo CD (ServerSideApply=true) and Flux do, and checks
// that every object is accepted as written.
func TestInstallBundle(t *testing.T) {
	c := controlPlane(t)
	path := buildInstaller(t)
	objs := bundleObjects(t, path)

	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	for _, kind := range []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole",
		"ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service"} {
		if kinds[kind] == 0 {
			t.Errorf("install.yaml has no %s (it has %v)", kind, kinds)
		}
	}

	out := kubectl(t, c, "apply", "--server-side", "-f", path)
	applied := strings.Split(strings.TrimSpace(out), "\n")
	if len(applied) != len(objs) {
		t.Errorf("kubectl applied %d objects, install.yaml has %d:\n%s", len(applied), len(objs), out)
	}
	for _, line := range applied {
		if !strings.HasSuffix(line, " serverside-applied") {
			t.Errorf("not applied: %q", line)
		}
	}
	// Every object is there, as the API server stored it.
	for _, o := range objs {
		args := []string{"get", o.GetKind() + "." + o.GroupVersionKind().Group, o.GetName(), "-o", "name"}
		if o.GroupVersionKind().Group == "" {
			args[1] = o.GetKind()
		}
		if o.GetNamespace() != "" {
			args = append(args, "-n", o.GetNamespace())
		}
		kubectl(t, c, args...)
	}
	// A second apply changes nothing (no object gets a new resourceVersion), so
	// a GitOps tool syncing the bundle again and again never flaps.
	before := resourceVersions(t, c, path)
	if len(before) != len(objs) {
		t.Errorf("kubectl get -f install.yaml found %d objects, install.yaml has %d", len(before), len(objs))
	}
	kubectl(t, c, "apply", "--server-side", "-f", path)
	if after := resourceVersions(t, c, path); !maps.Equal(before, after) {
		t.Errorf("a second apply changed objects:\nbefore %v\nafter  %v", before, after)
	}

	checkDeployment(t, c)
	checkMetricsService(t, c)
	checkManagerRBAC(t, c)
}

// resourceVersions maps each object of the bundle to its stored resourceVersion.
func resourceVersions(t *testing.T, c *testenv.ControlPlane, path string) map[string]string {
	t.Helper()
	var list unstructured.UnstructuredList
	out := kubectl(t, c, "get", "-f", path, "-o", "json")
	if err := list.UnmarshalJSON([]byte(out)); err != nil {
		t.Fatalf("decode kubectl get -f: %v", err)
	}
	versions := map[string]string{}
	for _, o := range list.Items {
		versions[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = o.GetResourceVersion()
	}
	return versions
}

// checkDeployment asserts the scaffold's hardened security context survived
// into the stored Deployment.
func checkDeployment(t *testing.T, c *testenv.ControlPlane) {
	t.Helper()
	var d appsv1.Deployment
	getJSON(t, c, &d, "deployment", managerName, "-n", operatorNamespace)
	if len(d.Spec.Template.Spec.Containers) == 0 {
		t.Fatal("the Deployment has no container")
	}
	for _, p := range testenv.PodHardening(&d.Spec.Template.Spec) {
		t.Errorf("the stored Deployment: %s", p)
	}
	if d.Spec.Template.Spec.ServiceAccountName != managerName {
		t.Errorf("the Deployment runs as %q, want %q", d.Spec.Template.Spec.ServiceAccountName, managerName)
	}
}

// checkMetricsService asserts the metrics Service selects the manager's pods
// on the port the manager serves metrics on.
func checkMetricsService(t *testing.T, c *testenv.ControlPlane) {
	t.Helper()
	var svc corev1.Service
	getJSON(t, c, &svc, "service", metricsService, "-n", operatorNamespace)
	var d appsv1.Deployment
	getJSON(t, c, &d, "deployment", managerName, "-n", operatorNamespace)
	if len(svc.Spec.Selector) == 0 {
		t.Fatal("the metrics Service selects nothing")
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the metrics Service selects %s=%s, which the manager's pods do not carry", k, v)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8443 {
		t.Errorf("metrics Service ports %+v, want 8443 (https)", svc.Spec.Ports)
	}
	args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	if !strings.Contains(args, "--metrics-bind-address=:8443") {
		t.Errorf("the manager does not serve metrics on :8443 (args %s)", args)
	}
}

// checkManagerRBAC asks the API server what the manager's ServiceAccount may
// do: what contract §2 says it needs, and no cluster-wide read of Secrets.
func checkManagerRBAC(t *testing.T, c *testenv.ControlPlane) {
	t.Helper()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "secrets", "-n", "team-a"}, "yes"},
		{[]string{"list", "secrets", "-n", "team-a"}, "no"},
		{[]string{"watch", "secrets", "-A"}, "no"},
		{[]string{"list", "imageshares.cvm.imageshare.dev", "-A"}, "yes"},
		{[]string{"watch", "imageshares.cvm.imageshare.dev", "-A"}, "yes"},
		{[]string{"patch", "imageshares.cvm.imageshare.dev", "--subresource=status", "-n", "team-a"}, "yes"},
		{[]string{"update", "imageshares.cvm.imageshare.dev", "--subresource=finalizers", "-n", "team-a"}, "yes"},
		{[]string{"create", "events.events.k8s.io", "-n", "team-a"}, "yes"},
		{[]string{"create", "leases.coordination.k8s.io", "-n", operatorNamespace}, "yes"},
	} {
		args := append([]string{"auth", "can-i", "--as=" + serviceAccount}, tc.args...)
		// can-i exits 1 for "no"; its answer is on stdout either way.
		out, _ := kubectlErr(t, c, args...)
		if got := strings.TrimSpace(out); got != tc.want {
			t.Errorf("can the manager %s? %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}

// TestArgoConfigMapPatchApplies applies the argocd-cm snippet the way its
// comment tells users to, onto an argocd-cm that already has settings.
func TestArgoConfigMapPatchApplies(t *testing.T) {
	c := controlPlane(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "argocd-cm.yaml")
	if err := os.WriteFile(existing, []byte(`apiVersion: v1
kind: Namespace
metadata:
  name: argocd
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
data:
  url: https://argocd.example.com
`), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl(t, c, "apply", "-f", existing)
	kubectl(t, c, "-n", "argocd", "patch", "configmap", "argocd-cm", "--type", "merge",
		"--patch-file", projectPath(t, "config", "argocd", "argocd-cm-patch.yaml"))
	var cm corev1.ConfigMap
	getJSON(t, c, &cm, "configmap", "argocd-cm", "-n", "argocd")
	if cm.Data["url"] != "https://argocd.example.com" {
		t.Errorf("the patch lost an existing setting: %v", cm.Data)
	}
	for key, script := range argoHealthScripts(t) {
		if cm.Data[key] != script {
			t.Errorf("after the patch, %s is not its health.lua:\n%s", key, cm.Data[key])
		}
	}
}

// TestApplicationExample checks the example Applications point at what this
// repository has.
func TestApplicationExample(t *testing.T) {
	objs := bundleObjects(t, projectPath(t, "config", "argocd", "application.yaml"))
	if len(objs) != 2 {
		t.Fatalf("application.yaml has %d objects, want the operator's and a team's Application", len(objs))
	}
	for _, o := range objs {
		if o.GetAPIVersion() != "argoproj.io/v1alpha1" || o.GetKind() != "Application" {
			t.Errorf("%s: %s %s, want an argoproj.io/v1alpha1 Application", o.GetName(), o.GetAPIVersion(), o.GetKind())
		}
		for _, field := range [][]string{{"spec", "source", "repoURL"}, {"spec", "source", "path"},
			{"spec", "destination", "server"}, {"spec", "destination", "namespace"}, {"spec", "project"}} {
			if v, _, _ := unstructured.NestedString(o.Object, field...); v == "" {
				t.Errorf("%s: %s is empty", o.GetName(), strings.Join(field, "."))
			}
		}
	}
	operator := objs[0]
	path, _, _ := unstructured.NestedString(operator.Object, "spec", "source", "path")
	if _, err := os.Stat(projectPath(t, path, "kustomization.yaml")); err != nil {
		t.Errorf("the operator Application installs %s, which is not a kustomization here: %v", path, err)
	}
	ns, _, _ := unstructured.NestedString(operator.Object, "spec", "destination", "namespace")
	if ns != operatorNamespace {
		t.Errorf("the operator Application deploys to %s, but config/default uses %s", ns, operatorNamespace)
	}
	images, _, _ := unstructured.NestedStringSlice(operator.Object, "spec", "source", "kustomize", "images")
	if len(images) != 1 || !strings.HasPrefix(images[0], "controller=") {
		t.Errorf("the operator Application must set the manager image (controller=<image>), has %v", images)
	}
}

func kubectl(t *testing.T, c *testenv.ControlPlane, args ...string) string {
	t.Helper()
	out, err := kubectlErr(t, c, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kubectlErr runs kubectl, bounded by testenv's kubectl timeout, and returns its output.
func kubectlErr(t *testing.T, c *testenv.ControlPlane, args ...string) (string, error) {
	out, _, err := c.Kubectl(t.Context(), args...)
	return out, err
}

// getJSON reads an object with kubectl into v.
func getJSON(t *testing.T, c *testenv.ControlPlane, v any, args ...string) {
	t.Helper()
	out := kubectl(t, c, append(append([]string{"get"}, args...), "-o", "json")...)
	if err := yaml.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decode kubectl get %v: %v", args, err)
	}
}
