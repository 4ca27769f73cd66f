package observability

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckFindsRot: the query check reports a renamed metric, a label a
// metric lacks, a grouping label and a legend label the result lacks, and
// accepts what the exposition has. No control plane needed.
func TestCheckFindsRot(t *testing.T) {
	exp := parseExposition(`# TYPE imageshare_objects gauge
imageshare_objects{reason="Shared"} 2
imageshare_cloud_api_call_duration_seconds_bucket{action="DescribeImages",le="0.005"} 1
imageshare_missing_accounts 0
`)
	cases := []struct {
		q    query
		want string // a substring of the one problem, "" for none
	}{
		{query{expr: `sum by (reason) (imageshare_objects{reason=~"A|B"})`, legend: "{{reason}}"}, ""},
		{query{expr: `histogram_quantile(0.9, sum by (le, action) (rate(` +
			`imageshare_cloud_api_call_duration_seconds_bucket[5m])))`, legend: "{{action}}"}, ""},
		{query{expr: `sum(imageshare_missing_accounts) == 0`}, ""},
		{query{expr: `sum(imageshare_shared_accounts)`}, "is not exported"},
		{query{expr: `imageshare_objects{state="x"}`}, `no label "state"`},
		{query{expr: `sum by (reasons) (imageshare_objects)`}, `groups by "reasons"`},
		{query{expr: `sum by (reason) (imageshare_objects)`, legend: "{{action}}"}, "legend uses {{action}}"},
		{query{expr: `vector(1)`}, "queries no metric"},
	}
	for _, tc := range cases {
		got := tc.q.check(exp)
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: unexpected problems %v", tc.q.expr, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
			t.Errorf("%s: problems %v, want one with %q", tc.q.expr, got, tc.want)
		}
	}
}

// TestRuleFilesParse: the dashboard and both rule sources yield queries
// without a control plane, so a malformed file fails fast.
func TestRuleFilesParse(t *testing.T) {
	qs, err := dashboardQueries(filepath.Join(root, "config", "grafana", "imageshare-dashboard.json"))
	if err != nil || len(qs) == 0 {
		t.Fatalf("dashboard: %d queries, %v", len(qs), err)
	}
	k, err := ruleFile(filepath.Join(root, "config", "prometheus", "prometheusrule.yaml"))
	if err != nil || len(k) == 0 {
		t.Fatalf("config/prometheus: %d rules, %v", len(k), err)
	}
	c, err := chartRules(filepath.Join(root, "dist", "chart"))
	if err != nil || len(c) == 0 {
		t.Fatalf("chart: %d rules, %v", len(c), err)
	}
	checkRulesAgree(t, k, c)
}
