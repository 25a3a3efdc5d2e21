package dashboards

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
	"github.com/cskpi/cskpi/windows/kpi"
)

// panel is the part of a dashboard panel's JSON these tests read.
type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Options struct {
		Content                  string `json:"content"`
		AlertInstanceLabelFilter string `json:"alertInstanceLabelFilter"`
	} `json:"options"`
	Transformations []struct {
		ID      string `json:"id"`
		Options struct {
			RenameByName map[string]string `json:"renameByName"`
			IndexByName  map[string]int    `json:"indexByName"`
		} `json:"options"`
	} `json:"transformations"`
	FieldConfig struct {
		Defaults struct {
			Thresholds thresholdSteps `json:"thresholds"`
		} `json:"defaults"`
		Overrides []struct {
			Matcher struct {
				Options string `json:"options"`
			} `json:"matcher"`
			Properties []struct {
				ID    string          `json:"id"`
				Value json.RawMessage `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
}

type thresholdSteps struct {
	Steps []struct {
		Value *float64 `json:"value"`
	} `json:"steps"`
}

// values are the steps' values but the base's.
func (t thresholdSteps) values() []float64 {
	var out []float64
	for _, s := range t.Steps {
		if s.Value != nil {
			out = append(out, *s.Value)
		}
	}
	return out
}

// board is the part of a dashboard's JSON these tests read.
type board struct {
	UID   string `json:"uid"`
	Links []struct {
		Title string `json:"title"`
		URL   string `json:"url"`
	} `json:"links"`
	Templating struct {
		List []struct {
			Name    string `json:"name"`
			Type    string `json:"type"`
			Query   any    `json:"query"`
			Current struct {
				Value string `json:"value"`
			} `json:"current"`
			Options []struct {
				Value string `json:"value"`
			} `json:"options"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

func boardsOf(t *testing.T, cfg rules.Config) map[string]board {
	t.Helper()
	all, err := All(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]board{}
	for _, b := range all {
		data, err := JSON(b.Dashboard)
		if err != nil {
			t.Fatal(err)
		}
		var d board
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", b.File, err)
		}
		out[d.UID] = d
	}
	return out
}

func boards(t *testing.T) map[string]board { return boardsOf(t, rules.Default()) }

func exprs(d board) string {
	var b strings.Builder
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			b.WriteString(tg.Expr + "\n")
		}
	}
	return b.String()
}

// columns are a table panel's columns, by name, with the target that fills each.
func (p panel) columns() map[string]string {
	out := map[string]string{}
	for _, tr := range p.Transformations {
		for ref, name := range tr.Options.RenameByName {
			for _, tg := range p.Targets {
				if "Value #"+tg.RefID == ref {
					out[name] = tg.Expr
				}
			}
		}
	}
	return out
}

// thresholds are the thresholds a table column's override sets, or nil.
func (p panel) columnThresholds(t *testing.T, name string) []float64 {
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.Options != name {
			continue
		}
		for _, prop := range o.Properties {
			if prop.ID == "thresholds" {
				var ts thresholdSteps
				if err := json.Unmarshal(prop.Value, &ts); err != nil {
					t.Fatal(err)
				}
				return ts.values()
			}
		}
	}
	return nil
}

func panelTitled(t *testing.T, d board, prefix string) panel {
	t.Helper()
	for _, p := range d.Panels {
		if strings.HasPrefix(p.Title, prefix) {
			return p
		}
	}
	t.Fatalf("%s has no panel %q", d.UID, prefix)
	return panel{}
}

