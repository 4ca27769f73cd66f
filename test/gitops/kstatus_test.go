package gitops

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// kstatusOf is what a Flux Kustomization with wait: true (or healthChecks
// naming the object) computes for it: Current passes, InProgress and
// Terminating keep it waiting until spec.timeout, Failed fails it at once
// (Flux's fail-fast on Stalled).
func kstatusOf(obj *unstructured.Unstructured) (*status.Result, error) {
	return status.Compute(obj)
}

// checkKstatus compares one object's kstatus with its situation.
func checkKstatus(t *testing.T, s situation, obj *unstructured.Unstructured) *status.Result {
	t.Helper()
	res, err := kstatusOf(obj)
	if err != nil {
		t.Fatalf("%s: kstatus: %v", s.file, err)
	}
	if res.Status != s.kstatus {
		msg := fmt.Sprintf("%s: kstatus %s (%s), want %s", s.file, res.Status, res.Message, s.kstatus)
		if s.hint != "" {
			msg += ": " + s.hint
		}
		t.Error(msg)
	}
	if s.kstatus == status.FailedStatus {
		// Flux prints this message when it gives up: it must be the controller's.
		stalled := condition(t, obj, "Stalled")
		if res.Message != stalled["message"] {
			t.Errorf("%s: kstatus message %q, want the Stalled message %q", s.file, res.Message, stalled["message"])
		}
	}
	return res
}

// TestKstatus runs kstatus over every captured object.
func TestKstatus(t *testing.T) {
	for _, s := range situations {
		t.Run(s.file, func(t *testing.T) {
			checkKstatus(t, s, readTestdata(t, s.file))
		})
	}
}

// condition returns the status condition of type conditionType, or nil.
func condition(t *testing.T, obj *unstructured.Unstructured, conditionType string) map[string]any {
	t.Helper()
	conditions, _, err := unstructured.NestedSlice(obj.Object, "status", "conditions")
	if err != nil {
		t.Fatalf("status.conditions: %v", err)
	}
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == conditionType {
			return m
		}
	}
	return nil
}
