package rules

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/shops"
)

const promtoolInstall = "apt-get install -y prometheus (Debian's package ships promtool)"

// TestPromtool checks the committed rule files with promtool and runs its unit tests
// (deploy/prometheus/tests): each alert fires when it should and stays silent when it
// should not, and the recording rules compute CONTRACT §4. That the committed files are what
// this package generates is deploy's TestGeneratedFilesUpToDate.
func TestPromtool(t *testing.T) {
	promtool := testenv.RequireTool(t, "promtool", promtoolInstall)
	tests, err := filepath.Glob(filepath.Join("..", "tests", "*.yml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no promtool unit tests in ../tests: %v", err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"check rules", []string{"check", "rules", filepath.Join("..", "rules.yml"), filepath.Join("..", "alerts.yml")}},
		{"test rules", append([]string{"test", "rules"}, tests...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(promtool, tc.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
			t.Logf("promtool %s:\n%s", strings.Join(tc.args, " "), out)
		})
	}
}

// TestEveryFamilyAggregated: each KPI family of CONTRACT §3 has its over-instances rule, a sum,
// except the oldest wait, a max. A family with the scene label has one per scene, which
// keeps the label, and one of both scenes together, aggregated from it.
func TestEveryFamilyAggregated(t *testing.T) {
	records := map[string]string{}
	for _, g := range Recording(Default()) {
		for _, r := range g.Rules {
			records[r.Record] = r.Expr
		}
	}
	for _, f := range kpi.Families() {
		t.Run(f.Name, func(t *testing.T) {
			op := "sum"
			if f.ID == kpi.WaitingOldest {
				op = "max"
			}
			want := map[string]string{Sum(f.ID): op + " without (instance, pod) (" + f.Name + ")"}
			if f.Scene {
				want = map[string]string{
					SceneSum(f.ID): op + " without (instance, pod) (" + f.Name + ")",
					Sum(f.ID):      op + " without (scene) (" + SceneSum(f.ID) + ")",
				}
				if !strings.HasPrefix(SceneSum(f.ID), SceneLevel+":") || !strings.HasPrefix(Sum(f.ID), ShopLevel+":") {
					t.Errorf("levels of %s and %s", SceneSum(f.ID), Sum(f.ID))
				}
			} else if SceneSum(f.ID) != "" {
				t.Errorf("SceneSum of a family without the scene label: %q", SceneSum(f.ID))
			}
			for name, w := range want {
				expr, ok := records[name]
				if !ok {
					t.Fatalf("no recording rule %s", name)
				}
				if expr != w {
					t.Errorf("%s = %q, want %q", name, expr, w)
				}
			}
		})
	}
}

// TestSceneRecords: a KPI whose two families carry the scene label is recorded per scene and
// for both scenes together, under the same metric:operations at two levels; any other KPI
// once (CONTRACT §4: "every ratio of the shop level exists per scene and for both
// together"; the inquiry KPIs are pre-sale by definition, and orders, refunds and human
// messages have no scene).
func TestSceneRecords(t *testing.T) {
	var perScene []kpi.RatioID
	for _, k := range append(ShopKPIs(), AgentKPIs()...) {
		if k.SceneRecord == "" {
			if k.Scene() {
				t.Errorf("%s: no per-scene record", k.Record)
			}
			continue
		}
		perScene = append(perScene, k.ID)
		_, ops, _ := strings.Cut(k.Record, ":")
		if k.SceneRecord != SceneLevel+":"+ops || !strings.HasPrefix(k.Record, ShopLevel+":") {
			t.Errorf("%s per scene is %s", k.Record, k.SceneRecord)
		}
	}
	want := []kpi.RatioID{kpi.ResponseTime, kpi.ResponseRate, kpi.ReplyRate24h, kpi.BusinessResponseTime, kpi.ReplyRate48h}
	if !slices.Equal(perScene, want) {
		t.Errorf("KPIs per scene %v, want %v", perScene, want)
	}
	if got := SceneRecord(kpi.ResponseTime); got != "shop_scene:cskpi_response_time_seconds:mean" {
		t.Errorf("SceneRecord(ResponseTime) = %s", got)
	}
	if got := Record(kpi.ResponseTime); got != "shop:cskpi_response_time_seconds:mean" {
		t.Errorf("Record(ResponseTime) = %s: the name dashboards and alerts of earlier releases query", got)
	}
}

// TestRecordingRuleNames: level:metric:operations, with the level matching the labels the
// rule keeps and every quotient guarded against a zero denominator.
func TestRecordingRuleNames(t *testing.T) {
	name := regexp.MustCompile(`^(shop|shop_scene|shop_agent|job):cskpi_[a-z0-9_]+:(sum|max|mean|ratio|rate5m)$`)
	seen := map[string]bool{}
	for _, g := range Recording(Default()) {
		for _, r := range g.Rules {
			t.Run(r.Record, func(t *testing.T) {
				if !name.MatchString(r.Record) {
					t.Errorf("name does not follow level:metric:operations")
				}
				if seen[r.Record] {
					t.Errorf("recorded twice")
				}
				seen[r.Record] = true
				// The scorecard divides by positive configured targets and weights; a mean
				// response time of 0 s gives +Inf there, which clamp_max makes a full score.
				scorecard := r.Record == AgentScorePart || r.Record == AgentScore
				if strings.Contains(r.Expr, " / ") && !strings.Contains(r.Expr, " > 0)") && !scorecard {
					t.Errorf("quotient %q without a guard against a zero denominator", r.Expr)
				}
			})
		}
	}
	for _, k := range append(ShopKPIs(), AgentKPIs()...) {
		if !seen[k.Record] {
			t.Errorf("KPI %s (%s) is not recorded", k.Record, k.Name)
		}
		if k.SceneRecord != "" && !seen[k.SceneRecord] {
			t.Errorf("KPI %s (%s) per scene is not recorded", k.SceneRecord, k.Name)
		}
		level := strings.SplitN(k.Record, ":", 2)[0]
		if want := map[bool]string{false: ShopLevel, true: AgentLevel}[k.Num.Family().Level == kpi.AgentWindow || k.Num.Family().Level == kpi.AgentOnly]; level != want {
			t.Errorf("%s: level %s, want %s", k.Record, level, want)
		}
		if len(k.Windows()) == 0 {
			t.Errorf("%s: numerator and denominator share no window", k.Record)
		}
	}
}

// TestCatalogueComplete: every quotient of CONTRACT §4 is among the shop KPIs.
func TestCatalogueComplete(t *testing.T) {
	want := [][2]kpi.ID{
		{kpi.ResponseTimeSum, kpi.Responses},
		{kpi.ResponsesWithin, kpi.Responses},
		{kpi.BuyerMessagesReplied, kpi.BuyerMessages},
		{kpi.InquiriesReplied, kpi.Inquiries},
		{kpi.InquiriesGuided, kpi.InquiriesReplied},
		{kpi.InquiriesGuided, kpi.Inquiries},
		{kpi.GuidedGMV, kpi.InquiriesGuided},
		{kpi.OrdersPaid, kpi.OrdersCreated},
		{kpi.HumanMessages, kpi.BuyerMessages},
		{kpi.RefundsDisputed, kpi.OrdersPaid},
		{kpi.RefundsByMerchant, kpi.RefundsCompleted},
		{kpi.RefundDurationSum, kpi.RefundsCompleted},
		{kpi.FirstResponseTimeSum, kpi.FirstResponses},
		{kpi.ResponseBusinessTimeSum, kpi.Responses},
		{kpi.FirstResponseBusinessTimeSum, kpi.FirstResponses},
		{kpi.BuyerMessagesReplied48h, kpi.BuyerMessages},
		{kpi.OrdersCreatedPaid24h, kpi.OrdersCreated},
	}
	var got [][2]kpi.ID
	for _, k := range ShopKPIs() {
		got = append(got, [2]kpi.ID{k.Num, k.Den})
	}
	if !slices.Equal(got, want) {
		t.Errorf("shop KPIs\n got %v\nwant %v", got, want)
	}
}

// TestAlertsAnnotatedAndInRunbook: every alert has a severity, a summary and a description
// naming what it is about, and a runbook_url whose anchor is a heading of docs/RUNBOOK.md.
func TestAlertsAnnotatedAndInRunbook(t *testing.T) {
	runbook, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "RUNBOOK.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(runbook), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[Anchor(h)] = true
		}
	}
	// What each alert's summary and description must show: whom it is about and, where
	// the value says something, the value.
	annotated := map[string][]string{
		ResponseTimeHigh:      {"{{ $labels.shop }}", "{{ $value | humanizeDuration }}"},
		BuyerWaiting:          {"{{ $labels.shop }}", "{{ $value }}"},
		AgentOverloaded:       {"{{ $labels.agent }}", "{{ $labels.shop }}", "{{ $value }}"},
		TargetDown:            {"{{ $labels.instance }}"},
		ConsumerLagGrowing:    {"{{ $labels.topic }}", "{{ $value }}"},
		RedisDown:             {"{{ $labels.instance }}"},
		KafkaDown:             {"{{ $labels.instance }}"},
		EventsRejected:        {"{{ $labels.topic }}", "{{ $value | humanizePercentage }}"},
		RejectReasonNew:       {"{{ $labels.topic }}", "{{ $labels.reason }}"},
		NoEventsApplied:       {"{{ $labels.topic }}", "{{ $value }}"},
		PartitionStateMissing: {"{{ $labels.instance }}", "{{ $labels.partition }}"},
		PartitionsUnowned:     {"{{ $value }}"},
		PartitionStateRefused: {"{{ $labels.instance }}", "{{ $labels.partition }}", "{{ $labels.reason }}"},
		PartitionStalled:      {"{{ $labels.instance }}", "{{ $labels.partition }}", "{{ $labels.stage }}"},
		ConfigReloadFailed:    {"{{ $labels.instance }}"},
	}
	cfg := Default()
	for _, g := range Alerts(cfg) {
		for _, r := range g.Rules {
			if _, ok := annotated[r.Alert]; !ok {
				t.Errorf("alert %s is not in this test's table", r.Alert)
			}
			t.Run(r.Alert+"/"+r.Labels["severity"], func(t *testing.T) {
				if s := r.Labels["severity"]; s != Info && s != Warning && s != Critical {
					t.Errorf("severity %q", s)
				}
				for _, a := range []string{"summary", "description"} {
					for _, want := range annotated[r.Alert] {
						if !strings.Contains(r.Annotations[a], want) {
							t.Errorf("%s %q does not contain %s", a, r.Annotations[a], want)
						}
					}
				}
				url, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "#")
				if url != cfg.RunbookURL || anchor != Anchor(r.Alert) {
					t.Errorf("runbook_url %q, want %s#%s", r.Annotations["runbook_url"], cfg.RunbookURL, Anchor(r.Alert))
				}
				if !anchors[anchor] {
					t.Errorf("docs/RUNBOOK.md has no heading \"## %s\"", r.Alert)
				}
			})
		}
	}
}