// TestKPIsCharted: the shop overview charts every KPI of CONTRACT §4 (the response times per
// scene), the waiting gauges of both scenes and of each, the first-response counts, and no
// longer the oldest wait; the leaderboard every agent KPI, the buyers served and active, the
// first responses, the buyer messages answered and the scorecard.
func TestKPIsCharted(t *testing.T) {
	bs := boards(t)
	for _, tc := range []struct {
		dashboard string
		kpis      []rules.KPI
		records   []string
		absent    []string
	}{
		{"cskpi-shop-overview", rules.ShopKPIs(),
			[]string{rules.Sum(kpi.WaitingConversations), rules.Sum(kpi.WaitingOver), rules.Sum(kpi.FirstResponses),
				rules.SceneSum(kpi.WaitingConversations), rules.SceneSum(kpi.WaitingOver),
				rules.SceneSum(kpi.ResponseTimeSum), rules.SceneSum(kpi.Responses)},
			[]string{rules.Sum(kpi.WaitingOldest), rules.SceneSum(kpi.WaitingOldest)}},
		{"cskpi-agent-leaderboard", rules.AgentKPIs(),
			[]string{rules.Sum(kpi.AgentBuyersServed), rules.Sum(kpi.AgentBuyersActive), rules.Sum(kpi.AgentFirstResponses),
				rules.Sum(kpi.AgentBuyerMessagesAnswered), rules.Sum(kpi.AgentMessages), rules.AgentScore}, nil},
	} {
		t.Run(tc.dashboard, func(t *testing.T) {
			all := exprs(bs[tc.dashboard])
			records := tc.records
			for _, k := range tc.kpis {
				if chartedByScene(k.ID) {
					records = append(records, k.SceneRecord)
					continue
				}
				records = append(records, k.Record)
			}
			for _, r := range records {
				if !strings.Contains(all, r+"{") {
					t.Errorf("no panel queries %s", r)
				}
			}
			for _, r := range tc.absent {
				if strings.Contains(all, r+"{") {
					t.Errorf("a panel still queries %s", r)
				}
			}
		})
	}
}

// TestKPIPanelsQueryRecordingRules: KPI panels read the recording rules (aggregated over
// instances), never a raw per-instance gauge, and filter by the shop selector; agent
// queries by the agent selector too.
func TestKPIPanelsQueryRecordingRules(t *testing.T) {
	raw := regexp.MustCompile(`(^|[^:\w])cskpi_\w+`)
	for uid, d := range boards(t) {
		if uid == "cskpi-service-health" {
			continue
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if m := raw.FindString(tg.Expr); m != "" {
					t.Errorf("%s / %s queries the raw gauge %s: %s", uid, p.Title, strings.TrimLeft(m, " ("), tg.Expr)
				}
				if !strings.Contains(tg.Expr, shopMatcher) {
					t.Errorf("%s / %s ignores the shop selector: %s", uid, p.Title, tg.Expr)
				}
				if strings.Contains(tg.Expr, rules.AgentLevel+":") && strings.Count(tg.Expr, agentMatcher) != strings.Count(tg.Expr, rules.AgentLevel+":") {
					t.Errorf("%s / %s ignores the agent selector somewhere: %s", uid, p.Title, tg.Expr)
				}
			}
		}
	}
}

