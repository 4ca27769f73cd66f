package observability

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// query is one PromQL expression a dashboard panel or an alert evaluates.
type query struct {
	where  string // file and panel or alert, for messages
	expr   string
	legend string // the panel's legendFormat, "" for an alert
}

// exposition is what /metrics exports: each sample name (histograms by their
// _bucket, _sum and _count) with the label names its series carry.
type exposition map[string]map[string]bool

func parseExposition(text string) exposition {
	out := exposition{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s`)
	label := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"`)
	for sc.Scan() {
		m := sample.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		labels := out[m[1]]
		if labels == nil {
			labels = map[string]bool{}
			out[m[1]] = labels
		}
		for _, l := range label.FindAllStringSubmatch(m[2], -1) {
			labels[l[1]] = true
		}
	}
	return out
}

var (
	// stringLit is a PromQL string; matchers' values are not names.
	stringLit = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	// selector is a metric name with its label matchers.
	selector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}`)
	matcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	// bareMetric is a metric name without matchers; only the operator's and
	// controller-runtime's families are queried.
	bareMetric = regexp.MustCompile(`\b(?:imageshare|controller_runtime|workqueue)_[a-zA-Z0-9_:]*`)
	grouping   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	legendVar  = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
)

// check returns what q queries that exp does not export: unknown metrics,
// label names no series of the metric has, grouping labels none of its
// metrics has, and legend labels the result cannot carry.
func (q query) check(exp exposition) []string {
	var problems []string
	expr := stringLit.ReplaceAllString(q.expr, `""`)
	metrics := map[string]bool{}
	for _, m := range selector.FindAllStringSubmatch(expr, -1) {
		metrics[m[1]] = true
		labels, ok := exp[m[1]]
		if !ok {
			continue // reported below
		}
		for _, l := range matcher.FindAllStringSubmatch(m[2], -1) {
			if !labels[l[1]] {
				problems = append(problems, fmt.Sprintf("%s has no label %q", m[1], l[1]))
			}
		}
	}
	for _, m := range bareMetric.FindAllString(expr, -1) {
		metrics[m] = true
	}
	if len(metrics) == 0 {
		problems = append(problems, "queries no metric the check recognises")
	}
	has := func(label string) bool {
		for m := range metrics {
			if exp[m][label] {
				return true
			}
		}
		return false
	}
	for m := range metrics {
		if _, ok := exp[m]; !ok {
			problems = append(problems, fmt.Sprintf("metric %s is not exported", m))
		}
	}
	var grouped []string
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				grouped = append(grouped, l)
				if !has(l) {
					problems = append(problems, fmt.Sprintf("groups by %q, which none of its metrics has", l))
				}
			}
		}
	}
	for _, v := range legendVar.FindAllStringSubmatch(q.legend, -1) {
		if len(grouped) > 0 && !slices.Contains(grouped, v[1]) || len(grouped) == 0 && !has(v[1]) {
			problems = append(problems, fmt.Sprintf("legend uses {{%s}}, which the result does not carry", v[1]))
		}
	}
	return problems
}

// dashboardQueries are the targets of every panel of a Grafana dashboard.
func dashboardQueries(path string) ([]query, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr         string `json:"expr"`
				LegendFormat string `json:"legendFormat"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	var out []query
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			return nil, fmt.Errorf("%s: panel %q queries nothing", path, p.Title)
		}
		for _, t := range p.Targets {
			out = append(out, query{where: fmt.Sprintf("%s panel %q", filepath.Base(path), p.Title),
				expr: t.Expr, legend: t.LegendFormat})
		}
	}
	return out, nil
}

// alertRule is one rule of a PrometheusRule.
type alertRule struct {
	Alert string `json:"alert"`
	Expr  string `json:"expr"`
	For   string `json:"for"`
}

// ruleFile reads the rules of a PrometheusRule manifest.
func ruleFile(path string) ([]alertRule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []alertRule `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	var out []alertRule
	for _, g := range rule.Spec.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

// chartRules renders the rules of the chart's PrometheusRule template with
// the chart's default values: the template's only expressions are
// `{{ $r.<key> }}` (a value of .Values.prometheusRule) and `{{ "text" }}`
// (text kept as is), so no helm binary is needed.
func chartRules(chartDir string) ([]alertRule, error) {
	tmpl, err := os.ReadFile(filepath.Join(chartDir, "templates", "prometheusrule.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read the chart's PrometheusRule: %w", err)
	}
	valuesData, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read the chart's values: %w", err)
	}
	var values struct {
		PrometheusRule map[string]any `json:"prometheusRule"`
	}
	if err := yaml.Unmarshal(valuesData, &values); err != nil {
		return nil, fmt.Errorf("parse the chart's values: %w", err)
	}
	text := string(tmpl)
	start := strings.Index(text, "      rules:\n")
	end := strings.LastIndex(text, "{{- end }}")
	if start < 0 || end < start {
		return nil, fmt.Errorf("the chart's PrometheusRule has no rules block")
	}
	text = text[start:end]
	var failed error
	text = regexp.MustCompile(`\{\{ \$r\.([a-zA-Z]+) \}\}`).ReplaceAllStringFunc(text, func(s string) string {
		key := strings.TrimSuffix(strings.TrimPrefix(s, "{{ $r."), " }}")
		v, ok := values.PrometheusRule[key]
		if !ok {
			failed = fmt.Errorf("values.yaml has no prometheusRule.%s", key)
		}
		return fmt.Sprint(v)
	})
	text = regexp.MustCompile(`\{\{ "(.*?)" \}\}`).ReplaceAllString(text, "$1")
	if failed != nil {
		return nil, failed
	}
	if strings.Contains(text, "{{-") {
		return nil, fmt.Errorf("the chart's rules block has template actions this test cannot render")
	}
	var block struct {
		Rules []alertRule `json:"rules"`
	}
	if err := yaml.Unmarshal([]byte(dedent(text, 6)), &block); err != nil {
		return nil, fmt.Errorf("parse the chart's rendered rules: %w", err)
	}
	return block.Rules, nil
}

func dedent(text string, n int) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if len(l) >= n && strings.TrimSpace(l[:n]) == "" {
			lines[i] = l[n:]
		}
	}
	return strings.Join(lines, "\n")
}

// normalize folds whitespace, as YAML's folded scalars do.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }
