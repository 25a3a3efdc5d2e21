package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/demo"
	"github.com/cskpi/cskpi/deploy/grafana/dashboards"
	"github.com/cskpi/cskpi/deploy/prometheus/rules"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/traffic/produce"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
)

const (
	// e2eInterval is the scrape and evaluation interval of the test's Prometheus: short,
	// so that rates and alerts have samples within seconds.
	e2eInterval = time.Second
	// e2eResponseTimeFor replaces the response-time alert's 5m `for` in the test's copy
	// of the rules, so the alert goes from pending to firing within the test.
	e2eResponseTimeFor = 3 * time.Second
	// e2eRateInterval stands in for Grafana's $__rate_interval (4 scrape intervals at
	// least; some more for a loaded machine).
	e2eRateInterval = "10s"
	// e2eDataTimeout bounds the wait for every dashboard query to have data: the demo
	// publishes and applies its history in a few seconds, and Prometheus 2.x starts
	// scraping about 5 s after start-up.
	e2eDataTimeout  = 45 * time.Second
	e2eAlertTimeout = 30 * time.Second
	demoStopTimeout = 30 * time.Second
	slowShop        = "shop-001" // the demo's slow shop (package demo: SlowShops 1)
	demoShops       = 6
)

// TestEndToEnd runs the operations kit against the real thing: Prometheus scrapes `cskpi
// demo` every second and evaluates the rules (a copy with a short `for` on the
// response-time alert). Every query of every dashboard panel must return data in every
// window of the window selector, none may show one of the demo's bots, and the
// response-time alert must fire for the demo's slow shop and never be pending or firing
// for a fast one.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo and a Prometheus")
	}
	// Before starting anything: a missing prometheus skips (or fails under CI) right away.
	testenv.RequireTool(t, "prometheus", "apt-get install -y prometheus")
	began := time.Now()
	ctx := context.Background()

	addr, brokers := startDemo(t)
	publishRefunds(t, brokers)

	cfg := rules.Default()
	cfg.ResponseTimeFor = e2eResponseTimeFor
	rec, alerts, err := RuleFiles(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if shipped, err := os.ReadFile(filepath.Join(root, RecordingRulesFile)); err != nil || string(shipped) != string(rec) {
		t.Fatalf("the recording rules under test are not the shipped %s (%v)", RecordingRulesFile, err)
	}
	p := testenv.StartPrometheus(t, testenv.PrometheusOptions{
		Config: fmt.Sprintf(`
global:
  scrape_interval: %[1]s
  evaluation_interval: %[1]s
rule_files: [rules.yml, alerts.yml]
scrape_configs:
  - job_name: cskpi
    static_configs:
      - targets: [%[2]q]
`, rules.Duration(e2eInterval), addr),
		Files: map[string][]byte{"rules.yml": rec, "alerts.yml": alerts},
	})
	t.Logf("demo on %s, prometheus on %s, after %v", addr, p.URL, time.Since(began).Round(time.Millisecond))

	queries, variables := dashboardQueries(t)
	pending := map[string]string{}
	for expr, where := range queries {
		pending[expr] = where
	}
	t.Cleanup(func() {
		if t.Failed() && len(pending) > 0 {
			for expr, where := range pending {
				t.Logf("no data: %s: %s", where, expr)
			}
			t.Logf("prometheus log:\n%s", p.Log())
		}
	})
	testenv.WaitFor(t, e2eDataTimeout, "every dashboard query to return data", func() bool {
		for expr := range pending {
			got, err := p.Query(ctx, expr)
			if err != nil {
				t.Fatalf("%s: %v", pending[expr], err)
			}
			if slices.ContainsFunc(got, func(s testenv.Sample) bool { return !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) }) {
				for _, s := range got {
					if isBot(s.Metric["agent"]) {
						t.Errorf("%s shows the bot %s of %s: %s", pending[expr], s.Metric["agent"], s.Metric["shop"], expr)
					}
				}
				delete(pending, expr)
			}
		}
		return len(pending) == 0
	})
	t.Logf("%d dashboard queries returned data after %v", len(queries), time.Since(began).Round(time.Millisecond))

	// The bots are there to be left out: the demo's shops have auto-reply accounts.
	bots, err := p.Query(ctx, fmt.Sprintf(`%s{agent=~%q}`, rules.Sum(kpi.AgentMessages), strings.Join(demoBots, "|")))
	if err != nil || len(bots) == 0 {
		t.Errorf("no bot among the demo's agents (%v): the check that dashboards leave them out checks nothing", err)
	}

	// The selectors, queried the way Grafana does over the same Prometheus:
	// label_values(metric, label), or query_result(expr) with a regex over each result.
	for name, v := range variables {
		got, err := p.Query(ctx, v.query)
		if err != nil {
			t.Fatalf("variable %s: %v", name, err)
		}
		values := map[string]bool{}
		shops := map[string]bool{}
		for _, s := range got {
			shops[s.Metric["shop"]] = true
			if v.regex == nil {
				values[s.Metric[v.label]] = true
				continue
			}
			if m := v.regex.FindStringSubmatch(seriesText(s.Metric)); m != nil {
				values[m[1]] = true
			}
		}
		for i := 1; i <= demoShops; i++ {
			if shop := fmt.Sprintf("shop-%03d", i); !values[shop] && !(v.regex != nil && shops[shop]) {
				t.Errorf("variable %s offers nothing of %s: %v", name, shop, values)
			}
		}
		for value := range values {
			if isBot(value) {
				t.Errorf("variable %s offers the bot %s", name, value)
			}
		}
	}

	// The slow shop is slow with its pre-sale buyers, against the 15-second target.
	firing := fmt.Sprintf(`ALERTS{alertname=%q, alertstate="firing", shop=%q, scene=%q}`, rules.ResponseTimeHigh, slowShop, rules.Presale)
	testenv.WaitFor(t, e2eAlertTimeout, rules.ResponseTimeHigh+" firing for "+slowShop+"'s pre-sale buyers", func() bool {
		got, err := p.Query(ctx, firing)
		return err == nil && len(got) == 1
	})

	// Every shop has a pre-sale average to compare with the threshold, so "silent for the
	// fast shops" is not silence for lack of data.
	means, err := p.Query(ctx, fmt.Sprintf(`%s{window=%q, scene=%q}`, rules.SceneRecord(kpi.ResponseTime), cfg.ResponseTimeWindow, rules.Presale))
	if err != nil {
		t.Fatal(err)
	}
	if len(means) != demoShops {
		t.Errorf("%d shops with a pre-sale average response time, want %d", len(means), demoShops)
	}
	for _, m := range means {
		t.Logf("%s: pre-sale average response time %.1fs over %s", m.Metric["shop"], m.Value, cfg.ResponseTimeWindow)
	}
	// ALERTS is recorded for pending alerts too: nothing over the whole run means the
	// fast shops were never even pending.
	others, err := p.Query(ctx, fmt.Sprintf(`count_over_time(ALERTS{alertname=%q, shop!=%q}[1h])`, rules.ResponseTimeHigh, slowShop))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range others {
		t.Errorf("%s was %s for %s, a fast shop", rules.ResponseTimeHigh, o.Metric["alertstate"], o.Metric["shop"])
	}
	t.Logf("end to end in %v", time.Since(began).Round(time.Millisecond))
}