// TestNoPanelMixesWindows: every query of a chart shows one window, the same as its panel's
// other queries: the picked one, the picked one with a single fallback for a family without
// it, or a fixed one; and the title says which. In a table each column is one query; a
// column of a fixed window names it. What a query shows is what comes before its first
// "and on": after it come the filters that pick the series (human agents, a ranking), which
// may read other windows.
func TestNoPanelMixesWindows(t *testing.T) {
	windowRE := regexp.MustCompile(`window="([^"]*)"`)
	signature := func(expr string) string {
		expr, _, _ = strings.Cut(expr, " and on (")
		var ws []string
		for _, m := range windowRE.FindAllStringSubmatch(expr, -1) {
			if !slices.Contains(ws, m[1]) {
				ws = append(ws, m[1])
			}
		}
		slices.Sort(ws)
		return strings.Join(ws, ",")
	}
	windowed := map[string]bool{rules.AgentScore: true, rules.AgentScorePart: true}
	for _, f := range kpi.Families() {
		windowed[rules.Sum(f.ID)] = len(f.Windows) > 0
		if f.Scene {
			windowed[rules.SceneSum(f.ID)] = len(f.Windows) > 0
		}
	}
	for _, k := range append(rules.ShopKPIs(), rules.AgentKPIs()...) {
		windowed[k.Record] = true
		if k.SceneRecord != "" {
			windowed[k.SceneRecord] = true
		}
	}
	if len(windowed) < 2*len(kpi.Families()) {
		t.Fatalf("%d windowed records known: the per-scene ones missing?", len(windowed))
	}
	selector := regexp.MustCompile(`(\w+:\w+:\w+)\{([^}]*)\}`)
	for uid, d := range boards(t) {
		for _, p := range d.Panels {
			sigs := map[string]bool{}
			for _, tg := range p.Targets {
				for _, m := range selector.FindAllStringSubmatch(tg.Expr, -1) {
					if windowed[m[1]] && !strings.Contains(m[2], "window=") {
						t.Errorf("%s / %s shows %s in every window: %s", uid, p.Title, m[1], tg.Expr)
					}
				}
				sig := signature(tg.Expr)
				ws := strings.Split(sig, ",")
				fixed := slices.DeleteFunc(slices.Clone(ws), func(w string) bool { return w == WindowVar || w == "" })
				switch {
				case p.Type == "table" && len(fixed) == 1 && !slices.Contains(ws, WindowVar):
					if name := p.columns(); !slices.ContainsFunc(mapKeys(name), func(n string) bool {
						return name[n] == tg.Expr && strings.Contains(n, fixed[0])
					}) {
						t.Errorf("%s / %s: a column of the %s window does not say so", uid, p.Title, fixed[0])
					}
				case len(fixed) > 1:
					t.Errorf("%s / %s mixes windows %v in one query: %s", uid, p.Title, fixed, tg.Expr)
				}
				if p.Type == "table" {
					continue
				}
				sigs[sig] = true
				switch {
				case slices.Contains(ws, WindowVar) && !strings.Contains(p.Title, WindowVar):
					t.Errorf("%s / %s follows the window variable and does not say so", uid, p.Title)
				case len(fixed) == 1 && !strings.Contains(p.Title, fixed[0]):
					t.Errorf("%s / %s shows the %s window and does not say so", uid, p.Title, fixed[0])
				}
			}
			if len(sigs) > 1 {
				t.Errorf("%s / %s mixes windows: %v", uid, p.Title, mapKeys(sigs))
			}
		}
	}
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestInWindow: a record follows the window variable, falls back to its shortest window
// when it lacks the picked one, or keeps its only window.
func TestInWindow(t *testing.T) {
	const r = "shop:x:sum"
	for _, tc := range []struct {
		windows     []string
		expr, title string
	}{
		{[]string{"15m", "24h", "28d"}, `shop:x:sum{shop=~"$shop", window="$window"}`, "$window"},
		{[]string{"24h", "28d"}, `(shop:x:sum{shop=~"$shop", window="$window"} or ignoring (window) shop:x:sum{shop=~"$shop", window="24h"})`,
			"$window (at least 24h)"},
		{[]string{"28d"}, `shop:x:sum{shop=~"$shop", window="28d"}`, "28d"},
		{[]string{"24h"}, `shop:x:sum{shop=~"$shop", window="24h"}`, "24h"},
	} {
		t.Run(strings.Join(tc.windows, ","), func(t *testing.T) {
			if got := inWindow(r, tc.windows, shopMatcher); got != tc.expr {
				t.Errorf("inWindow = %s, want %s", got, tc.expr)
			}
			if got := windowTitle(tc.windows); got != tc.title {
				t.Errorf("windowTitle = %s, want %s", got, tc.title)
			}
		})
	}
}

// TestLayout: panels have unique ids, fit the 24-column grid and do not overlap; every
// panel but a row, the alert list and the runbook links has a query.
func TestLayout(t *testing.T) {
	for uid, d := range boards(t) {
		t.Run(uid, func(t *testing.T) {
			ids := map[int]bool{}
			type cell struct{ x, y int }
			used := map[cell]string{}
			for _, p := range d.Panels {
				if p.ID == 0 || ids[p.ID] {
					t.Errorf("%s: id %d missing or repeated", p.Title, p.ID)
				}
				ids[p.ID] = true
				g := p.GridPos
				if g.W <= 0 || g.H <= 0 || g.X+g.W > 24 {
					t.Errorf("%s: gridPos %+v outside the grid", p.Title, g)
				}
				for x := g.X; x < g.X+g.W; x++ {
					for y := g.Y; y < g.Y+g.H; y++ {
						if other, ok := used[cell{x, y}]; ok {
							t.Fatalf("%s overlaps %s at (%d,%d)", p.Title, other, x, y)
						}
						used[cell{x, y}] = p.Title
					}
				}
				if !slices.Contains([]string{"row", "alertlist", "text"}, p.Type) && len(p.Targets) == 0 {
					t.Errorf("%s: no query", p.Title)
				}
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					if tg.RefID == "" || refs[tg.RefID] {
						t.Errorf("%s: refId %q missing or repeated", p.Title, tg.RefID)
					}
					refs[tg.RefID] = true
				}
			}
		})
	}
}

