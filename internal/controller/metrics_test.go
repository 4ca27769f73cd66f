package controller

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
)

func metricsObject(name, reason string, shared, missing []string) *cvmv1alpha1.ImageShare {
	o := &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-a", Name: name}}
	if reason != "" {
		o.Status.Conditions = []metav1.Condition{{Type: cvmv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
			Reason: reason, LastTransitionTime: metav1.Now()}}
	}
	o.Status.SharedAccountIDs, o.Status.MissingAccountIDs = shared, missing
	return o
}

// TestUnitObjectsCollector: one series per Ready reason (0 for the known ones
// no object has), the account totals, and nothing before leading.
func TestUnitObjectsCollector(t *testing.T) {
	s := runtime.NewScheme()
	if err := cvmv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	k8s := crfake.NewClientBuilder().WithScheme(s).WithObjects(
		metricsObject("a", cvmv1alpha1.ReasonShared, []string{"1", "2"}, nil),
		metricsObject("b", cvmv1alpha1.ReasonShared, []string{"1"}, nil),
		metricsObject("c", cvmv1alpha1.ReasonCredentialsMissing, nil, []string{"3", "4"}),
		metricsObject("d", "", nil, []string{"5"}),
	).Build()
	elected := make(chan struct{})
	c := NewObjectsCollector(k8s, elected)
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("a replica that does not lead exported %d series", n)
	}
	close(elected)
	want := `
# HELP imageshare_missing_accounts Listed accounts not shared yet (status.missingAccountIds), summed over ImageShares: 0 when converged.
# TYPE imageshare_missing_accounts gauge
imageshare_missing_accounts 3
# HELP imageshare_shared_accounts_total Listed accounts the cloud confirms shared (status.sharedAccountIds), summed over ImageShares.
# TYPE imageshare_shared_accounts_total gauge
imageshare_shared_accounts_total 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), metricSharedAccounts,
		metricMissingAccounts); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, metricObjects); n != len(readyReasons) {
		t.Errorf("got %d imageshare_objects series, want one per known reason (%d)", n, len(readyReasons))
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != metricObjects {
			continue
		}
		for _, m := range f.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	for reason, want := range map[string]float64{cvmv1alpha1.ReasonShared: 2, cvmv1alpha1.ReasonCredentialsMissing: 1,
		cvmv1alpha1.ReasonProgressing: 1, cvmv1alpha1.ReasonInSync: 0} {
		if v, ok := got[reason]; !ok || v != want {
			t.Errorf("imageshare_objects{reason=%q} = %v (exported: %v), want %v", reason, v, ok, want)
		}
	}
}

// TestUnitWithImageShares: the names reach the logger of the context the
// cloud client is called with, sorted and once each.
func TestUnitWithImageShares(t *testing.T) {
	var buf bytes.Buffer
	ctx := logf.IntoContext(context.Background(), crzap.New(crzap.WriteTo(&buf), crzap.UseDevMode(false)))
	a := &member{obj: metricsObject("web", "", nil, nil)}
	b := &member{obj: metricsObject("api", "", nil, nil)}
	logf.FromContext(withImageShares(ctx, a, b, a)).Info("Probe")
	if !strings.Contains(buf.String(), `"imageShares":["tenant-a/api","tenant-a/web"]`) {
		t.Fatalf("log line %s does not name the ImageShares", buf.String())
	}
}
