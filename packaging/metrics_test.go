// Checks that the Grafana dashboard and the Prometheus alerts only query
// metrics the server serves, and keep the panels and alerts they are for.

package packaging

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// servedMetricNames starts a Meerkat server with ZooKeeper's Prometheus
// metrics provider on a free port and lists the metric names its /metrics
// serves (a summary's samples count under its base name too), plus up,
// which Prometheus adds itself.
func servedMetricNames(t *testing.T) []string {
	t.Helper()
	port := zktest.FreePort(t)
	zktest.StartMeerkat(t, zktest.Options{Extra: []string{
		"metricsProvider.className=" + config.PrometheusMetricsProvider,
		"metricsProvider.httpHost=127.0.0.1", fmt.Sprintf("metricsProvider.httpPort=%d", port)}})
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"up"}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(strings.Fields(line)[0], "{")
		names = append(names, name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// dashboardMetrics and alertMetrics are what each file is for: a metric
// dropped from one fails the test.
var (
	dashboardMetrics = []string{
		"approximate_data_size", "avg_latency", "ephemerals_count", "fsynctime", "fsynctime_sum",
		"global_sessions", "max_latency", "meerkat_checkpoint_lag_zxids", "num_alive_connections",
		"open_file_descriptor_count", "outstanding_requests", "packets_received", "packets_sent",
		"process_resident_memory_bytes", "readlatency", "snapshottime", "updatelatency", "uptime",
		"watch_count", "znode_count",
	}
	alertMetrics = []string{
		"approximate_data_size", "avg_latency", "election_time_count", "fsynctime_sum",
		"meerkat_checkpoint_lag_zxids", "num_alive_connections", "open_file_descriptor_count",
		"process_resident_memory_bytes", "snapshottime_sum", "up", "watch_count", "znode_count",
	}
)

// PromQL words that are not metric names: keywords followed by a label
// list, and the other keywords and literals.
var (
	labelListWords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true}
	otherWords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"atan2": true, "inf": true, "nan": true}
	// Grafana's label_values(metric, label): the label is not a metric.
	labelValues = regexp.MustCompile(`label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)`)
)

