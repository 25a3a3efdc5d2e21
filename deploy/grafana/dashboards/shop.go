package dashboards

import (
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
	"github.com/cskpi/cskpi/windows/kpi"
)

// waitedOver selects cskpi_waiting_conversations_over at a waiting threshold; d must be one
// of cskpi's --waiting.thresholds (15s, 3m, 1h by default).
func waitedOver(d time.Duration) string {
	return sel(rules.Sum(kpi.WaitingOver), shopMatcher, `seconds="`+trimFloat(d.Seconds())+`"`)
}

// liveBreaches counts, per shop, the buyers of both scenes waiting longer than
// cfg.WaitingCritical but not longer than cfg.WaitingGivenUp: CONTRACT §3's live breach, at
// the threshold both scenes' waiting alerts share (3 minutes: the pre-sale critical one and
// the after-sale one). Unlike the oldest wait, it says how many buyers, and one buyer left
// waiting for a day does not hold it up.
func liveBreaches(cfg rules.Config) string {
	return waitedOver(cfg.WaitingCritical) + " - ignoring (seconds) " + waitedOver(cfg.WaitingGivenUp)
}

// sceneMatcher selects one scene of a shop_scene record.
func sceneMatcher(scene string) string { return `scene="` + scene + `"` }

// sceneWaitedOver is waitedOver per scene, for one scene or, with "", each.
func sceneWaitedOver(d time.Duration, scene string) string {
	ms := []string{shopMatcher, `seconds="` + trimFloat(d.Seconds()) + `"`}
	if scene != "" {
		ms = append(ms, sceneMatcher(scene))
	}
	return sel(rules.SceneSum(kpi.WaitingOver), ms...)
}

// sceneBreaches is liveBreaches per scene (shop, scene), as the waiting alerts count it.
func sceneBreaches(cfg rules.Config) string {
	return sceneWaitedOver(cfg.WaitingCritical, "") + " - ignoring (seconds) " + sceneWaitedOver(cfg.WaitingGivenUp, "")
}

// sceneTitle names a scene in a title: "Pre-sale", "After-sale".
func sceneTitle(scene string) string {
	if scene == rules.Aftersale {
		return "After-sale"
	}
	return "Pre-sale"
}

// chartedByScene are the shop KPIs the overview charts per scene rather than for both scenes
// together: the response times, which each scene holds to its own target (15 s pre-sale,
// 3 minutes after-sale), so that their mixture answers no question. The other KPIs of two
// scene families (the response and reply rates) are charted for both scenes together, as
// before the label existed; their per-scene records are there for ad-hoc queries.
func chartedByScene(id kpi.RatioID) bool {
	return id == kpi.ResponseTime || id == kpi.BusinessResponseTime
}

