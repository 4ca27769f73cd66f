package gitops

import (
	"slices"
	"testing"

	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

// Argo CD health statuses a health.lua may return.
const (
	argoHealthy     = "Healthy"
	argoProgressing = "Progressing"
	argoDegraded    = "Degraded"
)

// row is a row of the table in contract §3, or pending for the moments the
// table does not cover: before the controller's first status, while a new
// generation waits to be observed, and while a deletion waits for the finalizer.
type row string

const (
	rowProgressing row = "progressing"
	rowReady       row = "ready"
	rowStalled     row = "stalled"
	rowPending     row = "pending"
)

// situation is one captured ImageShare: testdata/<file>.yaml.
type situation struct {
	file string
	// reason is the Ready reason the object shows; empty for the pending row.
	reason string
	row    row
	// argo is the Argo CD health status the object must get.
	argo string
	// kstatus is what kstatus (and so a Flux Kustomization with wait: true) must compute.
	kstatus status.Status
	// hint says what makes kstatus right, for when it is not.
	hint string
}

// situations are the objects TestCapture records, one per reason of contract
// §3 that a run can be made to show and stay in, plus the pending moments.
var situations = []situation{
	// kstatus calls an object without status.observedGeneration Current, so a
	// new ImageShare would pass a Flux health check before the controller saw it.
	{file: "no-status", row: rowPending, argo: argoProgressing, kstatus: status.InProgressStatus,
		hint: "the CRD must default status to {observedGeneration: -1} " +
			"(+kubebuilder:default:={\"observedGeneration\":-1} on ImageShare.Status, as Flux's own CRDs do)"},
	{file: "progressing", reason: cvmv1alpha1.ReasonProgressing, row: rowProgressing,
		argo: argoProgressing, kstatus: status.InProgressStatus},
	{file: "image-not-ready", reason: cvmv1alpha1.ReasonImageNotReady, row: rowProgressing,
		argo: argoProgressing, kstatus: status.InProgressStatus},
	{file: "cloud-error", reason: cvmv1alpha1.ReasonCloudError, row: rowProgressing,
		argo: argoProgressing, kstatus: status.InProgressStatus},
	{file: "throttled", reason: cvmv1alpha1.ReasonThrottled, row: rowProgressing,
		argo: argoProgressing, kstatus: status.InProgressStatus},
	{file: "shared", reason: cvmv1alpha1.ReasonShared, row: rowReady, argo: argoHealthy, kstatus: status.CurrentStatus},
	{file: "in-sync", reason: cvmv1alpha1.ReasonInSync, row: rowReady, argo: argoHealthy, kstatus: status.CurrentStatus},
	stalledSituation("share-limit-exceeded", cvmv1alpha1.ReasonShareLimitExceeded),
	stalledSituation("region-mismatch", cvmv1alpha1.ReasonRegionMismatch),
	stalledSituation("image-not-found", cvmv1alpha1.ReasonImageNotFound),
	stalledSituation("image-not-shareable", cvmv1alpha1.ReasonImageNotShareable),
	stalledSituation("invalid-accounts", cvmv1alpha1.ReasonInvalidAccounts),
	stalledSituation("credentials-missing", cvmv1alpha1.ReasonCredentialsMissing),
	stalledSituation("credentials-invalid", cvmv1alpha1.ReasonCredentialsInvalid),
	stalledSituation("conflict", cvmv1alpha1.ReasonConflict),
	stalledSituation("drift-detected", cvmv1alpha1.ReasonDriftDetected),
	// A Ready object whose spec changed while the manager was down.
	{file: "stale-generation", row: rowPending, argo: argoProgressing, kstatus: status.InProgressStatus},
	// A Stalled object whose spec was fixed while the manager was down: no
	// longer Degraded, not yet Healthy.
	{file: "stale-generation-stalled", row: rowPending, argo: argoProgressing, kstatus: status.InProgressStatus},
	// Deleted while the manager was down: the finalizer holds it.
	{file: "pending-deletion", row: rowPending, argo: argoProgressing, kstatus: status.TerminatingStatus},
}

func stalledSituation(file, reason string) situation {
	return situation{file: file, reason: reason, row: rowStalled, argo: argoDegraded, kstatus: status.FailedStatus}
}

// contractReasons are the Ready reasons of contract §3, by row.
var contractReasons = map[row][]string{
	rowProgressing: {cvmv1alpha1.ReasonProgressing, cvmv1alpha1.ReasonImageNotReady, cvmv1alpha1.ReasonThrottled,
		cvmv1alpha1.ReasonCloudError},
	rowReady: {cvmv1alpha1.ReasonShared, cvmv1alpha1.ReasonInSync},
	rowStalled: {cvmv1alpha1.ReasonShareLimitExceeded, cvmv1alpha1.ReasonRegionMismatch, cvmv1alpha1.ReasonImageNotFound,
		cvmv1alpha1.ReasonImageNotShareable, cvmv1alpha1.ReasonInvalidAccounts, cvmv1alpha1.ReasonCredentialsMissing,
		cvmv1alpha1.ReasonCredentialsInvalid, cvmv1alpha1.ReasonConflict, cvmv1alpha1.ReasonDriftDetected},
}

// TestEveryContractReasonIsCaptured keeps the situations honest: each reason
// of §3 is captured in its own row, and each row maps to one Argo CD and one
// kstatus status.
func TestEveryContractReasonIsCaptured(t *testing.T) {
	wantArgo := map[row]string{rowProgressing: argoProgressing, rowReady: argoHealthy, rowStalled: argoDegraded,
		rowPending: argoProgressing}
	wantKstatus := map[row]status.Status{rowProgressing: status.InProgressStatus, rowReady: status.CurrentStatus,
		rowStalled: status.FailedStatus}
	for _, s := range situations {
		if s.argo != wantArgo[s.row] {
			t.Errorf("%s: Argo CD status %s, but the %s row means %s", s.file, s.argo, s.row, wantArgo[s.row])
		}
		if want, ok := wantKstatus[s.row]; ok && s.kstatus != want {
			t.Errorf("%s: kstatus %s, but the %s row means %s", s.file, s.kstatus, s.row, want)
		}
		if s.row != rowPending && !slices.Contains(contractReasons[s.row], s.reason) {
			t.Errorf("%s: reason %q is not a reason of the %s row of contract §3", s.file, s.reason, s.row)
		}
	}
	for r, reasons := range contractReasons {
		for _, reason := range reasons {
			if !slices.ContainsFunc(situations, func(s situation) bool { return s.reason == reason }) {
				t.Errorf("reason %s (%s row of contract §3) has no captured situation", reason, r)
			}
		}
	}
}