// TestThresholdsFromConfig: the shipped thresholds are CONTRACT §4's, and changing Config
// changes the expression, the duration and the text together, of each scene's rule.
func TestThresholdsFromConfig(t *testing.T) {
	cfg := Default()
	cfg.ResponseTimeThreshold = 20 * time.Second
	cfg.AftersaleResponseTimeThreshold = 10 * time.Minute
	cfg.ResponseTimeFor = 90 * time.Second
	cfg.WaitingAftersale, cfg.WaitingAftersaleFor = 10*time.Minute, 7*time.Minute
	seen := map[string]bool{}
	for _, g := range Alerts(cfg) {
		for _, r := range g.Rules {
			scene := sceneOf(r.Expr)
			switch {
			case r.Alert == ResponseTimeHigh && scene == Presale:
				if !strings.Contains(r.Expr, ShopTarget+" or on (shop)") || !strings.Contains(r.Expr, "+ 20))") || r.For != "1m30s" ||
					!strings.Contains(r.Annotations["description"], "response_target, 20s without one) for 1m30s") {
					t.Errorf("pre-sale rule with 20s for 90s: expr %q for %q description %q", r.Expr, r.For, r.Annotations["description"])
				}
			case r.Alert == ResponseTimeHigh && scene == Aftersale:
				if !strings.Contains(r.Expr, ShopAftersaleTarget+" or on (shop)") || !strings.Contains(r.Expr, "+ 600))") || r.For != "1m30s" ||
					!strings.Contains(r.Annotations["description"], "aftersale_response_target, 10m without one) for 1m30s") {
					t.Errorf("after-sale rule with 10m for 90s: expr %q for %q description %q", r.Expr, r.For, r.Annotations["description"])
				}
			case r.Alert == BuyerWaiting && scene == Aftersale:
				if !strings.Contains(r.Expr, `scene="aftersale", seconds="600"`) || r.For != "7m" || r.Labels["severity"] != Warning ||
					!strings.Contains(r.Annotations["description"], "between 10m and 1h for a reply at every evaluation for 7m") {
					t.Errorf("after-sale waiting over 10m for 7m: expr %q for %q description %q", r.Expr, r.For, r.Annotations["description"])
				}
			}
			seen[r.Alert+"/"+scene] = true
		}
	}
	for _, want := range []string{ResponseTimeHigh + "/" + Presale, ResponseTimeHigh + "/" + Aftersale, BuyerWaiting + "/" + Presale, BuyerWaiting + "/" + Aftersale} {
		if !seen[want] {
			t.Errorf("no rule %s", want)
		}
	}
	d := Default()
	if d.ResponseTimeThreshold != 15*time.Second || d.AftersaleResponseTimeThreshold != 3*time.Minute || d.ResponseTimeWindow != kpi.W15m ||
		d.ResponseTimeFor != 5*time.Minute || d.WaitingWarning != 15*time.Second || d.WaitingCritical != 3*time.Minute ||
		d.WaitingAftersale != 3*time.Minute || d.AgentBuyersServedMax != 120 ||
		d.LagGrowingFor != 10*time.Minute || d.NoEventsFor != 15*time.Minute {
		t.Errorf("Default() strays from CONTRACT §4 and the runbook: %+v", d)
	}
	// A shop without targets in the directory is held to the directory's defaults.
	if DefaultResponseTarget != shops.DefaultResponseTarget || DefaultAftersaleResponseTarget != shops.DefaultAftersaleResponseTarget {
		t.Errorf("default targets %v and %v, the directory's %v and %v", DefaultResponseTarget, DefaultAftersaleResponseTarget,
			shops.DefaultResponseTarget, shops.DefaultAftersaleResponseTarget)
	}
}

