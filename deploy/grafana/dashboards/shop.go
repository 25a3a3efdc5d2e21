package dashboards

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
	"github.com/cskpi/cskpi/windows/kpi"
)

// shopOverview shows every KPI of CONTRACT §4 for the selected shops: the state right now,
// then each KPI over time in every window it has.
func shopOverview(cfg rules.Config) *dashboard.DashboardBuilder {
	ks := map[[2]kpi.ID]rules.KPI{}
	for _, k := range rules.ShopKPIs() {
		ks[[2]kpi.ID{k.Num, k.Den}] = k
	}
	k := func(num, den kpi.ID) rules.KPI { return ks[[2]kpi.ID{num, den}] }
	rt := k(kpi.ResponseTimeSum, kpi.Responses)
	within := k(kpi.ResponsesWithin, kpi.Responses)
	threshold := cfg.ResponseTimeThreshold.Seconds()
	waitWarn, waitCrit := cfg.WaitingWarning.Seconds(), cfg.WaitingCritical.Seconds()
	leTarget := fmt.Sprint(int64(threshold))

	b := newBoard("cskpi-shop-overview", "cskpi / Shop overview",
		"Customer-service KPIs of CONTRACT §4 per shop, from the recording rules of deploy/prometheus.", "kpi").
		WithVariable(shopVariable())

	b.WithRow(dashboard.NewRowBuilder("Right now"))
	b.WithPanel(single("Average response time, "+cfg.ResponseTimeWindow,
		fmt.Sprintf("响应时长 over the %s window; the %s alert fires above %s for %s.",
			cfg.ResponseTimeWindow, rules.ResponseTimeHigh, rules.Duration(cfg.ResponseTimeThreshold), rules.Duration(cfg.ResponseTimeFor)),
		"s", query(sel(rt.Record, shopMatcher, window(cfg.ResponseTimeWindow)), "{{shop}}")).
		Thresholds(thresholds("green", step{threshold, "red"})))
	b.WithPanel(single("Buyers waiting", "Open waiting episodes: buyers whose last message no human has answered yet.",
		"none", query(sel(rules.Sum(kpi.WaitingConversations), shopMatcher), "{{shop}}")))
	b.WithPanel(single("Oldest wait", "How long the buyer waiting longest has waited; "+rules.BuyerWaiting+" warns above "+
		rules.Duration(cfg.WaitingWarning)+" and is critical above "+rules.Duration(cfg.WaitingCritical)+".",
		"s", query(sel(rules.Sum(kpi.WaitingOldest), shopMatcher), "{{shop}}")).
		Thresholds(thresholds("green", step{waitWarn, "yellow"}, step{waitCrit, "red"})))
	b.WithPanel(single("Answered within "+leTarget+" s, "+cfg.ResponseTimeWindow,
		"Share of response samples at most "+leTarget+" seconds (15秒响应率).",
		"percentunit", query(sel(within.Record, shopMatcher, `le="`+leTarget+`"`, window(cfg.ResponseTimeWindow)), "{{shop}}")).
		Decimals(1))

	rows := []struct {
		title string
		span  uint32
		kpis  []rules.KPI
	}{
		{"Response", halfW, []rules.KPI{rt, within,
			k(kpi.BuyerMessagesReplied, kpi.BuyerMessages), k(kpi.HumanMessages, kpi.BuyerMessages),
			k(kpi.FirstResponseTimeSum, kpi.FirstResponses), k(kpi.ResponseBusinessTimeSum, kpi.Responses),
			k(kpi.FirstResponseBusinessTimeSum, kpi.FirstResponses)}},
		{"Conversion", halfW, []rules.KPI{k(kpi.InquiriesReplied, kpi.Inquiries), k(kpi.InquiriesGuided, kpi.InquiriesReplied),
			k(kpi.InquiriesGuided, kpi.Inquiries), k(kpi.GuidedGMV, kpi.InquiriesGuided), k(kpi.OrdersPaid, kpi.OrdersCreated)}},
		{"Refunds", thirdW, []rules.KPI{k(kpi.RefundsDisputed, kpi.OrdersPaid), k(kpi.RefundsByMerchant, kpi.RefundsCompleted),
			k(kpi.RefundDurationSum, kpi.RefundsCompleted)}},
	}
	for _, r := range rows {
		b.WithRow(dashboard.NewRowBuilder(r.title))
		for i, kp := range r.kpis {
			p := kpiGraph(kp).Span(r.span)
			if kp.Record == rt.Record {
				p.Thresholds(thresholds("green", step{threshold, "red"})).
					ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
			}
			if r.span == halfW && len(r.kpis)%2 == 1 && i == len(r.kpis)-1 {
				p.Span(fullW) // an odd last panel takes the whole line
			}
			b.WithPanel(p)
		}
		if r.title == "Response" {
			b.WithPanel(graph("Buyers waiting", "Open waiting episodes.", "none",
				query(sel(rules.Sum(kpi.WaitingConversations), shopMatcher), "{{shop}}")))
			b.WithPanel(graph("Oldest wait", "How long the buyer waiting longest has waited.", "s",
				query(sel(rules.Sum(kpi.WaitingOldest), shopMatcher), "{{shop}}")).
				Thresholds(thresholds("green", step{waitWarn, "yellow"}, step{waitCrit, "red"})).
				ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))
			b.WithPanel(graph("Buyers waiting longer than 3 minutes, not yet an hour", "Live breaches: "+
				"cskpi_waiting_conversations_over{seconds=\"180\"} - …{seconds=\"3600\"} (CONTRACT §3).", "none",
				query(sel(rules.Sum(kpi.WaitingOver), shopMatcher, `seconds="180"`)+" - ignoring (seconds) "+
					sel(rules.Sum(kpi.WaitingOver), shopMatcher, `seconds="3600"`), "{{shop}}")))
		}
	}

	b.WithRow(dashboard.NewRowBuilder("Volume"))
	volume := []struct {
		title, unit string
		families    []kpi.ID
	}{
		{"Messages, 24h", "none", []kpi.ID{kpi.BuyerMessages, kpi.HumanMessages, kpi.AutoMessages}},
		{"Inquiries (询单), 24h", "none", []kpi.ID{kpi.Inquiries, kpi.InquiriesReplied, kpi.InquiriesGuided}},
		{"Orders, 24h", "none", []kpi.ID{kpi.OrdersCreated, kpi.OrdersPaid}},
		{"GMV, 24h", "currencyCNY", []kpi.ID{kpi.PaidGMV, kpi.GuidedGMV}},
	}
	for _, v := range volume {
		var qs []*prometheus.DataqueryBuilder
		for _, f := range v.families {
			qs = append(qs, query(sel(rules.Sum(f), shopMatcher, window(kpi.W24h)),
				"{{shop}} "+strings.TrimPrefix(f.Name(), "cskpi_")))
		}
		b.WithPanel(graph(v.title, "Trailing 24-hour counts the KPIs above divide.", v.unit, qs...))
	}
	return b
}

// kpiGraph charts one KPI of the selected shops in every window it has.
func kpiGraph(k rules.KPI) *timeseries.PanelBuilder {
	legend := "{{shop}} {{window}}"
	if k.Num == kpi.ResponsesWithin {
		legend = "{{shop}} ≤{{le}}s {{window}}"
	}
	title := k.Name + " " + k.Local
	if w := k.Windows(); len(w) == 1 {
		title += ", " + w[0]
	}
	desc := fmt.Sprintf("%s / %s (recording rule %s), windows %s; absent while the denominator is 0.",
		k.Num, k.Den, k.Record, strings.Join(k.Windows(), ", "))
	p := graph(title, desc, unit(k.Kind), query(sel(k.Record, shopMatcher), legend))
	if k.Kind == rules.Ratio {
		p.Min(0).Max(1)
	}
	return p
}