// startDemo runs package demo in-process until the test ends and returns its metrics
// address and its broker addresses.
func startDemo(t *testing.T) (addr string, brokers []string) {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	kafka := make(chan []string, 1)
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, demo.Options{
			ListenAddress: "127.0.0.1:0",
			// Busier than the demo's default, so that every panel has data within seconds.
			Rate:      100,
			Windows:   windows.Config{Location: loc, Thresholds: []int64{15000, 180000}},
			Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
			OnListen:  func(a net.Addr) { addrs <- a },
			OnBrokers: func(b []string) { kafka <- b },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo: %v", err)
			}
		case <-time.After(demoStopTimeout):
			// A hang here would otherwise surface only as the go test timeout, minutes
			// later and without a hint.
			buf := make([]byte, 1<<20)
			t.Errorf("demo did not stop within %v of its context's end; goroutines:\n%s", demoStopTimeout, buf[:runtime.Stack(buf, true)])
		}
	})
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for addr == "" || brokers == nil {
		select {
		case a := <-addrs:
			addr = a.String()
		case b := <-kafka:
			brokers = b
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("demo ended before serving: %v", err)
		case <-deadline.C:
			t.Fatal("demo did not start serving within 30s")
		}
	}
	return addr, brokers
}

// publishRefunds adds a disputed and a completed refund to a fast shop: the synthetic
// shops only refund hours after a payment, and the refund KPIs (28d) are absent while
// their denominators are 0, so without these their panels would have no data.
func publishRefunds(t *testing.T, brokers []string) {
	t.Helper()
	now := time.Now().UTC()
	ts := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339Nano) }
	lines := [][]byte{
		fmt.Appendf(nil, `{"topic":"orders","event_id":"e2e-r1-disputed","shop_id":"shop-002","buyer_id":"e2e-buyer","type":"refund_disputed","order_id":"e2e-o1","refund_id":"e2e-r1","ts":%q}`, ts(3*time.Minute)),
		fmt.Appendf(nil, `{"topic":"orders","event_id":"e2e-r1-completed","shop_id":"shop-002","buyer_id":"e2e-buyer","type":"refund_completed","order_id":"e2e-o1","refund_id":"e2e-r1","refund_requested_at":%q,"completed_by":"merchant","ts":%q}`, ts(30*time.Minute), ts(2*time.Minute)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := produce.Lines(ctx, lines, produce.Options{Brokers: brokers}); err != nil {
		t.Fatalf("publishing refunds to the demo: %v", err)
	}
}

// demoBots are the agent ids of traffic/synth's auto-reply accounts, which send only auto
// messages.
var demoBots = []string{"alime", "auto-reply"}

func isBot(agent string) bool { return slices.Contains(demoBots, agent) }

// variable is a Grafana query variable: label_values(metric, label), whose query is the
// metric, or query_result(expr) with a regex whose first group is the value.
type variable struct {
	query, label string
	regex        *regexp.Regexp
}

// seriesText is a result the way Grafana shows query_result's to a variable's regex.
func seriesText(m map[string]string) string {
	var kv []string
	for k, v := range m {
		if k != "__name__" {
			kv = append(kv, fmt.Sprintf("%s=%q", k, v))
		}
	}
	slices.Sort(kv)
	return m["__name__"] + "{" + strings.Join(kv, ", ") + "}"
}

// dashboardQueries reads every committed dashboard, checks it against the dashboard schema,
// and returns its panels' PromQL with the template variables replaced the way Grafana
// would: a multi-value variable by its "All" value, the window by each of its options in
// turn, the rate interval by e2eRateInterval; keyed to "dashboard / panel" for messages.
// It also returns the query variables, their own variables replaced the same way.
func dashboardQueries(t *testing.T) (map[string]string, map[string]variable) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(DashboardsDir), "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", DashboardsDir, err)
	}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	queryResult := regexp.MustCompile(`^query_result\((.+)\)$`)
	queries := map[string]string{}
	variables := map[string]variable{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := dashboards.Validate(data); err != nil {
			t.Errorf("%s does not pass the dashboard schema: %v", f, err)
		}
		var d struct {
			Title      string  `json:"title"`
			Panels     []panel `json:"panels"`
			Templating struct {
				List []struct {
					Name       string `json:"name"`
					Type       string `json:"type"`
					Query      any    `json:"query"`
					Regex      string `json:"regex"`
					IncludeAll bool   `json:"includeAll"`
					AllValue   string `json:"allValue"`
					Options    []struct {
						Value string `json:"value"`
					} `json:"options"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// Every query's variants: one substitution of each variable, several for a
		// variable with several options.
		substitutions := [][]string{{dashboards.RateIntervalVar, e2eRateInterval}}
		var choices []struct {
			name   string
			values []string
		}
		for _, v := range d.Templating.List {
			switch {
			case v.Type == "query" && v.IncludeAll:
				substitutions = append(substitutions, []string{"$" + v.Name, v.AllValue})
			case v.Type == "custom":
				c := struct {
					name   string
					values []string
				}{name: "$" + v.Name}
				for _, o := range v.Options {
					c.values = append(c.values, o.Value)
				}
				choices = append(choices, c)
			}
		}
		variants := func(expr string) []string {
			out := []string{expr}
			for _, pair := range substitutions {
				out[0] = strings.ReplaceAll(out[0], pair[0], pair[1])
			}
			for _, c := range choices {
				var next []string
				for _, e := range out {
					if !strings.Contains(e, c.name) {
						next = append(next, e)
						continue
					}
					for _, v := range c.values {
						next = append(next, strings.ReplaceAll(e, c.name, v))
					}
				}
				out = next
			}
			return out
		}
		n := 0
		for _, p := range flatten(d.Panels) {
			for _, tg := range p.Targets {
				for _, expr := range variants(tg.Expr) {
					if expr == "" || strings.Contains(expr, "$") {
						t.Fatalf("%s / %s: query %q: empty or with an unknown variable", d.Title, p.Title, tg.Expr)
					}
					queries[expr] = d.Title + " / " + p.Title
					n++
				}
			}
		}
		if n == 0 {
			t.Errorf("%s has no query", d.Title)
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, _ := v.Query.(string)
			name := d.Title + " $" + v.Name
			if m := labelValues.FindStringSubmatch(q); m != nil {
				variables[name] = variable{query: variants(m[1])[0], label: m[2]}
				continue
			}
			m := queryResult.FindStringSubmatch(q)
			re, err := regexp.Compile(strings.TrimSuffix(strings.TrimPrefix(v.Regex, "/"), "/"))
			if m == nil || v.Regex == "" || err != nil {
				t.Fatalf("%s: query %v is neither label_values(metric, label) nor query_result(expr) with a regex (%q: %v)", name, v.Query, v.Regex, err)
			}
			variables[name] = variable{query: variants(m[1])[0], regex: re}
		}
	}
	return queries, variables
}

// panel is the part of a dashboard panel the test reads; rows nest panels when collapsed.
type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}
