package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/table"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
	"github.com/cskpi/cskpi/windows/kpi"
)

// bandColors colour CONTRACT §4's load bands, idle to add staff.
func bandColors() []string { return []string{"blue", "green", "yellow", "orange", "red"} }

// loadBands are the thresholds of a buyers-served field.
func loadBands(cfg rules.Config) dashboard.ThresholdsConfig {
	bands := rules.LoadBands(cfg)
	colors := bandColors()
	var ss []step
	for i, band := range bands[1:] {
		ss = append(ss, step{float64(band.From), colors[i+1]})
	}
	return steps(colors[0], ss...)
}

func loadBandsBuilder(cfg rules.Config) *dashboard.ThresholdsConfigBuilder {
	t := loadBands(cfg)
	return dashboard.NewThresholdsConfigBuilder().Mode(t.Mode).Steps(t.Steps)
}

func bandLegend(cfg rules.Config) string {
	s := ""
	bands := rules.LoadBands(cfg)
	for i, band := range bands {
		if i > 0 {
			s += ", "
		}
		if i+1 < len(bands) {
			s += fmt.Sprintf("%s %d–%d", band.Name, band.From, bands[i+1].From-1)
		} else {
			s += fmt.Sprintf("%s from %d", band.Name, band.From)
		}
	}
	return s
}

// agentLeaderboard ranks the agents of the selected shops: buyers served against the load
// bands, response time and conversion.
func agentLeaderboard(cfg rules.Config) *dashboard.DashboardBuilder {
	ak := rules.AgentKPIs()
	rt, conv, value := ak[0], ak[1], ak[2]
	served := rules.Sum(kpi.AgentBuyersServed)
	day := window(kpi.W24h)

	b := newBoard("cskpi-agent-leaderboard", "cskpi / Agent leaderboard",
		"Agents (客服子账号) of the selected shops over the last 24 hours: buyers served (日接待量) against CONTRACT §4's load bands, response time, conversion.", "kpi").
		WithVariable(shopVariable())

	columns := []struct {
		expr, name, unit string
	}{
		{sel(served, shopMatcher, day), "Buyers served", "none"},
		{sel(rt.Record, shopMatcher, day), "Avg response time", "s"},
		{sel(conv.Record, shopMatcher, day), "Consult conversion", "percentunit"},
		{sel(value.Record, shopMatcher, day), "Inquiry order value", "currencyCNY"},
		{sel(rules.Sum(kpi.AgentMessages), shopMatcher, day), "Replies sent", "none"},
		{sel(rules.Sum(kpi.AgentGuidedGMV), shopMatcher, day), "Guided GMV", "currencyCNY"},
		{sel(rules.AgentFirstResponseMean, shopMatcher, day), "First response time", "s"},
		{sel("shop_agent:cskpi_agent_response_business_time_seconds:mean", shopMatcher, day), "Business-hours response time", "s"},
		{sel(rules.AgentQARatio, shopMatcher, day), "Q&A ratio (问答比)", "none"},
		{sel(rules.Sum(kpi.AgentBuyersActive), shopMatcher), "Active buyers now (同时接待)", "none"},
		{sel(rules.AgentScore, shopMatcher, window(cfg.Scorecard.Window)), "Scorecard (" + cfg.Scorecard.Window + ")", "percentunit"},
	}
	var qs []*prometheus.DataqueryBuilder
	rename := map[string]string{}
	tbl := table.NewPanelBuilder().
		Title("Agents, last 24 h").
		Description("One row per agent; buyers served is coloured by load band: " + bandLegend(cfg) + ".").
		Datasource(datasource()).
		Height(12).
		Span(fullW).
		// The SDK's default footer has a null reducer, which its own schema rejects.
		Footer(common.NewTableFooterOptionsBuilder().Reducer([]string{})).
		SortBy([]cog.Builder[common.TableSortByFieldState]{
			common.NewTableSortByFieldStateBuilder().DisplayName(columns[0].name).Desc(true),
		})
	for i, c := range columns {
		// Instant table queries come back as one frame per query with the value in
		// "Value #<ref>"; merge joins them on the labels, organize names the columns.
		qs = append(qs, query(c.expr, "").Format(prometheus.PromQueryFormatTable).Instant())
		rename[fmt.Sprintf("Value #%c", 'A'+i)] = c.name
		props := []dashboard.DynamicConfigValue{{Id: "unit", Value: c.unit}}
		if i == 0 {
			props = append(props,
				dashboard.DynamicConfigValue{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background", "mode": "basic"}},
				dashboard.DynamicConfigValue{Id: "thresholds", Value: loadBands(cfg)})
		}
		tbl.OverrideByName(c.name, props)
	}
	tbl.Targets(targets(qs)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"Time": true, "window": true, "job": true, "__name__": true},
			"indexByName":   map[string]int{"shop": 0, "agent": 1},
			"renameByName":  rename,
		}})
	b.WithPanel(tbl)

	b.WithPanel(bargauge.NewPanelBuilder().
		Title("Buyers served in 24 h (日接待量) against the load bands").
		Description("Load bands of CONTRACT §4: " + bandLegend(cfg) + ". " + rules.AgentOverloaded + " fires above " +
			fmt.Sprint(cfg.AgentBuyersServedMax) + ".").
		Datasource(datasource()).
		Height(10).
		Span(fullW).
		Unit("none").
		Min(0).
		Max(float64(cfg.AgentBuyersServedMax) * 1.25).
		DisplayMode(common.BarGaugeDisplayModeGradient).
		Orientation(common.VizOrientationHorizontal).
		ShowUnfilled(true).
		Thresholds(loadBandsBuilder(cfg)).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Targets(targets([]*prometheus.DataqueryBuilder{
			query("sort_desc("+sel(served, shopMatcher, day)+")", "{{shop}} {{agent}}").Instant(),
		})))

	b.WithPanel(graph("Average response time by agent, "+cfg.ResponseTimeWindow,
		"响应时长 of each agent's response samples over the "+cfg.ResponseTimeWindow+" window.", "s",
		query(sel(rt.Record, shopMatcher, window(cfg.ResponseTimeWindow)), "{{shop}} {{agent}}")).
		Thresholds(thresholds("green", step{cfg.ResponseTimeThreshold.Seconds(), "red"})).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))
	b.WithPanel(graph("Buyers served by agent, 24h", "日接待量 with the load bands as dashed lines.", "none",
		query(sel(served, shopMatcher, day), "{{shop}} {{agent}}")).
		Thresholds(loadBandsBuilder(cfg)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))
	b.WithPanel(graph("Consult conversion by agent, 24h", "咨询转化率: guided / replied inquiry cohorts whose agent this is.",
		"percentunit", query(sel(conv.Record, shopMatcher, day), "{{shop}} {{agent}}")).Min(0).Max(1))
	b.WithPanel(graph("Inquiry order value by agent, 24h", "询单客单价: guided GMV per guided cohort of the agent.",
		"currencyCNY", query(sel(value.Record, shopMatcher, day), "{{shop}} {{agent}}")))
	return b
}
