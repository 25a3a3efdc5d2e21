package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
	"github.com/cskpi/cskpi/windows/kpi"
)

// Board is one generated dashboard.
type Board struct {
	File      string // file name in the provisioning directory
	Dashboard dashboard.Dashboard
}

// Template variables the panels' queries use. A test substitutes them to run every query
// against a real Prometheus, the way Grafana would.
const (
	ShopVar         = "$shop"
	AgentVar        = "$agent"
	WindowVar       = "$window"
	RateIntervalVar = "$__rate_interval"
	datasourceVar   = "datasource"
	shopMatcher     = `shop=~"` + ShopVar + `"`
	agentMatcher    = `agent=~"` + AgentVar + `"`
	windowMatcher   = `window="` + WindowVar + `"`
)

// Windows is what the window variable offers: CONTRACT §2's windows, shortest first.
func Windows() []string {
	var out []string
	for _, w := range kpi.Windows() {
		out = append(out, w.Name)
	}
	return out
}

// Panel sizes on Grafana's 24-column grid.
const (
	statH, statW = 4, 6
	smallStatW   = 4 // five stats on a line
	graphH       = 8
	halfW        = 12
	thirdW       = 8
	fullW        = 24
	alertsH      = 8
	alertsW      = 16 // the alert list; the runbook links take the rest of the line
	tableH       = 11
)

// All builds every dashboard for the rules of cfg.
func All(cfg rules.Config) ([]Board, error) {
	var out []Board
	for _, b := range []struct {
		file  string
		build func(rules.Config) *dashboard.DashboardBuilder
	}{
		{"cskpi-shop-overview.json", shopOverview},
		{"cskpi-agent-leaderboard.json", agentLeaderboard},
		{"cskpi-service-health.json", serviceHealth},
	} {
		d, err := b.build(cfg).Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", b.file, err)
		}
		numberPanels(&d)
		out = append(out, Board{File: b.file, Dashboard: d})
	}
	return out, nil
}

// numberPanels gives every panel a stable id in layout order, so that links to a panel
// (viewPanel=, embedding) survive regeneration; Grafana would otherwise assign its own.
func numberPanels(d *dashboard.Dashboard) {
	id := uint32(0)
	for _, p := range d.Panels {
		id++
		switch {
		case p.Panel != nil:
			p.Panel.Id = cog.ToPtr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
}

// JSON renders a dashboard the way it is committed: indented, with a final newline.
func JSON(d dashboard.Dashboard) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "<", ">" and "&" of PromQL and titles readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func newBoard(cfg rules.Config, uid, title, description string, tags ...string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags(append([]string{"cskpi"}, tags...)).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("30s").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Link(dashboard.NewDashboardLinkBuilder("cskpi").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"cskpi"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true)).
		Link(dashboard.NewDashboardLinkBuilder("Runbook").
			Type(dashboard.DashboardLinkTypeLink).
			Icon("doc").
			Tooltip("docs/RUNBOOK.md: each alert, what to check, what to do").
			Url(runbookURL(cfg)).
			TargetBlank(true)).
		WithVariable(dashboard.NewDatasourceVariableBuilder(datasourceVar).
			Label("Data source").
			Type("prometheus"))
}

// shopVariable lists the shops the recording rules know; several may be picked.
func shopVariable() *dashboard.QueryVariableBuilder {
	q := "label_values(" + rules.Sum(kpi.BuyerMessages) + ", shop)"
	return dashboard.NewQueryVariableBuilder("shop").
		Label("Shop").
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Datasource(datasource()).
		Multi(true).
		IncludeAll(true).
		AllValue(".+").
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortNaturalAsc)
}

// windowVariable picks the window every windowed panel shows, so that no panel mixes
// windows; def is the one selected at first.
func windowVariable(def string) *dashboard.CustomVariableBuilder {
	var opts []dashboard.VariableOption
	for _, w := range Windows() {
		opts = append(opts, dashboard.VariableOption{
			Selected: cog.ToPtr(w == def),
			Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr(w)},
			Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr(w)},
		})
	}
	return dashboard.NewCustomVariableBuilder("window").
		Label("Window").
		Description("The window of every windowed panel (CONTRACT §2). A KPI without the picked window shows its shortest " +
			"one (24h for the 24h/28d KPIs when 15m is picked); the refunds, buyers served and the scorecard keep their only window.").
		Values(dashboard.StringOrMap{String: cog.ToPtr(strings.Join(Windows(), ","))}).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(def)},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(def)},
		}).
		Options(opts)
}

