package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// opsObjects are two ImageShares holding the manager's finalizer and a credential Secret holding
// the in-use finalizer beside someone else's, as a cluster looks when the manager is gone.
const opsObjects = `apiVersion: v1
kind: Namespace
metadata: {name: ops}
---
apiVersion: v1
kind: Secret
metadata:
  name: tencent-credentials
  namespace: ops
  finalizers: [example.com/backup, cvm.imageshare.dev/in-use]
stringData: {secretId: AKIDexample, secretKey: example}
---
apiVersion: cvm.imageshare.dev/v1alpha1
kind: ImageShare
metadata: {name: web-base, namespace: ops, finalizers: [cvm.imageshare.dev/finalizer]}
spec: {imageId: img-aaaa0001, region: ap-guangzhou, accountIds: ["100000000002"], deletionPolicy: Delete}
---
apiVersion: cvm.imageshare.dev/v1alpha1
kind: ImageShare
metadata: {name: api-base, namespace: ops, finalizers: [cvm.imageshare.dev/finalizer]}
spec: {imageId: img-eeee0005, region: ap-guangzhou, accountIds: ["100000000004"], mode: Exclusive}
`

// TestOperationsSnippets runs the shell snippets of docs/operations.md that switch every
// ImageShare to Orphan and remove the operator's finalizers, against a real API server, so the
// commands a user copies when uninstalling are known to work.
func TestOperationsSnippets(t *testing.T) {
	c := sharedControlPlane(t)
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := run(t, c.KubectlPath, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	manifest := filepath.Join(t.TempDir(), "ops.yaml")
	if err := os.WriteFile(manifest, []byte(opsObjects), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl("apply", "-f", filepath.Join(projectRoot(), "config", "crd", "bases"))
	kubectl("wait", "--for=condition=Established", "crd/imageshares.cvm.imageshare.dev", "--timeout=60s")
	kubectl("apply", "-f", manifest)

	doc, err := os.ReadFile(filepath.Join(projectRoot(), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := shellBlocks(string(doc))
	snippet := func(marker string) string {
		t.Helper()
		i := slices.IndexFunc(blocks, func(b string) bool { return strings.Contains(b, marker) })
		if i < 0 {
			t.Fatalf("docs/operations.md has no sh block containing %q", marker)
		}
		return blocks[i]
	}
	shell := func(script string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", "-c", script)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig,
			"PATH="+filepath.Dir(c.KubectlPath)+string(os.PathListSeparator)+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v running:\n%s\n%s", err, script, out)
		}
	}

	shell(snippet(`"deletionPolicy":"Orphan"`))
	for _, name := range []string{"web-base", "api-base"} {
		if got := kubectl("get", "imageshare", name, "-n", "ops", "-o", "jsonpath={.spec.deletionPolicy}"); got != "Orphan" {
			t.Errorf("after the Orphan snippet, %s has deletionPolicy %q", name, got)
		}
	}

	shell(snippet(`"finalizers":null`))
	for _, name := range []string{"web-base", "api-base"} {
		if got := kubectl("get", "imageshare", name, "-n", "ops", "-o", "jsonpath={.metadata.finalizers}"); got != "" {
			t.Errorf("after the finalizer snippet, %s has finalizers %s", name, got)
		}
	}
	shell(snippet(`grep 'cvm.imageshare.dev/in-use'`))
	got := kubectl("get", "secret", "tencent-credentials", "-n", "ops", "-o", "jsonpath={.metadata.finalizers}")
	if got != `["example.com/backup"]` {
		t.Errorf("after the Secret snippet, the Secret has finalizers %s, want only example.com/backup", got)
	}
	kubectl("delete", "namespace", "ops", "--wait=false")
}

// shellBlocks returns the bodies of the ```sh blocks of a Markdown document.
func shellBlocks(doc string) []string {
	matches := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(doc, -1)
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		out = append(out, m[1])
	}
	return out
}