// sceneOf is the scene an alert's expression selects, "" for none.
func sceneOf(expr string) string {
	for _, s := range []string{Presale, Aftersale} {
		if strings.Contains(expr, `scene="`+s+`"`) {
			return s
		}
	}
	return ""
}

// TestSceneAlerts: the scene label's values are windows/kpi's; the response-time and waiting
// alerts exist for each scene, select one, keep its label and say it in their texts; the
// other alerts select none.
func TestSceneAlerts(t *testing.T) {
	if got := kpi.Scenes(); !slices.Equal(got[:], []string{Presale, Aftersale}) {
		t.Fatalf("kpi.Scenes() = %v, want [%s %s]", got, Presale, Aftersale)
	}
	scenes := map[string][]string{}
	for _, g := range Alerts(Default()) {
		for _, r := range g.Rules {
			scene := sceneOf(r.Expr)
			if r.Alert != ResponseTimeHigh && r.Alert != BuyerWaiting {
				if strings.Contains(r.Expr, "scene") {
					t.Errorf("%s selects by scene: %s", r.Alert, r.Expr)
				}
				continue
			}
			scenes[r.Alert] = append(scenes[r.Alert], scene)
			if scene == "" || strings.Contains(r.Expr, `scene="`+map[string]string{Presale: Aftersale, Aftersale: Presale}[scene]+`"`) {
				t.Errorf("%s selects no scene or both: %s", r.Alert, r.Expr)
			}
			if strings.Contains(r.Expr, "without (scene)") || strings.Contains(r.Expr, "by (shop)") {
				t.Errorf("%s drops the scene label: %s", r.Alert, r.Expr)
			}
			for _, a := range []string{"summary", "description", "when"} {
				text := r.Annotations[a]
				if a == "when" {
					text = r.When
				}
				if !strings.Contains(strings.ToLower(text), sceneWords[scene]) {
					t.Errorf("%s (%s) %s %q does not say %s", r.Alert, scene, a, text, sceneWords[scene])
				}
			}
		}
	}
	if want := []string{Presale, Aftersale}; !slices.Equal(scenes[ResponseTimeHigh], want) {
		t.Errorf("%s for scenes %v, want %v", ResponseTimeHigh, scenes[ResponseTimeHigh], want)
	}
	if want := []string{Presale, Presale, Aftersale}; !slices.Equal(scenes[BuyerWaiting], want) {
		t.Errorf("%s for scenes %v, want %v", BuyerWaiting, scenes[BuyerWaiting], want)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{15 * time.Second, "15s"},
		{90 * time.Second, "1m30s"},
		{5 * time.Minute, "5m"},
		{25 * time.Hour, "1d1h"},
		{1500 * time.Millisecond, "1s500ms"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := Duration(tc.d); got != tc.want {
				t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

func TestAnchor(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"CskpiResponseTimeHigh", "cskpiresponsetimehigh"},
		{"Changing a threshold", "changing-a-threshold"},
		{"Buyers waiting (等待), 15 s / 3 min", "buyers-waiting-等待-15-s--3-min"},
	} {
		t.Run(tc.heading, func(t *testing.T) {
			if got := Anchor(tc.heading); got != tc.want {
				t.Errorf("Anchor(%q) = %q, want %q", tc.heading, got, tc.want)
			}
		})
	}
}

func TestLoadBands(t *testing.T) {
	got := LoadBands(Default())
	want := []Band{{0, "idle"}, {60, "normal"}, {80, "full"}, {100, "strained"}, {121, "add staff"}}
	if !slices.Equal(got, want) {
		t.Errorf("LoadBands = %v, want %v", got, want)
	}
}
