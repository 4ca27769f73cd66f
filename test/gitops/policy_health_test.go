package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// The ImageSharePolicy health check (issue #15) is the ImageShare script: both
// kinds write the same kstatus triad. These tests run its own health_test.yaml
// the way TestHealthLua runs ImageShare's, and hold kstatus to the same verdicts.

func policyCustomizationDir(t *testing.T) string {
	return projectPath(t, "config", "argocd", "cvm.imageshare.dev", "ImageSharePolicy")
}

// kstatusFor is the kstatus verdict each Argo CD health status corresponds to.
var kstatusFor = map[string]status.Status{
	"Healthy": status.CurrentStatus, "Degraded": status.FailedStatus, "Progressing": status.InProgressStatus,
}

func TestPolicyHealthLua(t *testing.T) {
	dir := policyCustomizationDir(t)
	script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	if string(script) != healthScript(t) {
		t.Error("ImageSharePolicy/health.lua differs from ImageShare/health.lua: it should be a link to it")
	}
	// One script, not a copy a later edit could leave behind.
	if target, err := os.Readlink(filepath.Join(dir, "health.lua")); err != nil ||
		target != filepath.Join("..", "ImageShare", "health.lua") {
		t.Errorf("ImageSharePolicy/health.lua is not a link to ../ImageShare/health.lua (%q, %v)", target, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests healthTests
	if err := yaml.UnmarshalStrict(data, &tests); err != nil {
		t.Fatalf("parse health_test.yaml: %v", err)
	}
	if len(tests.Tests) == 0 {
		t.Fatal("health_test.yaml lists no tests")
	}
	for _, tc := range tests.Tests {
		t.Run(tc.InputPath, func(t *testing.T) {
			if !strings.HasPrefix(tc.InputPath, "testdata/") {
				t.Fatalf("inputPath %q is not testdata/<situation>.yaml", tc.InputPath)
			}
			raw, err := os.ReadFile(filepath.Join(dir, tc.InputPath))
			if err != nil {
				t.Fatal(err)
			}
			obj, err := decodeObject(raw)
			if err != nil {
				t.Fatal(err)
			}
			if obj.GetKind() != "ImageSharePolicy" {
				t.Fatalf("kind %s, want ImageSharePolicy", obj.GetKind())
			}
			got, err := argoHealth(string(script), obj)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.HealthStatus {
				t.Errorf("health.lua returned\n  %+v\nhealth_test.yaml expects\n  %+v", got, tc.HealthStatus)
			}
			ks, err := kstatusOf(obj)
			if err != nil {
				t.Fatal(err)
			}
			if want := kstatusFor[got.Status]; ks.Status != want && obj.GetDeletionTimestamp() == nil {
				t.Errorf("kstatus says %s (%s), Argo CD %s: want %s", ks.Status, ks.Message, got.Status, want)
			}
		})
	}
}