// shopOverview shows every KPI of CONTRACT §4 for the selected shops in the selected window:
// the state right now and the worst shops, then each KPI over time. The response times and
// the waiting buyers are shown per scene (pre-sale, after-sale): each scene has its own target.
func shopOverview(cfg rules.Config) *dashboard.DashboardBuilder {
	frt := rules.KPIOf(kpi.FirstResponseTime)
	replyRate := rules.KPIOf(kpi.ReplyRate)
	targets := rules.ResponseTargets(cfg)
	breaches := liveBreaches(cfg)
	breachDesc := fmt.Sprintf("buyers of both scenes waiting longer than %s but not %s (CONTRACT §3's live breach: %s)",
		rules.Duration(cfg.WaitingCritical), rules.Duration(cfg.WaitingGivenUp), breaches)
	// rtOf is the average response time of a scene per shop, in the picked window.
	rtOf := func(scene string) string {
		return sel(rules.SceneRecord(kpi.ResponseTime), shopMatcher, sceneMatcher(scene), windowMatcher)
	}
	presaleWaiting := sceneWaitedOver(cfg.WaitingWarning, rules.Presale) + " - ignoring (seconds) " +
		sceneWaitedOver(cfg.WaitingGivenUp, rules.Presale)

	b := newBoard(cfg, "cskpi-shop-overview", "cskpi / Shop overview",
		"Customer-service KPIs of CONTRACT §4 for the selected shops in the selected window, from the recording rules of deploy/prometheus; "+
			"response times and waiting buyers per scene (pre-sale, after-sale).", "kpi").
		WithVariable(shopVariable()).
		WithVariable(windowVariable(cfg.ResponseTimeWindow))

	b.WithRow(dashboard.NewRowBuilder("Right now"))
	b.WithPanel(single("Live waiting breaches", "Over the selected shops, "+breachDesc+".",
		"none", query("sum("+breaches+")", "breaches")).
		Thresholds(thresholds("green", step{1, "red"})).Span(smallStatW))
	b.WithPanel(single("Shops with a live breach", "Selected shops with at least one buyer waiting longer than "+
		rules.Duration(cfg.WaitingCritical)+" (not "+rules.Duration(cfg.WaitingGivenUp)+").",
		"none", query("count(("+breaches+") > 0) or vector(0)", "shops")).
		Thresholds(thresholds("green", step{1, "red"})).Span(smallStatW))
	waiting := []*prometheus.DataqueryBuilder{query("sum("+sel(rules.Sum(kpi.WaitingConversations), shopMatcher)+")", "both")}
	for _, t := range targets {
		waiting = append(waiting, query("sum("+sel(rules.SceneSum(kpi.WaitingConversations), shopMatcher, sceneMatcher(t.Scene))+")", sceneWords(t.Scene)))
	}
	b.WithPanel(single("Buyers waiting", "Open waiting episodes over the selected shops, both scenes and each: buyers whose last message no human has answered yet.",
		"none", waiting...).Span(smallStatW))
	for _, t := range targets {
		b.WithPanel(single(sceneTitle(t.Scene)+" average response time, "+WindowVar,
			fmt.Sprintf("响应时长 over every %s response sample of the selected shops in the window, against the %s target (%s by default, the shop directory's %s); "+
				"%s fires for a shop above its own %s over %s for %s.",
				sceneWords(t.Scene), sceneWords(t.Scene), rules.Duration(t.Default), t.Field,
				rules.ResponseTimeHigh, t.Field, cfg.ResponseTimeWindow, rules.Duration(cfg.ResponseTimeFor)),
			"s", query(ratioOfSums(rules.SceneSum(kpi.ResponseTimeSum), rules.SceneSum(kpi.Responses), shopMatcher, sceneMatcher(t.Scene), windowMatcher), "mean")).
			Thresholds(thresholds("green", step{t.Default.Seconds(), "red"})))
	}

	replyExpr := inWindow(replyRate.Record, replyRate.Windows(), shopMatcher)
	rankings := []string{topk("(" + breaches + ") > 0")}
	for _, t := range targets {
		rankings = append(rankings, topk(rtOf(t.Scene)))
	}
	worst := union(append(rankings, bottomk(replyExpr))...)
	shop := []string{"shop"}
	cols := []column{
		{"Live breaches", "none", ranked(shop, breaches, worst), colored(steps("green", step{1, "red"}))},
		{"Pre-sale waiting > " + rules.Duration(cfg.WaitingWarning), "none", ranked(shop, presaleWaiting, worst),
			colored(steps("green", step{1, "yellow"}))},
	}
	for _, t := range targets {
		cols = append(cols, column{sceneTitle(t.Scene) + " response time", "s", ranked(shop, rtOf(t.Scene), worst),
			colored(steps("green", step{t.Default.Seconds(), "red"}))})
	}
	cols = append(cols,
		column{"First response time", "s", ranked(shop, inWindow(frt.Record, frt.Windows(), shopMatcher), worst), nil},
		column{"Reply rate (回复率)", "percentunit", ranked(shop, replyExpr, worst), nil})
	b.WithPanel(tablePanel("Worst shops now: live breaches, response time by scene "+WindowVar+", reply rate "+windowTitle(replyRate.Windows()),
		fmt.Sprintf("The %[1]d shops with the most live breaches, the %[1]d slowest to respond to pre-sale buyers, the %[1]d slowest to respond "+
			"to after-sale buyers and the %[1]d with the lowest reply rate (回复率) among the selected ones: at most %[2]d rows however many "+
			"shops there are. Live breaches are %[3]s. Pre-sale waiting counts the pre-sale buyers waiting longer than %[4]s (but not %[5]s). "+
			"Coloured against the default targets: a live breach, a pre-sale buyer waiting past %[4]s, a pre-sale average response time "+
			"from %[6]s, an after-sale one from %[7]s (a shop's own targets are in the shop directory; the alerts use those).",
			worstN, len(rankings)*worstN+worstN, breachDesc, rules.Duration(cfg.WaitingWarning), rules.Duration(cfg.WaitingGivenUp),
			rules.Duration(cfg.ResponseTimeThreshold), rules.Duration(cfg.AftersaleResponseTimeThreshold)),
		shop, cols, "Live breaches", tableH))
	withAlerts(b, cfg, forShops, "Firing and pending alerts of the selected shops; the runbook links say what to do.", "shop")

	b.WithRow(dashboard.NewRowBuilder("Waiting"))
	b.WithPanel(graph("Buyers waiting by scene", "Open waiting episodes per shop and scene (presale, aftersale).", "none",
		query(sel(rules.SceneSum(kpi.WaitingConversations), shopMatcher), "{{shop}} {{scene}}")))
	b.WithPanel(graph("Live waiting breaches by scene", fmt.Sprintf("Per shop and scene, buyers waiting longer than %s but not %s (CONTRACT §3's live breach: %s). "+
		"%s fires for a pre-sale breach (critical) and an after-sale one (warning) that last.",
		rules.Duration(cfg.WaitingCritical), rules.Duration(cfg.WaitingGivenUp), sceneBreaches(cfg), rules.BuyerWaiting), "none",
		query(sceneBreaches(cfg), "{{shop}} {{scene}}")).
		Thresholds(thresholds("green", step{1, "red"})).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))

	// One row per section of the catalogue, in the order the sections first appear, each
	// with its KPIs in the catalogue's order; the response time is a panel per scene.
	type row struct {
		title  string
		panels []*timeseries.PanelBuilder
	}
	var rows []row
	at := map[string]int{}
	for _, k := range rules.ShopKPIs() {
		i, ok := at[k.Section]
		if !ok {
			i = len(rows)
			at[k.Section] = i
			rows = append(rows, row{title: k.Section + ", " + windowTitle(k.Windows())})
		}
		switch {
		case k.ID == kpi.ResponseTime:
			for _, t := range targets {
				rows[i].panels = append(rows[i].panels, sceneKPIGraph(k, t.Scene).
					Thresholds(thresholds("green", step{t.Default.Seconds(), "red"})).
					ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))
			}
		case chartedByScene(k.ID):
			rows[i].panels = append(rows[i].panels, sceneKPIGraph(k, ""))
		default:
			rows[i].panels = append(rows[i].panels, kpiGraph(k, shopMatcher))
		}
	}
	for _, r := range rows {
		b.WithRow(dashboard.NewRowBuilder(r.title))
		span := uint32(halfW)
		if len(r.panels) == 3 {
			span = thirdW
		}
		for i, p := range r.panels {
			p.Span(span)
			if span == halfW && len(r.panels)%2 == 1 && i == len(r.panels)-1 {
				p.Span(fullW) // an odd last panel takes the whole line
			}
			b.WithPanel(p)
		}
	}

	b.WithRow(dashboard.NewRowBuilder("Volume"))
	volume := []struct {
		title, unit string
		families    []kpi.ID
	}{
		{"Buyer messages, responses, first responses", "none", []kpi.ID{kpi.BuyerMessages, kpi.Responses, kpi.FirstResponses}},
		{"Replies", "none", []kpi.ID{kpi.HumanMessages, kpi.AutoMessages, kpi.BuyerMessagesReplied, kpi.BuyerMessagesReplied48h}},
		{"Inquiries (询单)", "none", []kpi.ID{kpi.Inquiries, kpi.InquiriesReplied, kpi.InquiriesGuided}},
		{"Orders", "none", []kpi.ID{kpi.OrdersCreated, kpi.OrdersPaid, kpi.OrdersCreatedPaid24h}},
		{"GMV", "currencyCNY", []kpi.ID{kpi.PaidGMV, kpi.GuidedGMV}},
	}
	for i, v := range volume {
		p := volumeGraph(v.title, "The counts and sums the KPIs above divide, per shop, both scenes together.", v.unit, []string{"shop"}, v.families, nil, shopMatcher)
		if len(volume)%2 == 1 && i == len(volume)-1 {
			p.Span(fullW)
		}
		b.WithPanel(p)
	}
	return b
}

