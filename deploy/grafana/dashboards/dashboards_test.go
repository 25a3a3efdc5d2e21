package dashboards

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
	"github.com/cskpi/cskpi/windows/kpi"
)

// board is the part of a dashboard's JSON these tests read.
type board struct {
	UID    string `json:"uid"`
	Panels []struct {
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
		FieldConfig struct {
			Defaults struct {
				Thresholds struct {
					Steps []struct {
						Value *float64 `json:"value"`
					} `json:"steps"`
				} `json:"thresholds"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
	} `json:"panels"`
}

func boards(t *testing.T) map[string]board {
	t.Helper()
	all, err := All(rules.Default())
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

func exprs(d board) string {
	var b strings.Builder
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			b.WriteString(tg.Expr + "\n")
		}
	}
	return b.String()
}

// TestKPIsCharted: the shop overview charts every KPI of CONTRACT §4 and the waiting gauges;
// the leaderboard every agent KPI and the buyers served.
func TestKPIsCharted(t *testing.T) {
	bs := boards(t)
	shop, agents := exprs(bs["cskpi-shop-overview"]), exprs(bs["cskpi-agent-leaderboard"])
	for _, tc := range []struct {
		dashboard, all string
		records        []string
	}{
		{"shop overview", shop, []string{rules.Sum(kpi.WaitingConversations), rules.Sum(kpi.WaitingOldest)}},
		{"agent leaderboard", agents, []string{rules.Sum(kpi.AgentBuyersServed)}},
	} {
		t.Run(tc.dashboard, func(t *testing.T) {
			records := tc.records
			kpis := rules.ShopKPIs()
			if tc.dashboard == "agent leaderboard" {
				kpis = rules.AgentKPIs()
			}
			for _, k := range kpis {
				records = append(records, k.Record)
			}
			for _, r := range records {
				if !strings.Contains(tc.all, r+"{") {
					t.Errorf("no panel queries %s", r)
				}
			}
		})
	}
}

// TestKPIPanelsQueryRecordingRules: KPI panels read the recording rules (aggregated over
// instances), never a raw per-instance gauge, and filter by the shop selector.
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
			}
		}
	}
}

// TestLayout: panels have unique ids, fit the 24-column grid and do not overlap; every
// panel but a row has a query.
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
				if p.Type != "row" && len(p.Targets) == 0 {
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

// TestLoadBandThresholds: the buyers-served bar gauge is coloured by CONTRACT §4's bands.
func TestLoadBandThresholds(t *testing.T) {
	d := boards(t)["cskpi-agent-leaderboard"]
	for _, p := range d.Panels {
		if p.Type != "bargauge" {
			continue
		}
		var got []float64
		for _, s := range p.FieldConfig.Defaults.Thresholds.Steps[1:] {
			got = append(got, *s.Value)
		}
		want := []float64{60, 80, 100, 121}
		if len(got) != len(want) {
			t.Fatalf("thresholds %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("thresholds %v, want %v", got, want)
			}
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