// TestTables: a table's columns join on its key labels alone; a "worst now" table ranks, so
// that its rows are bounded however many shops or agents there are; and every column that
// has a target is coloured against it.
func TestTables(t *testing.T) {
	cfg := rules.Default()
	bands := []float64{60, 80, 100, 121}
	rt := []float64{cfg.ResponseTimeThreshold.Seconds()}
	aftersale := []float64{cfg.AftersaleResponseTimeThreshold.Seconds()}
	bs := boards(t)
	for _, tc := range []struct {
		dashboard, table string
		keys             []string
		ranked           bool
		thresholds       map[string][]float64 // every column, nil where it has no target
	}{
		{"cskpi-shop-overview", "Worst shops now", []string{"shop"}, true, map[string][]float64{
			"Live breaches": {1}, "Pre-sale waiting > 15s": {1}, "Pre-sale response time": rt, "After-sale response time": aftersale,
			"First response time": nil, "Reply rate (回复率)": nil}},
		{"cskpi-agent-leaderboard", "Worst agents now", []string{"shop", "agent"}, true, map[string][]float64{
			"Load band, 24h": bands, "Buyers served, 24h": bands, "Active buyers now": nil, "Avg response time": rt,
			"First response time": nil, "Q&A ratio (问答比)": nil, "Scorecard, 28d": nil}},
		{"cskpi-agent-leaderboard", "All agents", []string{"shop", "agent"}, false, map[string][]float64{
			"Buyers served, 24h": bands, "Active buyers now": nil, "Avg response time": rt, "First response time": nil,
			"Business-hours response time": rt, "Q&A ratio (问答比)": nil, "Replies sent": nil, "Buyer messages answered": nil,
			"Consult conversion": {cfg.Scorecard.Conversion}, "Inquiry order value": {cfg.Scorecard.OrderValue},
			"Guided GMV": nil, "Scorecard, 28d": nil}},
	} {
		t.Run(tc.table, func(t *testing.T) {
			p := panelTitled(t, bs[tc.dashboard], tc.table)
			cols := p.columns()
			if got, want := mapKeys(cols), mapKeys(tc.thresholds); !slices.Equal(got, want) {
				t.Fatalf("columns %q, want %q", got, want)
			}
			for name, expr := range cols {
				if by := "max by (" + strings.Join(tc.keys, ", ") + ") ("; !strings.HasPrefix(expr, by) {
					t.Errorf("%s: does not keep just its keys (%s): %s", name, by, expr)
				}
				if tc.ranked && !strings.Contains(expr, "topk(") {
					t.Errorf("%s: unranked: %s", name, expr)
				}
				if got, want := p.columnThresholds(t, name), tc.thresholds[name]; !slices.Equal(got, want) {
					t.Errorf("%s: thresholds %v, want %v", name, got, want)
				}
			}
		})
	}
}