// sceneWords names a scene in a description or legend: "pre-sale", "after-sale".
func sceneWords(scene string) string {
	if scene == rules.Aftersale {
		return "after-sale"
	}
	return "pre-sale"
}

// ratioOfSums is the quotient of two sum rules over every selected series, absent while the
// denominator is 0 (the way the KPI rules are).
func ratioOfSums(num, den string, matchers ...string) string {
	return "sum(" + sel(num, matchers...) + ") / (sum(" + sel(den, matchers...) + ") > 0)"
}

// sceneKPIGraph charts a KPI of the selected shops per scene (its SceneRecord) in the
// selected window: the one scene given, or each scene as its own line with "".
func sceneKPIGraph(k rules.KPI, scene string) *timeseries.PanelBuilder {
	matchers := []string{shopMatcher}
	title, legend := k.Name+" "+k.Local+" by scene", "{{shop}} {{scene}}"
	if scene != "" {
		matchers = append(matchers, sceneMatcher(scene))
		title, legend = sceneTitle(scene)+" "+strings.ToLower(k.Name[:1])+k.Name[1:]+" "+k.Local, "{{shop}}"
	}
	of := "per scene"
	if scene != "" {
		of = "of the " + sceneWords(scene) + " buyers"
	}
	desc := fmt.Sprintf("%s / %s %s (recording rule %s), windows %s; absent while the denominator is 0. Both scenes together: %s.",
		k.Num, k.Den, of, k.SceneRecord, strings.Join(k.Windows(), ", "), k.Record)
	return graph(title+", "+windowTitle(k.Windows()), desc, unit(k.Unit), query(inWindow(k.SceneRecord, k.Windows(), matchers...), legend))
}

