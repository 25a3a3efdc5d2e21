package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	RateIntervalVar = "$__rate_interval"
	datasourceVar   = "datasource"
	shopMatcher     = `shop=~"` + ShopVar + `"`
)

// Panel sizes on Grafana's 24-column grid.
const (
	statH, statW = 4, 6
	graphH       = 8
	halfW        = 12
	thirdW       = 8
	fullW        = 24
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

func newBoard(uid, title, description string, tags ...string) *dashboard.DashboardBuilder {
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

func single(title, description, unit string, q *prometheus.DataqueryBuilder) *stat.PanelBuilder {
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
		Targets(targets([]*prometheus.DataqueryBuilder{q}))
}

// unit is the Grafana unit of a KPI's value.
func unit(k rules.Kind) string {
	switch k {
	case rules.Ratio:
		return "percentunit"
	case rules.Seconds:
		return "s"
	case rules.Yuan:
		return "currencyCNY"
	}
	return "none"
}

// sel adds label matchers to a recording rule's name.
func sel(record string, matchers ...string) string {
	return record + "{" + strings.Join(matchers, ", ") + "}"
}

func window(w string) string { return `window="` + w + `"` }

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
