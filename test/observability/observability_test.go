// Package observability checks, against a running manager, what operators
// of the ImageShare operator watch: every metric the Grafana dashboard
// (config/grafana) and the alerts (config/prometheus and the Helm chart's
// PrometheusRule) query is exported by the manager's /metrics with the labels
// they use, every exported imageshare_ metric is documented in
// docs/observability.md, the two copies of the alerts agree, and the manager
// logs one JSON audit line per share with Tencent's RequestId and no secret.
package observability

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cvmv1alpha1 "github.com/imageshare/imageshare-operator/api/v1alpha1"
	"github.com/imageshare/imageshare-operator/internal/credentials"
	"github.com/imageshare/imageshare-operator/internal/emulator"
	"github.com/imageshare/imageshare-operator/internal/emulator/emulatortest"
)

const (
	owner     = "100000000001"
	secretID  = "AKIDobservability0001"
	secretKey = "observability-secret-key-never-logged"
	namespace = "team-a"
	region    = "ap-guangzhou"
	image     = "img-aaaa0001"
)

var recipients = []string{"100000000002", "100000000004"}

func TestDashboardAndAlertsQueryExportedMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin, kubeconfig := startControlPlane(t)
	_, endpoint := emulatortest.Start(t, &emulator.Seed{
		Accounts: []emulator.SeedAccount{{ID: owner, SecretID: secretID, SecretKey: secretKey},
			{ID: recipients[0]}, {ID: recipients[1]}},
		Images: []emulator.SeedImage{{ID: image, Region: region, Owner: owner, Name: "web-base"}},
	})
	mgr := startManager(t, kubeconfig, endpoint)

	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "tencent-credentials"},
			StringData: map[string]string{credentials.SecretIDKey: secretID, credentials.SecretKeyKey: secretKey}},
		imageShare("web", image, recipients),
		imageShare("gone", "img-missing1", recipients[:1]),
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("create %T: %v", o, err)
		}
	}
	eventually(t, 2*time.Minute, func() error {
		var o cvmv1alpha1.ImageShare
		if err := admin.Get(ctx, types.NamespacedName{Namespace: namespace, Name: "web"}, &o); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(o.Status.Conditions, cvmv1alpha1.ConditionReady) {
			return fmt.Errorf("ImageShare web is not Ready: %+v", o.Status.Conditions)
		}
		return nil
	})
	var exp exposition
	eventually(t, time.Minute, func() error {
		text, err := mgr.scrape(ctx)
		if err != nil {
			return err
		}
		for _, want := range []string{`imageshare_objects{reason="Shared"} 1`, "imageshare_shared_accounts_total 2",
			"imageshare_reconcile_duration_seconds_count"} {
			if !strings.Contains(text, want) {
				return fmt.Errorf("/metrics has no %q yet", want)
			}
		}
		exp = parseExposition(text)
		return nil
	})

	queries, err := dashboardQueries(filepath.Join(root, "config", "grafana", "imageshare-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	kustomizeRules, err := ruleFile(filepath.Join(root, "config", "prometheus", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	chart, err := chartRules(filepath.Join(root, "dist", "chart"))
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []struct {
		where string
		rules []alertRule
	}{{"config/prometheus/prometheusrule.yaml", kustomizeRules}, {"the chart's PrometheusRule", chart}} {
		for _, r := range set.rules {
			queries = append(queries, query{where: fmt.Sprintf("%s alert %s", set.where, r.Alert), expr: r.Expr})
		}
	}
	for _, q := range queries {
		for _, p := range q.check(exp) {
			t.Errorf("%s: %s\n  expr: %s", q.where, p, q.expr)
		}
	}
	checkRulesAgree(t, kustomizeRules, chart)
	checkDocumented(t, exp)
	checkAuditLine(t, mgr.logs())
}

func imageShare(name, id string, accounts []string) *cvmv1alpha1.ImageShare {
	return &cvmv1alpha1.ImageShare{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: cvmv1alpha1.ImageShareSpec{ImageID: id, Region: region, AccountIDs: accounts,
			CredentialsRef: &cvmv1alpha1.SecretReference{Name: "tencent-credentials"}}}
}

// checkRulesAgree: config/prometheus holds the chart's alerts at the chart's defaults.
func checkRulesAgree(t *testing.T, kustomize, chart []alertRule) {
	t.Helper()
	if len(kustomize) != len(chart) {
		t.Errorf("config/prometheus has %d alerts, the chart %d", len(kustomize), len(chart))
	}
	for _, c := range chart {
		i := slices.IndexFunc(kustomize, func(k alertRule) bool { return k.Alert == c.Alert })
		if i < 0 {
			t.Errorf("config/prometheus has no alert %s", c.Alert)
			continue
		}
		if k := kustomize[i]; normalize(k.Expr) != normalize(c.Expr) || k.For != c.For {
			t.Errorf("alert %s differs:\n  config/prometheus: %s (for %s)\n  chart:             %s (for %s)",
				c.Alert, normalize(k.Expr), k.For, normalize(c.Expr), c.For)
		}
	}
}

// checkDocumented: docs/observability.md names every imageshare_ metric the manager exports.
func checkDocumented(t *testing.T, exp exposition) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(root, "docs", "observability.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range exp {
		family := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if _, ok := exp[strings.TrimSuffix(name, suffix)+"_bucket"]; ok {
				family = strings.TrimSuffix(family, suffix)
			}
		}
		if strings.HasPrefix(family, "imageshare_") && !strings.Contains(string(doc), "`"+family+"`") {
			t.Errorf("docs/observability.md does not document %s", family)
		}
	}
}

// checkAuditLine: the manager logs JSON, and the share of web is one info
// line naming the ImageShare, the accounts and Tencent's RequestId; no line
// holds the secret key.
func checkAuditLine(t *testing.T, logs string) {
	t.Helper()
	if strings.Contains(logs, secretKey) {
		t.Error("the manager's log holds the secret key")
	}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	found := false
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("log line is not JSON: %s", sc.Text())
			continue
		}
		if line["msg"] != "Shared image with accounts" {
			continue
		}
		found = true
		names, _ := line["imageShares"].([]any)
		accounts, _ := line["accounts"].([]any)
		if line["level"] != "info" || line["requestId"] == "" || line["imageId"] != image ||
			!slices.Contains(names, any(namespace+"/web")) || len(accounts) != len(recipients) {
			t.Errorf("audit line lacks the level, RequestId, image, ImageShare or accounts: %s", sc.Text())
		}
	}
	if !found {
		t.Error("no audit line for the share of ImageShare web")
	}
}
