package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

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

// bandMappings name the load band of a buyers-served value.
func bandMappings(cfg rules.Config) []dashboard.ValueMapping {
	bands := rules.LoadBands(cfg)
	colors := bandColors()
	var out []dashboard.ValueMapping
	for i, band := range bands {
		opts := dashboard.DashboardRangeMapOptions{
			From:   cog.ToPtr(float64(band.From)),
			Result: dashboard.ValueMappingResult{Text: cog.ToPtr(band.Name), Color: cog.ToPtr(colors[i]), Index: cog.ToPtr(int32(i))},
		}
		if i+1 < len(bands) {
			opts.To = cog.ToPtr(float64(bands[i+1].From - 1)) // counts are whole
		}
		out = append(out, dashboard.ValueMapping{RangeMap: &dashboard.RangeMap{Type: dashboard.MappingTypeRangeToText, Options: opts}})
	}
	return out
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

// agentLeaderboard ranks the human agents of the selected shops: load against the bands,
// response and first-response time, 问答比, conversion and the scorecard.
func agentLeaderboard(cfg rules.Config) *dashboard.DashboardBuilder {
	rt, frt, brt := rules.KPIOf(kpi.AgentResponseTime), rules.KPIOf(kpi.AgentFirstResponseTime), rules.KPIOf(kpi.AgentBusinessResponseTime)
	qa, conv, value := rules.KPIOf(kpi.AgentQARatio), rules.KPIOf(kpi.AgentConsultConversion), rules.KPIOf(kpi.AgentInquiryOrderValue)
	m := []string{shopMatcher, agentMatcher}
	keys := []string{"shop", "agent"}
	people := humans(m...)
	human := func(expr string) string { return "(" + expr + ") and on (shop, agent) (" + people + ")" }
	served := sel(rules.Sum(kpi.AgentBuyersServed), shopMatcher, agentMatcher, window(kpi.W24h))
	active := sel(rules.Sum(kpi.AgentBuyersActive), m...)
	score := sel(rules.AgentScore, shopMatcher, agentMatcher, window(cfg.Scorecard.Window))
	target := cfg.ResponseTimeThreshold.Seconds()
	rtSteps := steps("green", step{target, "red"})
	servedName := "Buyers served, " + kpi.W24h
	scoreName := "Scorecard, " + cfg.Scorecard.Window
	bots := " Bots, agents that sent only auto messages in 28 days, are left out."

	b := newBoard(cfg, "cskpi-agent-leaderboard", "cskpi / Agent leaderboard",
		"Human agents (客服子账号) of the selected shops: buyers served (日接待量) against CONTRACT §4's load bands, "+
			"response and first-response time, 问答比, conversion and the scorecard (客服绩效).", "kpi").
		WithVariable(shopVariable()).
		WithVariable(agentVariable()).
		WithVariable(windowVariable(cfg.ResponseTimeWindow))

	b.WithRow(dashboard.NewRowBuilder("Right now"))
	b.WithPanel(single("Agents in the add-staff band, "+kpi.W24h, fmt.Sprintf("Selected agents above %d buyers served in 24 h; %s fires for each.",
		cfg.AgentBuyersServedMax, rules.AgentOverloaded),
		"none", query(fmt.Sprintf("count(%s) or vector(0)", human(fmt.Sprintf("%s > %d", served, cfg.AgentBuyersServedMax))), "agents")).
		Thresholds(thresholds("green", step{1, "red"})))
	b.WithPanel(single("Agents replying now", "Selected human agents with a human reply in the last 15 minutes (同时接待 above 0).",
		"none", query("count("+human(active+" > 0")+") or vector(0)", "agents")))
	b.WithPanel(single("Buyers in conversation (同时接待)", "Distinct buyers the selected agents sent a human reply to in the last 15 minutes, summed.",
		"none", query("sum("+active+")", "buyers")))
	b.WithPanel(single("Average response time, "+WindowVar, "响应时长 over every response sample of the selected agents in the window.",
		"s", query(ratioOfSums(rules.Sum(kpi.AgentResponseTimeSum), rules.Sum(kpi.AgentResponses), shopMatcher, agentMatcher, windowMatcher), "mean")).
		Thresholds(thresholds("green", step{target, "red"})))

	rtExpr := inWindow(rt.Record, rt.Windows(), m...)
	frtExpr := inWindow(frt.Record, frt.Windows(), m...)
	worst := human(union(topk(human(served)), topk(rtExpr), topk(frtExpr), bottomk(score)))
	b.WithPanel(tablePanel("Worst agents now: load, response time "+WindowVar+", first response, 问答比, scorecard",
		fmt.Sprintf("The %[1]d agents serving the most buyers in 24 h, the %[1]d slowest to respond, the %[1]d slowest to respond first "+
			"and the %[1]d with the lowest scorecard among the selected ones: at most %[2]d rows however many agents there are.%[3]s "+
			"Load bands of CONTRACT §4: %[4]s. Response time coloured from %[5]s.",
			worstN, 4*worstN, bots, bandLegend(cfg), rules.Duration(cfg.ResponseTimeThreshold)),
		keys, []column{
			{"Load band, " + kpi.W24h, "none", ranked(keys, served, worst),
				append(colored(loadBands(cfg)), dashboard.DynamicConfigValue{Id: "mappings", Value: bandMappings(cfg)})},
			{servedName, "none", ranked(keys, served, worst), colored(loadBands(cfg))},
			{"Active buyers now", "none", ranked(keys, active, worst), nil},
			{"Avg response time", "s", ranked(keys, rtExpr, worst), colored(rtSteps)},
			{"First response time", "s", ranked(keys, frtExpr, worst), nil},
			{"Q&A ratio (问答比)", "none", ranked(keys, inWindow(qa.Record, qa.Windows(), m...), worst), nil},
			{scoreName, "percentunit", ranked(keys, score, worst), share()},
		}, "Avg response time", tableH))
	withAlerts(b, cfg, forAgents, "Firing and pending alerts of the selected agents; the runbook links say what to do.", "shop", "agent")

	b.WithRow(dashboard.NewRowBuilder("Load"))
	b.WithPanel(bargauge.NewPanelBuilder().
		Title(fmt.Sprintf("Most loaded agents: buyers served (日接待量), %s, top %d", kpi.W24h, 2*worstN)).
		Description("Load bands of CONTRACT §4: " + bandLegend(cfg) + ". " + rules.AgentOverloaded + " fires above " +
			fmt.Sprint(cfg.AgentBuyersServedMax) + "." + bots).
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
			query(fmt.Sprintf("sort_desc(topk(%d, %s))", 2*worstN, human(served)), "{{shop}} {{agent}}").Instant(),
		})))
	b.WithPanel(graph("Buyers served by agent, "+kpi.W24h, "日接待量 with the load bands as dashed lines."+bots, "none",
		query(human(served), "{{shop}} {{agent}}")).
		Thresholds(loadBandsBuilder(cfg)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))
	b.WithPanel(graph("Active buyers by agent (同时接待)", "Distinct buyers each agent sent a human reply to in the last 15 minutes."+bots, "none",
		query(human(active), "{{shop}} {{agent}}")))

	b.WithRow(dashboard.NewRowBuilder("Response, " + WindowVar))
	b.WithPanel(kpiGraph(rt, m...).
		Thresholds(thresholds("green", step{target, "red"})).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))
	b.WithPanel(kpiGraph(frt, m...))
	b.WithPanel(kpiGraph(brt, m...))
	b.WithPanel(volumeGraph("Responses and first responses", "Response and first-response samples of each agent."+bots, "none",
		keys, []kpi.ID{kpi.AgentResponses, kpi.AgentFirstResponses}, human, m...))

	b.WithRow(dashboard.NewRowBuilder("Replies and conversion, " + windowTitle(qa.Windows())))
	b.WithPanel(kpiGraph(qa, m...))
	b.WithPanel(volumeGraph("Replies sent and buyer messages answered", "问答比's numerator and denominator per agent."+bots, "none",
		keys, []kpi.ID{kpi.AgentMessages, kpi.AgentBuyerMessagesAnswered}, human, m...))
	b.WithPanel(kpiGraph(conv, m...).
		Thresholds(thresholds("red", step{cfg.Scorecard.Conversion, "green"})).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))
	b.WithPanel(kpiGraph(value, m...).
		Thresholds(thresholds("red", step{cfg.Scorecard.OrderValue, "green"})).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))

	b.WithRow(dashboard.NewRowBuilder("Scorecard and all agents"))
	b.WithPanel(graph("Scorecard (客服绩效) by agent, "+cfg.Scorecard.Window,
		fmt.Sprintf("CONTRACT §4's scorecard: conversion against %s, order value against %s yuan and the agent's response time against the shop's "+
			"pre-sale target (response_target; the agent's average is over all its replies, as agent series have no scene), "+
			"each min(1, actual/target), weighted %s/%s/%s, on 0..1 of the weight measured.",
			trimFloat(cfg.Scorecard.Conversion), trimFloat(cfg.Scorecard.OrderValue),
			trimFloat(cfg.Scorecard.WeightConversion), trimFloat(cfg.Scorecard.WeightOrderValue), trimFloat(cfg.Scorecard.WeightResponseTime)),
		"percentunit", query(score, "{{shop}} {{agent}}")).Min(0).Max(1).Span(fullW))

	everyone := people
	b.WithPanel(tablePanel("All agents, "+WindowVar,
		"One row per selected human agent."+bots+" Buyers served is coloured by load band ("+bandLegend(cfg)+
			"), response times from the pre-sale response target (agent series have no scene: an agent's average is over all its replies), "+
			"conversion and order value against the scorecard's targets.",
		keys, []column{
			{servedName, "none", ranked(keys, served, everyone), colored(loadBands(cfg))},
			{"Active buyers now", "none", ranked(keys, active, everyone), nil},
			{"Avg response time", "s", ranked(keys, rtExpr, everyone), colored(rtSteps)},
			{"First response time", "s", ranked(keys, frtExpr, everyone), nil},
			{"Business-hours response time", "s", ranked(keys, inWindow(brt.Record, brt.Windows(), m...), everyone), colored(rtSteps)},
			{"Q&A ratio (问答比)", "none", ranked(keys, inWindow(qa.Record, qa.Windows(), m...), everyone), nil},
			{"Replies sent", "none", ranked(keys, inWindow(rules.Sum(kpi.AgentMessages), kpi.AgentMessages.Family().Windows, m...), everyone), nil},
			{"Buyer messages answered", "none", ranked(keys, inWindow(rules.Sum(kpi.AgentBuyerMessagesAnswered), kpi.AgentBuyerMessagesAnswered.Family().Windows, m...), everyone), nil},
			{"Consult conversion", "percentunit", ranked(keys, inWindow(conv.Record, conv.Windows(), m...), everyone),
				colored(steps("red", step{cfg.Scorecard.Conversion, "green"}))},
			{"Inquiry order value", "currencyCNY", ranked(keys, inWindow(value.Record, value.Windows(), m...), everyone),
				colored(steps("red", step{cfg.Scorecard.OrderValue, "green"}))},
			{"Guided GMV", "currencyCNY", ranked(keys, inWindow(rules.Sum(kpi.AgentGuidedGMV), kpi.AgentGuidedGMV.Family().Windows, m...), everyone), nil},
			{scoreName, "percentunit", ranked(keys, score, everyone), share()},
		}, servedName, 12))
	return b
}
