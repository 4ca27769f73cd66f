package chart

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestInstaller renders the release bundle as `make build-installer VERSION=9.9.9` does (its
// installer step, into a temporary file) and checks the image tag and that the working tree
// is left as it was.
func TestInstaller(t *testing.T) {
	kustomization := filepath.Join(projectRoot(), "config", "manager", "kustomization.yaml")
	before, err := os.ReadFile(kustomization)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "install.yaml")
	if out, err := run(t, "make", "--no-print-directory", "-C", projectRoot(), "installer",
		"VERSION=9.9.9", "INSTALLER="+path); err != nil {
		t.Fatalf("make installer: %v\n%s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t, string(data))
	d := one(t, objs, "Deployment", "imageshare-operator-controller-manager", "imageshare-operator-system")
	c := d.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0]
	if image := c.(map[string]any)["image"]; image != "ghcr.io/imageshare/imageshare-operator:9.9.9" {
		t.Errorf("install.yaml runs image %v, want ghcr.io/imageshare/imageshare-operator:9.9.9", image)
	}
	after, err := os.ReadFile(kustomization)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("make installer changed config/manager/kustomization.yaml")
	}
}

// TestManagerVersion builds the manager with the version stamped in, as the Makefile and the
// Dockerfile do (without the Dockerfile's -trimpath, which would rebuild every package instead
// of linking from the build cache), and checks that --version prints it and exits.
func TestManagerVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "manager")
	pkg := "github.com/imageshare/imageshare-operator/internal/version"
	if out, err := run(t, "go", "build", "-C", projectRoot(), "-o", bin,
		"-ldflags", "-X "+pkg+".Version=9.9.9 -X "+pkg+".Revision=0123abc", "./cmd"); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := run(t, bin, "--version")
	if err != nil {
		t.Fatalf("manager --version: %v\n%s", err, out)
	}
	want := "imageshare-operator 9.9.9 (revision 0123abc, " + runtime.Version() + ")\n"
	if out != want {
		t.Errorf("manager --version printed %q, want %q", out, want)
	}
}

// TestArgoCDSnippet checks that the chart's README documents the Argo CD health check as it is
// in config/argocd (the script the gitops tests run), so the snippet cannot go stale.
func TestArgoCDSnippet(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(projectRoot(), "config", "argocd", "cvm.imageshare.dev",
		"ImageShare", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const indent = "      "
	var want strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(string(script), "\n"), "\n") {
		if line == "" {
			want.WriteString("\n")
		} else {
			want.WriteString(indent + line + "\n")
		}
	}
	if !strings.Contains(string(readme), want.String()) {
		t.Errorf("dist/chart/README.md does not contain config/argocd/.../health.lua indented by %d spaces; "+
			"copy it again", len(indent))
	}
}