// TestBotsLeftOut: the agent selector and every agent chart or table that reads a sum (which
// a bot has, as zeros) keep to the human agents.
func TestBotsLeftOut(t *testing.T) {
	d := boards(t)["cskpi-agent-leaderboard"]
	filter := humans(shopMatcher, agentMatcher)
	for _, p := range d.Panels {
		if p.Type == "stat" { // totals over the agents: a bot's zeros add nothing
			continue
		}
		for _, tg := range p.Targets {
			if strings.Contains(tg.Expr, ":sum{") && !strings.Contains(tg.Expr, filter) {
				t.Errorf("%s does not leave the bots out: %s", p.Title, tg.Expr)
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Name == "agent" && v.Query != "query_result("+humans(shopMatcher)+")" {
			t.Errorf("the agent variable offers bots too: %v", v.Query)
		}
	}
}

// TestVariables: the window variable offers every window and starts on the alert's; every
// variable a query uses is defined.
func TestVariables(t *testing.T) {
	cfg := rules.Default()
	used := regexp.MustCompile(`\$\{?(\w+)`)
	for uid, d := range boards(t) {
		t.Run(uid, func(t *testing.T) {
			defined := map[string]bool{"__rate_interval": true}
			for _, v := range d.Templating.List {
				defined[v.Name] = true
				if v.Name != "window" {
					continue
				}
				var opts []string
				for _, o := range v.Options {
					opts = append(opts, o.Value)
				}
				if !slices.Equal(opts, Windows()) || v.Current.Value != cfg.ResponseTimeWindow {
					t.Errorf("window variable: options %v, current %s; want %v, %s", opts, v.Current.Value, Windows(), cfg.ResponseTimeWindow)
				}
			}
			for _, p := range d.Panels {
				for _, tg := range p.Targets {
					for _, m := range used.FindAllStringSubmatch(tg.Expr, -1) {
						if !defined[m[1]] {
							t.Errorf("%s uses the undefined variable %s", p.Title, m[1])
						}
					}
				}
			}
		})
	}
}

// TestRunbookLinks: every alert is linked, with its own runbook_url, from the runbook panel of
// exactly one dashboard, next to an alert list filtered to cskpi's alerts and the dashboard's
// selection; the dashboards link the runbook the rules' configuration names.
func TestRunbookLinks(t *testing.T) {
	cfg := rules.Default()
	cfg.RunbookURL = "https://docs.example.invalid/cskpi/RUNBOOK.md"
	bs := boardsOf(t, cfg)
	selection := map[string][]string{
		"cskpi-shop-overview":     {"shop"},
		"cskpi-agent-leaderboard": {"shop", "agent"},
		"cskpi-service-health":    nil,
	}
	for _, g := range rules.Alerts(cfg) {
		for _, r := range g.Rules {
			if !strings.HasPrefix(r.Alert, alertPrefix) {
				t.Errorf("%s: no %s prefix, so no alert list shows it", r.Alert, alertPrefix)
			}
			link := "[" + r.Alert + "](" + r.Annotations["runbook_url"] + ")"
			var on []string
			for uid, d := range bs {
				if strings.Contains(panelTitled(t, d, "Runbook").Options.Content, link) {
					on = append(on, uid)
				}
			}
			if len(on) != 1 {
				t.Errorf("%s is linked from %v, want one dashboard", link, on)
			}
		}
	}
	for uid, d := range bs {
		t.Run(uid, func(t *testing.T) {
			if !strings.Contains(panelTitled(t, d, "Runbook").Options.Content, "[Runbook]("+cfg.RunbookURL+")") {
				t.Error("the runbook panel does not link the runbook")
			}
			if !slices.ContainsFunc(d.Links, func(l struct {
				Title string `json:"title"`
				URL   string `json:"url"`
			}) bool {
				return l.URL == cfg.RunbookURL
			}) {
				t.Errorf("no dashboard link to %s: %+v", cfg.RunbookURL, d.Links)
			}
			filter := panelTitled(t, d, "Alerts").Options.AlertInstanceLabelFilter
			if !strings.Contains(filter, `alertname=~"`+alertPrefix) {
				t.Errorf("alert list filter %s shows more than cskpi's alerts", filter)
			}
			for _, v := range selection[uid] {
				if !strings.Contains(filter, v+`=~"${`+v+`:regex}"`) {
					t.Errorf("alert list filter %s ignores the %s selection", filter, v)
				}
			}
		})
	}
}

// TestLoadBandThresholds: the buyers-served bar gauge is coloured by CONTRACT §4's bands.
func TestLoadBandThresholds(t *testing.T) {
	d := boards(t)["cskpi-agent-leaderboard"]
	for _, p := range d.Panels {
		if p.Type != "bargauge" {
			continue
		}
		if got, want := p.FieldConfig.Defaults.Thresholds.values(), []float64{60, 80, 100, 121}; !slices.Equal(got, want) {
			t.Errorf("thresholds %v, want %v", got, want)
		}
		return
	}
	t.Fatal("no bar gauge of buyers served")
}

// TestSchema: every generated dashboard, and every committed one, passes the dashboard
// schema of the Grafana Foundation SDK in go.mod (Validate); and the check does catch
// what it should.
func TestSchema(t *testing.T) {
	all, err := All(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range all {
		t.Run("generated/"+b.File, func(t *testing.T) {
			data, err := JSON(b.Dashboard)
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(data); err != nil {
				t.Error(err)
			}
		})
	}
	committed, err := filepath.Glob(filepath.Join("..", "provisioning", "dashboards", "*.json"))
	if err != nil || len(committed) == 0 {
		t.Fatalf("no committed dashboards: %v", err)
	}
	for _, f := range committed {
		t.Run("committed/"+filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(data); err != nil {
				t.Error(err)
			}
		})
	}

	good, err := JSON(all[0].Dashboard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"unknown dashboard field", `"uid":`, `"bogus": 1, "uid":`},
		{"unknown panel field", `"fieldConfig":`, `"bogus": 1, "fieldConfig":`},
		{"wrong type", `"editable": true`, `"editable": "yes"`},
		{"unknown option of a panel type", `"reduceOptions":`, `"bogus": 1, "reduceOptions":`},
		{"unknown query field", `"refId":`, `"bogus": 1, "refId":`},
		{"unknown field config key", `"defaults": {`, `"defaults": {"bogus": 1, `},
		{"required field null", `"placement": "bottom"`, `"placement": null`},
	} {
		t.Run("rejects/"+tc.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tc.old, tc.new, 1)
			if bad == string(good) {
				t.Fatalf("%q not in the dashboard", tc.old)
			}
			if err := Validate([]byte(bad)); err == nil {
				t.Error("passes")
			} else {
				t.Log(err)
			}
		})
	}
}

