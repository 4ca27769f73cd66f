package main

import (
	"context"
	"os"
	"os/exec"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/flagdoc"
)

const readmePath = "../README.md"

// TestREADMEFlags checks that README.md's flag table is what `make readme-flags` writes from the
// manager's --help now: every flag, its type, default and usage.
func TestREADMEFlags(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	help, err := flagdoc.Help(ctx, "..")
	if err != nil {
		t.Fatal(err)
	}
	flags, err := flagdoc.Parse(help)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := flagdoc.Section(string(doc))
	if err != nil {
		t.Fatalf("README.md: %v; run make readme-flags", err)
	}
	want := flagdoc.Table(flags)
	if got == want {
		return
	}
	gotRows, wantRows := strings.Split(got, "\n"), strings.Split(want, "\n")
	for _, row := range wantRows {
		if !slices.Contains(gotRows, row) {
			t.Errorf("README.md lacks the row %s", row)
		}
	}
	for _, row := range gotRows {
		if !slices.Contains(wantRows, row) {
			t.Errorf("README.md has a row the manager's --help does not print: %s", row)
		}
	}
	t.Errorf("README.md's flag table is stale (or out of order): run make readme-flags")
}

// TestREADMEExample checks that the ImageShare example under "## An ImageShare" in README.md is a
// valid object that sets every spec field, so that it shows all of them.
func TestREADMEExample(t *testing.T) {
	doc, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## An ImageShare\n")
	if !ok {
		t.Fatal(`README.md has no section "## An ImageShare"`)
	}
	_, block, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		t.Fatal(`README.md's section "An ImageShare" has no yaml block`)
	}
	block, _, _ = strings.Cut(block, "```")
	var obj cvmv1alpha1.ImageShare
	if err := yaml.UnmarshalStrict([]byte(block), &obj); err != nil {
		t.Fatalf("README.md's ImageShare example: %v", err)
	}
	if obj.Kind != "ImageShare" || obj.APIVersion != cvmv1alpha1.GroupVersion.String() {
		t.Errorf("README.md's example is a %s %s", obj.APIVersion, obj.Kind)
	}
	if obj.Spec.CredentialsRef == nil {
		t.Fatal("README.md's ImageShare example does not set credentialsRef")
	}
	for _, v := range []any{obj.Spec, *obj.Spec.CredentialsRef} {
		val := reflect.ValueOf(v)
		for i := range val.NumField() {
			if val.Field(i).IsZero() {
				name, _, _ := strings.Cut(val.Type().Field(i).Tag.Get("json"), ",")
				t.Errorf("README.md's ImageShare example does not set %s.%s", val.Type().Name(), name)
			}
		}
	}
}

// TestREADMELayout checks that README.md's layout table names every top-level directory and every
// package under internal/ of the checkout (a nested package may be named in its parent's row).
func TestREADMELayout(t *testing.T) {
	out, err := exec.Command("git", "-C", "..", "ls-files").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	doc, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(doc), "\n## Layout\n")
	if !ok {
		t.Fatal(`README.md has no section "## Layout"`)
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	seen := map[string]bool{}
	for file := range strings.Lines(string(out)) {
		dir := path.Dir(strings.TrimSpace(file))
		top, _, _ := strings.Cut(dir, "/")
		var want []string
		switch {
		case dir == ".":
			continue
		case seen[dir]:
			continue
		case strings.HasPrefix(dir, "internal/") && strings.HasSuffix(file, ".go\n"):
			// internal/x/ in a row of its own, or x/ in its parent's.
			want = []string{"`" + dir + "/`", "`" + path.Base(dir) + "/`"}
		case !seen[top]:
			dir, want = top, []string{"`" + top + "/"}
		default:
			continue
		}
		seen[dir] = true
		if !slices.ContainsFunc(want, func(w string) bool { return strings.Contains(layout, w) }) {
			t.Errorf("README.md's layout table does not name %s/ (add a row for it)", dir)
		}
	}
}