// kpiGraph charts one KPI of the selected shops (or agents) in the selected window.
func kpiGraph(k rules.KPI, matchers ...string) *timeseries.PanelBuilder {
	legend := "{{shop}}"
	if strings.HasPrefix(k.Record, rules.AgentLevel+":") {
		legend = "{{shop}} {{agent}}"
	}
	if k.Num == kpi.ResponsesWithin {
		legend += " ≤{{le}}s"
	}
	desc := fmt.Sprintf("%s / %s (recording rule %s), windows %s; absent while the denominator is 0.",
		k.Num, k.Den, k.Record, strings.Join(k.Windows(), ", "))
	p := graph(k.Name+" "+k.Local+", "+windowTitle(k.Windows()), desc, unit(k.Unit), query(inWindow(k.Record, k.Windows(), matchers...), legend))
	if k.Unit == kpi.Share {
		p.Min(0).Max(1)
	}
	return p
}

// volumeGraph charts the sum rules of families, which have the same windows, per keys;
// filter, if any, wraps each query.
func volumeGraph(title, description, unit string, keys []string, families []kpi.ID, filter func(string) string, matchers ...string) *timeseries.PanelBuilder {
	var qs []*prometheus.DataqueryBuilder
	ws := families[0].Family().Windows
	for _, f := range families {
		expr := inWindow(rules.Sum(f), f.Family().Windows, matchers...)
		if filter != nil {
			expr = filter(expr)
		}
		qs = append(qs, query(expr,
			"{{"+strings.Join(keys, "}} {{")+"}} "+strings.TrimPrefix(f.Name(), "cskpi_")))
	}
	return graph(title+", "+windowTitle(ws), description, unit, qs...)
}
