package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// healthStatus is Argo CD's health.HealthStatus, as a health.lua returns it.
type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// healthTests is the health_test.yaml format of Argo CD's resource_customizations.
type healthTests struct {
	Tests []struct {
		InputPath    string       `json:"inputPath"`
		HealthStatus healthStatus `json:"healthStatus"`
	} `json:"tests"`
}

// argoConfigMapKey is the argocd-cm key that installs the health check
// (resource.customizations.health.<group>_<kind>).
const argoConfigMapKey = "resource.customizations.health.cvm.imageshare.dev_ImageShare"

// argoPolicyConfigMapKey is the argocd-cm key of the ImageSharePolicy health check.
const argoPolicyConfigMapKey = "resource.customizations.health.cvm.imageshare.dev_ImageSharePolicy"

// validArgoStatuses are the codes Argo CD accepts from a script; anything else
// it shows as Unknown.
var validArgoStatuses = []string{"Unknown", "Progressing", "Suspended", "Healthy", "Degraded", "Missing"}

func healthScript(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(customizationDir(t), "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// decodeObject reads a `kubectl get -o yaml` document the way Argo CD holds a
// live object: unstructured, with integers as int64.
func decodeObject(data []byte) (*unstructured.Unstructured, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("convert YAML to JSON: %w", err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		return nil, fmt.Errorf("decode object: %w", err)
	}
	return u, nil
}

// argoHealth runs script the way Argo CD's util/lua VM runs an argocd-cm health
// script, but stricter: no library at all is opened (Argo CD still opens base,
// table, package and a safe os), so a script that passes here runs with or
// without resource.customizations.useOpenLibs. The object becomes the global
// `obj` through the same conversion as Argo CD's decodeValue, under the same
// one-second deadline.
func argoHealth(script string, obj *unstructured.Unstructured) (healthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", luaValue(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return healthStatus{}, fmt.Errorf("run health.lua: %w", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return healthStatus{}, fmt.Errorf("health.lua returned %s, not a table", l.Get(-1).Type())
	}
	var hs healthStatus
	for key, field := range map[string]*string{"status": &hs.Status, "message": &hs.Message} {
		switch v := ret.RawGetString(key).(type) {
		case lua.LString:
			*field = string(v)
		case *lua.LNilType:
		default:
			return healthStatus{}, fmt.Errorf("health.lua returned %s %s, not a string", key, v.Type())
		}
	}
	if !slices.Contains(validArgoStatuses, hs.Status) {
		// What Argo CD shows for a status code it does not know.
		return healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return hs, nil
}

// luaValue converts an unstructured value to Lua as Argo CD's decodeValue does.
func luaValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(luaValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), luaValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

func readHealthTests(t *testing.T) healthTests {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(customizationDir(t), "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests healthTests
	if err := yaml.UnmarshalStrict(data, &tests); err != nil {
		t.Fatalf("parse health_test.yaml: %v", err)
	}
	return tests
}

func readTestdata(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(customizationDir(t), "testdata", file+".yaml"))
	if err != nil {
		t.Fatalf("read captured object (refresh with %s=1 go test ./test/gitops/ -run TestCapture): %v",
			updateEnv, err)
	}
	obj, err := decodeObject(data)
	if err != nil {
		t.Fatalf("testdata/%s.yaml: %v", file, err)
	}
	return obj
}

// TestHealthLua is health_test.yaml run as Argo CD runs it: every listed
// object must get exactly the listed status and message.
func TestHealthLua(t *testing.T) {
	script := healthScript(t)
	tests := readHealthTests(t)
	if len(tests.Tests) == 0 {
		t.Fatal("health_test.yaml lists no tests")
	}
	for _, tc := range tests.Tests {
		t.Run(tc.InputPath, func(t *testing.T) {
			file, ok := strings.CutPrefix(tc.InputPath, "testdata/")
			file, yml := strings.CutSuffix(file, ".yaml")
			if !ok || !yml {
				t.Fatalf("inputPath %q is not testdata/<situation>.yaml", tc.InputPath)
			}
			got, err := argoHealth(script, readTestdata(t, file))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.HealthStatus {
				t.Errorf("health.lua returned\n  %+v\nhealth_test.yaml expects\n  %+v", got, tc.HealthStatus)
			}
		})
	}
}

// TestHealthTestsCoverSituations ties health_test.yaml to the situations: one
// test per captured object, each expecting the status its row of §3 means, and
// no testdata file that no test reads.
func TestHealthTestsCoverSituations(t *testing.T) {
	expected := map[string]string{}
	for _, tc := range readHealthTests(t).Tests {
		if _, dup := expected[tc.InputPath]; dup {
			t.Errorf("health_test.yaml lists %s twice", tc.InputPath)
		}
		expected[tc.InputPath] = tc.HealthStatus.Status
	}
	for _, s := range situations {
		path := "testdata/" + s.file + ".yaml"
		got, ok := expected[path]
		switch {
		case !ok:
			t.Errorf("health_test.yaml has no test for %s", path)
		case got != s.argo:
			t.Errorf("health_test.yaml expects %s for %s, but its row (%s) means %s", got, path, s.row, s.argo)
		}
		delete(expected, path)
	}
	for path := range expected {
		t.Errorf("health_test.yaml tests %s, which is not a captured situation", path)
	}
	files, err := filepath.Glob(filepath.Join(customizationDir(t), "testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if !slices.ContainsFunc(situations, func(s situation) bool { return s.file == name }) {
			t.Errorf("testdata/%s.yaml is not a situation TestCapture records", name)
		}
	}
}

// TestReasonDoesNotMatter shows the script keys on the triad, not on reasons:
// a captured object keeps its health when its reason is swapped for any other
// reason of its row, so a reason added to a row later is covered too.
func TestReasonDoesNotMatter(t *testing.T) {
	script := healthScript(t)
	for _, s := range situations {
		if s.row == rowPending {
			continue
		}
		obj := readTestdata(t, s.file)
		for _, reason := range contractReasons[s.row] {
			mutated := obj.DeepCopy()
			conditions, _, err := unstructured.NestedSlice(mutated.Object, "status", "conditions")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range conditions {
				c.(map[string]any)["reason"] = reason
			}
			if err := unstructured.SetNestedSlice(mutated.Object, conditions, "status", "conditions"); err != nil {
				t.Fatal(err)
			}
			got, err := argoHealth(script, mutated)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != s.argo {
				t.Errorf("%s with reason %s: %s, want %s", s.file, reason, got.Status, s.argo)
			}
			if want := reason + ": "; !strings.HasPrefix(got.Message, want) {
				t.Errorf("%s with reason %s: message %q does not start with %q", s.file, reason, got.Message, want)
			}
		}
	}
}

// TestHealthLuaUsesNoLibrary guards the claim the script rests on: with no
// library opened, library functions are absent, so the passing tests above
// prove the script never calls one.
func TestHealthLuaUsesNoLibrary(t *testing.T) {
	obj := readTestdata(t, "shared")
	for _, probe := range []string{"return ipairs({})", "return string.len('x')", "return table.concat({})",
		"return tostring(1)", "return pairs({})"} {
		if _, err := argoHealth(probe, obj); err == nil {
			t.Errorf("%q ran: the Lua state has a standard library open", probe)
		}
	}
}

// TestArgoConfigMapPatch checks that the argocd-cm snippet installs exactly
// the health scripts, under the keys Argo CD reads for group cvm.imageshare.dev,
// kinds ImageShare and ImageSharePolicy, and nothing else.
func TestArgoConfigMapPatch(t *testing.T) {
	data, err := os.ReadFile(projectPath(t, "config", "argocd", "argocd-cm-patch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		t.Fatalf("parse argocd-cm-patch.yaml: %v", err)
	}
	if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" || cm.Name != "argocd-cm" {
		t.Errorf("argocd-cm-patch.yaml is %s %s %q, want v1 ConfigMap \"argocd-cm\"", cm.APIVersion, cm.Kind, cm.Name)
	}
	want := argoHealthScripts(t)
	for key, script := range want {
		if got, ok := cm.Data[key]; !ok {
			t.Errorf("argocd-cm-patch.yaml does not set %s", key)
		} else if got != script {
			t.Errorf("argocd-cm-patch.yaml key %s differs from its health.lua:\n%s", key, got)
		}
	}
	for key := range cm.Data {
		if _, ok := want[key]; !ok {
			t.Errorf("argocd-cm-patch.yaml sets %s too: the patch should only add the health checks", key)
		}
	}
}

// argoHealthScripts maps each argocd-cm key the patch must set to the script it
// must hold: ImageShare/health.lua and ImageSharePolicy/health.lua.
func argoHealthScripts(t *testing.T) map[string]string {
	t.Helper()
	policy, err := os.ReadFile(projectPath(t, "config", "argocd", "cvm.imageshare.dev", "ImageSharePolicy",
		"health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{argoConfigMapKey: healthScript(t), argoPolicyConfigMapKey: string(policy)}
}

// newStalledReasons are terminal reasons a Stalled ImageShare can show that no
// captured situation holds yet: PermissionDenied (CAM denies the owner's keys
// an action; only a policy change outside the cluster helps) and CopyFailed (a
// replica region refused the copy, e.g. its image quota is full). Each is set
// on a captured Stalled object, with a message of the controller's style; the
// Argo CD health must be Degraded and name the reason, with no change to
// health.lua, which keys on Stalled=True and never on reasons.
var newStalledReasons = []struct{ reason, message string }{
	{"PermissionDenied", "Tencent Cloud denied cvm:ModifyImageSharePermission on img-creds002 " +
		"(UnauthorizedOperation.CamNoAuth): grant it to the keys of Secret team-a/wrong-credentials"},
	{"CopyFailed", "Copying to ap-shanghai failed (LimitExceeded.ImageQuotaLimitExceeded): free image quota " +
		"there or remove the region"},
}

// withReason returns obj with every condition's reason and message replaced.
func withReason(t *testing.T, obj *unstructured.Unstructured, reason, message string) *unstructured.Unstructured {
	t.Helper()
	out := obj.DeepCopy()
	conditions, _, err := unstructured.NestedSlice(out.Object, "status", "conditions")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conditions {
		c.(map[string]any)["reason"] = reason
		c.(map[string]any)["message"] = message
	}
	if err := unstructured.SetNestedSlice(out.Object, conditions, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNewStalledReasonsAreDegraded: a Stalled object with reason
// PermissionDenied or CopyFailed is Degraded in Argo CD (and kstatus Failed,
// so Flux fails fast on it), with "<reason>: <message>" as the message; once
// its spec changes while the manager is down, it is Progressing again.
func TestNewStalledReasonsAreDegraded(t *testing.T) {
	script := healthScript(t)
	base := readTestdata(t, "credentials-invalid")
	if ready, stalled := condition(t, base, "Ready"), condition(t, base, "Stalled"); ready == nil ||
		ready["status"] != "False" || stalled == nil || stalled["status"] != "True" {
		t.Fatalf("testdata/credentials-invalid.yaml is no longer Ready=False, Stalled=True: %v, %v", ready, stalled)
	}
	for _, tc := range newStalledReasons {
		t.Run(tc.reason, func(t *testing.T) {
			obj := withReason(t, base, tc.reason, tc.message)
			got, err := argoHealth(script, obj)
			if err != nil {
				t.Fatal(err)
			}
			if want := (healthStatus{Status: argoDegraded, Message: tc.reason + ": " + tc.message}); got != want {
				t.Errorf("health.lua returned\n  %+v\nwant\n  %+v", got, want)
			}
			checkKstatus(t, situation{file: "credentials-invalid with reason " + tc.reason, row: rowStalled,
				argo: argoDegraded, kstatus: status.FailedStatus}, obj)

			// The spec was fixed (a new generation) while the manager was down:
			// the Stalled condition describes the old one, so not Degraded.
			stale := obj.DeepCopy()
			stale.SetGeneration(obj.GetGeneration() + 1)
			got, err = argoHealth(script, stale)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != argoProgressing {
				t.Errorf("with a generation the controller has not seen: %+v, want %s", got, argoProgressing)
			}
		})
	}
}
