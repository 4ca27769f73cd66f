package chart

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// releaseNamespace is where the tests install the chart.
const releaseNamespace = "imageshare-system"

// chartDir is the chart's source.
func chartDir() string { return filepath.Join(projectRoot(), "dist", "chart") }

// allOptionsValues is the values file that sets every option.
func allOptionsValues() string { return filepath.Join(chartDir(), "ci", "all-options-values.yaml") }

// helmPath is the helm to run: $HELM (the Makefile sets it), else bin/helm as `make helm` builds it.
func helmPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("HELM")
	if path == "" {
		path = filepath.Join(projectRoot(), "bin", "helm")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no helm at %s: run `make helm` (or `make test-chart`): %v", path, err)
	}
	return path
}

// run runs a command and returns its stdout; a failure is an error carrying stderr.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	// Generous: a go build on a busy 2-core machine with a cold cache takes minutes.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.Join(err, errors.New(stderr.String()))
	}
	return stdout.String(), nil
}

// helm runs helm and fails the test if it fails.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, helmPath(t), args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// render runs helm template for release "rel" in releaseNamespace with the given extra arguments.
func render(t *testing.T, args ...string) string {
	t.Helper()
	return helm(t, append([]string{"template", "rel", chartDir(), "--namespace", releaseNamespace}, args...)...)
}

// objects splits a multi-document manifest into its objects.
func objects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("read manifest: %v", err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("parse manifest document: %v\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// find returns the objects of a kind, optionally with a name and namespace ("" matches any).
func find(objs []*unstructured.Unstructured, kind, name, namespace string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) &&
			(namespace == "" || o.GetNamespace() == namespace) {
			out = append(out, o)
		}
	}
	return out
}

// one returns the single object of a kind and name, failing the test otherwise.
func one(t *testing.T, objs []*unstructured.Unstructured, kind, name, namespace string) *unstructured.Unstructured {
	t.Helper()
	found := find(objs, kind, name, namespace)
	if len(found) != 1 {
		t.Fatalf("want one %s %s/%s, found %d", kind, namespace, name, len(found))
	}
	return found[0]
}

// dryRun applies the manifest to the control plane with kubectl apply --dry-run=server, after
// creating the namespaces it needs, and checks that the server accepted every object.
func dryRun(t *testing.T, manifest string, namespaces ...string) {
	t.Helper()
	c := sharedControlPlane(t)
	for _, ns := range namespaces {
		if out, err := run(t, c.KubectlPath, "--kubeconfig", c.Kubeconfig, "create", "namespace", ns); err != nil &&
			!strings.Contains(err.Error(), "AlreadyExists") {
			t.Fatalf("kubectl create namespace %s: %v\n%s", ns, err, out)
		}
	}
	path := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, c.KubectlPath, "--kubeconfig", c.Kubeconfig, "apply", "--dry-run=server", "-f", path)
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
	}
	want := len(objects(t, manifest))
	if got := strings.Count(out, "(server dry run)"); got != want {
		t.Errorf("the server accepted %d objects, the chart rendered %d:\n%s", got, want, out)
	}
}

// rulesOf returns an RBAC object's rules, normalized through JSON for comparison.
func rulesOf(t *testing.T, o *unstructured.Unstructured) string {
	t.Helper()
	rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
	data, err := yaml.Marshal(rules)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// generatedRules are the manager's rules as controller-gen writes them in config/rbac/role.yaml.
func generatedRules(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(projectRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return rulesOf(t, objects(t, string(data))[0])
}