// TestScenesApart: the shop overview shows the response time of each scene against that
// scene's target (its own panel and stat, its own table column), and the waiting buyers per
// scene; the pre-sale waiting column counts pre-sale buyers only.
func TestScenesApart(t *testing.T) {
	cfg := rules.Default()
	d := boards(t)["cskpi-shop-overview"]
	for _, tc := range []struct {
		scene, title string
		target       float64
	}{
		{rules.Presale, "Pre-sale", cfg.ResponseTimeThreshold.Seconds()},
		{rules.Aftersale, "After-sale", cfg.AftersaleResponseTimeThreshold.Seconds()},
	} {
		t.Run(tc.scene, func(t *testing.T) {
			scene := `scene="` + tc.scene + `"`
			for _, title := range []string{tc.title + " average response time, ", tc.title + " average response time 响应时长"} {
				p := panelTitled(t, d, title)
				if len(p.Targets) != 1 || !strings.Contains(p.Targets[0].Expr, scene) || strings.Contains(p.Targets[0].Expr, rules.ShopLevel+":") {
					t.Errorf("%s: queries %v, want the %s scene's records only", p.Title, p.Targets, tc.scene)
				}
				if got := p.FieldConfig.Defaults.Thresholds.values(); !slices.Equal(got, []float64{tc.target}) {
					t.Errorf("%s: thresholds %v, want the %s target %v", p.Title, got, tc.scene, tc.target)
				}
			}
			col := panelTitled(t, d, "Worst shops now").columns()[tc.title+" response time"]
			if !strings.Contains(col, rules.SceneRecord(kpi.ResponseTime)+"{") || !strings.Contains(col, scene) {
				t.Errorf("the %s column reads %s", tc.scene, col)
			}
		})
	}
	waiting := panelTitled(t, d, "Buyers waiting by scene")
	if len(waiting.Targets) != 1 || !strings.Contains(waiting.Targets[0].Expr, rules.SceneSum(kpi.WaitingConversations)+"{") {
		t.Errorf("buyers waiting by scene: %v", waiting.Targets)
	}
	breaches := panelTitled(t, d, "Live waiting breaches by scene")
	if len(breaches.Targets) != 1 || strings.Count(breaches.Targets[0].Expr, rules.SceneSum(kpi.WaitingOver)+"{") != 2 {
		t.Errorf("live waiting breaches by scene: %v", breaches.Targets)
	}
	col, _, _ := strings.Cut(panelTitled(t, d, "Worst shops now").columns()["Pre-sale waiting > 15s"], " and on (")
	if strings.Count(col, `scene="presale"`) != 2 || strings.Count(col, rules.SceneSum(kpi.WaitingOver)+"{") != 2 {
		t.Errorf("the pre-sale waiting column counts other scenes: %s", col)
	}
}
