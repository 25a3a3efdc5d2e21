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

// liveBreaches counts, per shop, the buyers waiting longer than cfg.WaitingCritical but not
// longer than cfg.WaitingGivenUp: CONTRACT §3's live breach, as the waiting alert counts it. Unlike the oldest wait, it says how
// many buyers, and one buyer left waiting for a day does not hold it up.
func liveBreaches(cfg rules.Config) string {
	return waitedOver(cfg.WaitingCritical) + " - ignoring (seconds) " + waitedOver(cfg.WaitingGivenUp)
}

// shopOverview shows every KPI of CONTRACT §4 for the selected shops in the selected window:
// the state right now and the worst shops, then each KPI over time.
func shopOverview(cfg rules.Config) *dashboard.DashboardBuilder {
	rt, frt := rules.KPIOf(kpi.ResponseTime), rules.KPIOf(kpi.FirstResponseTime)
	replyRate := rules.KPIOf(kpi.ReplyRate)
	target := cfg.ResponseTimeThreshold.Seconds()
	breaches := liveBreaches(cfg)
	breachDesc := fmt.Sprintf("buyers waiting longer than %s but not %s (CONTRACT §3's live breach: %s)",
		rules.Duration(cfg.WaitingCritical), rules.Duration(cfg.WaitingGivenUp), breaches)

	b := newBoard(cfg, "cskpi-shop-overview", "cskpi / Shop overview",
		"Customer-service KPIs of CONTRACT §4 for the selected shops in the selected window, from the recording rules of deploy/prometheus.", "kpi").
		WithVariable(shopVariable()).
		WithVariable(windowVariable(cfg.ResponseTimeWindow))

	b.WithRow(dashboard.NewRowBuilder("Right now"))
	b.WithPanel(single("Live waiting breaches", "Over the selected shops, "+breachDesc+".",
		"none", query("sum("+breaches+")", "breaches")).
		Thresholds(thresholds("green", step{1, "red"})))
	b.WithPanel(single("Shops with a live breach", "Selected shops with at least one buyer waiting longer than "+
		rules.Duration(cfg.WaitingCritical)+" (not "+rules.Duration(cfg.WaitingGivenUp)+").",
		"none", query("count(("+breaches+") > 0) or vector(0)", "shops")).
		Thresholds(thresholds("green", step{1, "red"})))
	b.WithPanel(single("Buyers waiting", "Open waiting episodes over the selected shops: buyers whose last message no human has answered yet.",
		"none", query("sum("+sel(rules.Sum(kpi.WaitingConversations), shopMatcher)+")", "waiting")))
	b.WithPanel(single("Average response time, "+WindowVar,
		fmt.Sprintf("响应时长 over every response sample of the selected shops in the window; %s fires for a shop above %s over %s for %s.",
			rules.ResponseTimeHigh, rules.Duration(cfg.ResponseTimeThreshold), cfg.ResponseTimeWindow, rules.Duration(cfg.ResponseTimeFor)),
		"s", query(ratioOfSums(rules.Sum(kpi.ResponseTimeSum), rules.Sum(kpi.Responses), shopMatcher, windowMatcher), "mean")).
		Thresholds(thresholds("green", step{target, "red"})))

	rtExpr := inWindow(rt.Record, rt.Windows(), shopMatcher)
	replyExpr := inWindow(replyRate.Record, replyRate.Windows(), shopMatcher)
	worst := union(topk("("+breaches+") > 0"), topk(rtExpr), bottomk(replyExpr))
	shop := []string{"shop"}
	b.WithPanel(tablePanel("Worst shops now: live breaches, response time "+WindowVar+", reply rate "+windowTitle(replyRate.Windows()),
		fmt.Sprintf("The %[1]d shops with the most live breaches, the %[1]d slowest to respond and the %[1]d with the lowest reply rate "+
			"(回复率) among the selected ones: at most %[2]d rows however many shops there are. Live breaches are %[3]s. "+
			"Coloured against the targets: a live breach, a buyer waiting past %[4]s, an average response time from %[5]s.",
			worstN, 3*worstN, breachDesc, rules.Duration(cfg.WaitingWarning), rules.Duration(cfg.ResponseTimeThreshold)),
		shop, []column{
			{"Live breaches", "none", ranked(shop, breaches, worst), colored(steps("green", step{1, "red"}))},
			{"Waiting > " + rules.Duration(cfg.WaitingWarning), "none", ranked(shop, waitedOver(cfg.WaitingWarning), worst),
				colored(steps("green", step{1, "yellow"}))},
			{"Avg response time", "s", ranked(shop, rtExpr, worst), colored(steps("green", step{target, "red"}))},
			{"First response time", "s", ranked(shop, inWindow(frt.Record, frt.Windows(), shopMatcher), worst), nil},
			{"Reply rate (回复率)", "percentunit", ranked(shop, replyExpr, worst), nil},
		}, "Live breaches", tableH))
	withAlerts(b, cfg, forShops, "Firing and pending alerts of the selected shops; the runbook links say what to do.", "shop")

	b.WithRow(dashboard.NewRowBuilder("Waiting"))
	b.WithPanel(graph("Buyers waiting", "Open waiting episodes.", "none",
		query(sel(rules.Sum(kpi.WaitingConversations), shopMatcher), "{{shop}}")))
	b.WithPanel(graph("Live waiting breaches", "Per shop, "+breachDesc+".", "none",
		query(breaches, "{{shop}}")).
		Thresholds(thresholds("green", step{1, "red"})).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))

	// One row per section of the catalogue, in the order the sections first appear, each
	// with its KPIs in the catalogue's order.
	type row struct {
		title string
		span  uint32
		kpis  []rules.KPI
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
		rows[i].kpis = append(rows[i].kpis, k)
	}
	for i := range rows {
		rows[i].span = halfW
		if len(rows[i].kpis) == 3 {
			rows[i].span = thirdW
		}
	}
	for _, r := range rows {
		b.WithRow(dashboard.NewRowBuilder(r.title))
		for i, kp := range r.kpis {
			p := kpiGraph(kp, shopMatcher).Span(r.span)
			if kp.Record == rt.Record {
				p.Thresholds(thresholds("green", step{target, "red"})).
					ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
			}
			if r.span == halfW && len(r.kpis)%2 == 1 && i == len(r.kpis)-1 {
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
		{"Replies", "none", []kpi.ID{kpi.HumanMessages, kpi.AutoMessages, kpi.BuyerMessagesReplied}},
		{"Inquiries (询单)", "none", []kpi.ID{kpi.Inquiries, kpi.InquiriesReplied, kpi.InquiriesGuided}},
		{"Orders", "none", []kpi.ID{kpi.OrdersCreated, kpi.OrdersPaid}},
		{"GMV", "currencyCNY", []kpi.ID{kpi.PaidGMV, kpi.GuidedGMV}},
	}
	for i, v := range volume {
		p := volumeGraph(v.title, "The counts and sums the KPIs above divide, per shop.", v.unit, []string{"shop"}, v.families, nil, shopMatcher)
		if len(volume)%2 == 1 && i == len(volume)-1 {
			p.Span(fullW)
		}
		b.WithPanel(p)
	}
	return b
}

// ratioOfSums is the quotient of two sum rules over every selected series, absent while the
// denominator is 0 (the way the KPI rules are).
func ratioOfSums(num, den string, matchers ...string) string {
	return "sum(" + sel(num, matchers...) + ") / (sum(" + sel(den, matchers...) + ") > 0)"
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