// metricNames returns the metric names a PromQL expression (or a Grafana
// label_values query) selects, in order of appearance. It skips strings,
// label matchers, ranges, Grafana variables, numbers, durations, function
// and aggregation names and the label lists of by, without, on, ignoring
// and group_*.
func metricNames(expr string) []string {
	expr = labelValues.ReplaceAllString(expr, "$1")
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }
	skipSpace := func(i int) int {
		for i < len(expr) && strings.IndexByte(" \t\n\r", expr[i]) >= 0 {
			i++
		}
		return i
	}
	skipString := func(i int) int { // expr[i] is the opening quote
		q := expr[i]
		for i++; i < len(expr); i++ {
			switch {
			case expr[i] == '\\' && q != '`':
				i++
			case expr[i] == q:
				return i + 1
			}
		}
		return i
	}
	skipTo := func(i int, end byte) int { // past the end byte, strings skipped
		for i++; i < len(expr); {
			switch c := expr[i]; {
			case c == '"' || c == '\'' || c == '`':
				i = skipString(i)
			case c == end:
				return i + 1
			default:
				i++
			}
		}
		return i
	}
	word := func(i int) (string, int) {
		j := i
		for j < len(expr) && isIdent(expr[j]) {
			j++
		}
		return expr[i:j], j
	}

	var names []string
	for i := 0; i < len(expr); {
		switch c := expr[i]; {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(i)
		case c == '{':
			i = skipTo(i, '}')
		case c == '[':
			i = skipTo(i, ']')
		case c == '$': // $var or ${var}
			if i+1 < len(expr) && expr[i+1] == '{' {
				i = skipTo(i+1, '}')
			} else {
				_, i = word(i + 1)
			}
		case '0' <= c && c <= '9' || c == '.': // a number or a duration
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			w, j := word(i)
			k := skipSpace(j)
			next, _ := word(k)
			switch {
			case labelListWords[w]:
				if k < len(expr) && expr[k] == '(' {
					j = skipTo(k, ')')
				}
			case otherWords[strings.ToLower(w)]:
			case k < len(expr) && expr[k] == '(': // a function or an aggregation
			case labelListWords[next]: // an aggregation: sum by (...) (...)
			default:
				names = append(names, w)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

// TestMetricNames checks the extraction on the constructs it must see
// through.
func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`up{job="meerkat"} == 0`, []string{"up"}},
		{`sum by (instance) (rate(packets_received{instance=~"$instance"}[$__rate_interval]))`, []string{"packets_received"}},
		{`sum(rate(fsynctime_sum[1m])) without (job) > 100`, []string{"fsynctime_sum"}},
		{`readlatency{quantile="0.99", odd="}{"} offset 5m`, []string{"readlatency"}},
		{`a_metric > 2 * 1e9 and on (instance) deriv(b_metric[10m]) > 0`, []string{"a_metric", "b_metric"}},
		{`label_values(znode_count, instance)`, []string{"znode_count"}},
		{`up == bool 0 or vector(1)`, []string{"up"}},
		{`histogram_quantile(0.9, x_bucket) / ignoring (le) group_left (y) z`, []string{"x_bucket", "z"}},
		{`topk(5, znode_count) > Inf unless ${DS_PROMETHEUS}`, []string{"znode_count"}},
		{`process_resident_memory_bytes > 0.8 * 4 * 1024`, []string{"process_resident_memory_bytes"}},
	}
	for _, tc := range tests {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// dashboardQueries returns the PromQL of every panel target and query
// variable of the dashboard, and checks that every data source reference
// is the ${DS_PROMETHEUS} variable, which the dashboard declares.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	var dash struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	raw := []byte(readFile(t, "grafana-dashboard.json"))
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if len(dash.Panels) < 10 {
		t.Errorf("the dashboard has %d panels", len(dash.Panels))
	}

	var queries []string
	declared := false
	for _, v := range dash.Templating.List {
		switch v.Type {
		case "datasource":
			declared = declared || v.Name == "DS_PROMETHEUS" && string(v.Query) == `"prometheus"`
		case "query":
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				if err := json.Unmarshal(v.Query, &q); err != nil {
					t.Fatalf("variable %s: query %s: %v", v.Name, v.Query, err)
				}
			}
			queries = append(queries, q.Query)
		}
	}
	if !declared {
		t.Error("the dashboard declares no Prometheus data source variable DS_PROMETHEUS")
	}

	var whole any
	if err := json.Unmarshal(raw, &whole); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if e, ok := v["expr"].(string); ok {
				queries = append(queries, e)
			}
			if ds, ok := v["datasource"]; ok {
				if m, ok := ds.(map[string]any); !ok || m["uid"] != "${DS_PROMETHEUS}" || m["type"] != "prometheus" {
					t.Errorf("data source %v: want {type: prometheus, uid: ${DS_PROMETHEUS}}", ds)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(whole)
	return queries
}

// alertExprs returns the expr of every rule in prometheus-alerts.yml (plain,
// quoted or block scalars) and the number of alert: lines.
func alertExprs(t *testing.T) ([]string, int) {
	t.Helper()
	lines := strings.Split(readFile(t, "prometheus-alerts.yml"), "\n")
	exprLine := regexp.MustCompile(`^(\s*)(?:-\s+)?expr:\s*(.*?)\s*$`)
	alertLine := regexp.MustCompile(`^\s*(?:-\s+)?alert:\s*\S`)
	indent := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	var exprs []string
	alerts := 0
	for i := 0; i < len(lines); i++ {
		if alertLine.MatchString(lines[i]) {
			alerts++
		}
		m := exprLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		v := m[2]
		switch {
		case strings.HasPrefix(v, "|") || strings.HasPrefix(v, ">"):
			var block []string
			for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || indent(lines[i+1]) > len(m[1])) {
				i++
				block = append(block, strings.TrimSpace(lines[i]))
			}
			v = strings.Join(block, " ")
		case strings.HasPrefix(v, `"`):
			u, err := strconv.Unquote(v)
			if err != nil {
				t.Fatalf("prometheus-alerts.yml:%d: %v", i+1, err)
			}
			v = u
		case strings.HasPrefix(v, "'"):
			v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'"), "''", "'")
		}
		if strings.TrimSpace(v) == "" {
			t.Errorf("prometheus-alerts.yml:%d: empty expr", i+1)
		}
		exprs = append(exprs, v)
	}
	return exprs, alerts
}

// TestDashboardAndAlertsUseServedMetrics checks that every metric the
// dashboard and the alerts query is one the server serves, and that each
// still covers what it is for.
func TestDashboardAndAlertsUseServedMetrics(t *testing.T) {
	collect := func(exprs []string) []string {
		var names []string
		for _, e := range exprs {
			names = append(names, metricNames(e)...)
		}
		slices.Sort(names)
		return slices.Compact(names)
	}

	dashboard := collect(dashboardQueries(t))
	exprs, alerts := alertExprs(t)
	if alerts == 0 || alerts != len(exprs) {
		t.Errorf("prometheus-alerts.yml has %d alerts and %d exprs", alerts, len(exprs))
	}
	alerting := collect(exprs)
	served := servedMetricNames(t)

	for _, f := range []struct {
		file        string
		names, want []string
	}{
		{"grafana-dashboard.json", dashboard, dashboardMetrics},
		{"prometheus-alerts.yml", alerting, alertMetrics},
	} {
		t.Logf("%s queries %s", f.file, strings.Join(f.names, " "))
		if len(f.names) == 0 {
			t.Errorf("%s queries no metric", f.file)
		}
		for _, n := range f.names {
			if !slices.Contains(served, n) {
				t.Errorf("%s queries %s, which the server does not serve", f.file, n)
			}
		}
		for _, n := range f.want {
			if !slices.Contains(f.names, n) {
				t.Errorf("%s no longer queries %s", f.file, n)
			}
		}
	}
}
