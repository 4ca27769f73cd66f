package chart

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/imageshare/imageshare-operator/internal/testenv"
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
	checkBuildInfo(t, bin)
}

// checkBuildInfo runs the manager against the control plane and checks that it logs its version
// at start and exports imageshare_build_info on /metrics.
func checkBuildInfo(t *testing.T, bin string) {
	t.Helper()
	c := sharedControlPlane(t)
	if out, err := run(t, c.KubectlPath, "--kubeconfig", c.Kubeconfig, "apply", "-f",
		filepath.Join(projectRoot(), "config", "crd", "bases")); err != nil {
		t.Fatalf("install the CRD: %v\n%s", err, out)
	}
	metricsAddr, probeAddr := testenv.MustFreeAddr(t), testenv.MustFreeAddr(t)
	var logs bytes.Buffer
	cmd := exec.CommandContext(t.Context(), bin, "--metrics-bind-address="+metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address="+probeAddr)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	want := `imageshare_build_info{goversion="` + runtime.Version() + `",revision="0123abc",version="9.9.9"} 1`
	var body string
	_ = testenv.Eventually(t.Context(), time.Minute, 200*time.Millisecond, func() error {
		if body = scrape(t, "http://"+metricsAddr+"/metrics"); !strings.Contains(body, want) {
			return errors.New("no build info yet") // the check below says what is missing
		}
		return nil
	})
	// The log is read only after the process is gone: exec copies into it until then.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if !strings.Contains(body, want) {
		t.Fatalf("/metrics has no %s:\n%s\nmanager log:\n%s", want, body, logs.String())
	}
	if !strings.Contains(logs.String(), "Starting imageshare-operator") || !strings.Contains(logs.String(), "9.9.9") {
		t.Errorf("the manager did not log its version at start:\n%s", logs.String())
	}
}

// scrape returns the body of a GET, or "" while the server is not up.
func scrape(t *testing.T, url string) string {
	t.Helper()
	data, _, _ := testenv.Get(t.Context(), nil, url, nil)
	return string(data)
}

// TestArgoCDSnippet checks that the chart's README documents the Argo CD health checks as they are
// in config/argocd (the scripts the gitops tests run), under the keys of both kinds, so the snippet
// cannot go stale: the README's values block is parsed as Helm would, YAML alias included.
func TestArgoCDSnippet(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(chartDir(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const key = "resource.customizations.health.cvm.imageshare.dev_"
	var block string
	for part := range strings.SplitSeq(string(readme), "```yaml\n") {
		if body, _, ok := strings.Cut(part, "```"); ok && strings.Contains(body, key) {
			block = body
		}
	}
	var values struct {
		Configs struct {
			CM map[string]string `json:"cm"`
		} `json:"configs"`
	}
	if err := yaml.Unmarshal([]byte(block), &values); err != nil {
		t.Fatalf("dist/chart/README.md's Argo CD values block does not parse: %v", err)
	}
	for _, kind := range []string{"ImageShare", "ImageSharePolicy"} {
		script, err := os.ReadFile(filepath.Join(projectRoot(), "config", "argocd", "cvm.imageshare.dev",
			kind, "health.lua"))
		if err != nil {
			t.Fatal(err)
		}
		if got := values.Configs.CM[key+kind]; got != string(script) {
			t.Errorf("dist/chart/README.md's configs.cm[%s%s] is not config/argocd/cvm.imageshare.dev/%s/health.lua; "+
				"copy it again", key, kind, kind)
		}
	}
}