// humans is the agents among the selected ones that are people: each sent a human reply in
// the last 28 days. An agent is exported while it sent any message within 28 days (CONTRACT
// §3), so an exported agent without one sent only auto messages (sender auto): a bot, such
// as a shop's auto-reply account, whose zeros would crowd every ranking.
func humans(matchers ...string) string {
	return sel(rules.Sum(kpi.AgentMessages), append(slices.Clone(matchers), window(kpi.W28d))...) + " > 0"
}

// agentVariable lists the human agents of the selected shops. label_values cannot filter by
// value, so the variable runs humans and takes the agent label from each result.
func agentVariable() *dashboard.QueryVariableBuilder {
	q := "query_result(" + humans(shopMatcher) + ")"
	return dashboard.NewQueryVariableBuilder("agent").
		Label("Agent").
		Description("Human agents (客服子账号) of the selected shops; bots, accounts that sent only auto messages, are left out.").
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Regex(`/agent="([^"]+)"/`).
		Datasource(datasource()).
		Multi(true).
		IncludeAll(true).
		AllValue(".+").
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortNaturalAsc)
}

func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + datasourceVar + "}")}
}

// query is one PromQL target; refs are assigned by the panel helpers.
func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Expr(expr).LegendFormat(legend).Datasource(datasource())
}

func targets(qs []*prometheus.DataqueryBuilder) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(qs))
	for i, q := range qs {
		out[i] = q.RefId(string(rune('A' + i)))
	}
	return out
}

// step is a threshold: from value on, colour.
type step struct {
	value float64
	color string
}

// steps are absolute thresholds: base colour below the first step.
func steps(base string, ss ...step) dashboard.ThresholdsConfig {
	ts := []dashboard.Threshold{{Color: base}} // the base step's value is -Infinity, serialised as null
	for _, s := range ss {
		ts = append(ts, dashboard.Threshold{Value: cog.ToPtr(s.value), Color: s.color})
	}
	return dashboard.ThresholdsConfig{Mode: dashboard.ThresholdsModeAbsolute, Steps: ts}
}

func thresholds(base string, ss ...step) *dashboard.ThresholdsConfigBuilder {
	t := steps(base, ss...)
	return dashboard.NewThresholdsConfigBuilder().Mode(t.Mode).Steps(t.Steps)
}

func graph(title, description, unit string, qs ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Height(graphH).
		Span(halfW).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true).
			Calcs([]string{"lastNotNull", "max"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)).
		Targets(targets(qs))
}

func single(title, description, unit string, qs ...*prometheus.DataqueryBuilder) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Height(statH).
		Span(statW).
		GraphMode(common.BigValueGraphModeArea).
		ColorMode(common.BigValueColorModeValue).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Targets(targets(qs))
}

// unit is the Grafana unit of a KPI's value.
func unit(u kpi.RatioUnit) string {
	switch u {
	case kpi.Share:
		return "percentunit"
	case kpi.Duration:
		return "s"
	case kpi.Amount:
		return "currencyCNY"
	}
	return "none"
}

// sel adds label matchers to a recording rule's name.
func sel(record string, matchers ...string) string {
	return record + "{" + strings.Join(matchers, ", ") + "}"
}

func window(w string) string { return `window="` + w + `"` }

// inWindow selects record in the window the window variable picks; windows are those the
// record has, shortest first. A record without the picked window shows its shortest one
// instead: the families of CONTRACT §3 have every window from some length on (15m, 24h,
// 28d; 24h, 28d; 28d; or 24h alone), so the picked window is missing only when it is
// shorter than all of them, and then "or ignoring (window)" gives every series the fallback.
// When the picked window exists the fallback adds nothing: a ratio present in a shorter
// window is present in the longer one, which holds all its samples.
func inWindow(record string, windows []string, matchers ...string) string {
	with := func(w string) string { return sel(record, append(slices.Clone(matchers), w)...) }
	switch {
	case len(windows) == 1:
		return with(window(windows[0]))
	case windows[0] == Windows()[0]:
		return with(windowMatcher)
	}
	return "(" + with(windowMatcher) + " or ignoring (window) " + with(window(windows[0])) + ")"
}

// windowTitle says in a title which window inWindow shows.
func windowTitle(windows []string) string {
	switch {
	case len(windows) == 1:
		return windows[0]
	case windows[0] == Windows()[0]:
		return WindowVar
	}
	return WindowVar + " (at least " + windows[0] + ")"
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
