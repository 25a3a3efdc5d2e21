package rules

import (
	"slices"
	"strconv"
	"time"

	"github.com/cskpi/cskpi/windows/kpi"
)

// Aggregation levels: the first part of a recording rule's name says which labels its
// series keep (besides window and le, which are part of what a family measures, as le is
// of a histogram, and the target labels such as job and namespace).
const (
	ShopLevel  = "shop"       // shop
	AgentLevel = "shop_agent" // shop, agent
	JobLevel   = "job"        // the whole deployment, per topic
)

// overInstances is the aggregation every rule starts with: each instance exports the share
// of the partitions it owns (CONTRACT §3), and these two labels are what tell them apart
// (instance under any scrape config, pod under the Prometheus Operator).
const overInstances = "without (instance, pod)"

// DefaultResponseTarget is a shop's response target when the directory gives none (CONTRACT §6).
const DefaultResponseTarget = 15 * time.Second

// ResponseTimeMean is the average response time per shop and window, which the
// response-time alert watches.
const ResponseTimeMean = "shop:cskpi_response_time_seconds:mean"

// Health recording rules.
const (
	EventsRate   = "job:cskpi_events:rate5m"          // records per second by topic, outcome
	RejectedRate = "job:cskpi_events_rejected:rate5m" // rejected records per second by topic, reason
	LagSum       = "job:cskpi_consumer_lag:sum"       // records not yet applied, by topic
)

// Kind says what a KPI's value is, for annotations and dashboard units.
type Kind uint8

const (
	Ratio   Kind = iota // a share, 0..1
	Seconds             // a mean duration
	Yuan                // a mean amount
	Number              // a plain quotient or count
)

// KPI is one quotient of CONTRACT §4, recorded per shop (or agent) and window.
type KPI struct {
	Record   string // recording rule
	Name     string // English name
	Local    string // the platforms' name
	Num, Den kpi.ID // metric families of the numerator and the denominator
	Kind     Kind
}

// Windows are the windows the KPI exists for: those both families have.
func (k KPI) Windows() []string {
	num, den := k.Num.Family(), k.Den.Family()
	var out []string
	for _, w := range num.Windows {
		if slices.Contains(den.Windows, w) {
			out = append(out, w)
		}
	}
	return out
}

// ShopKPIs lists CONTRACT §4's KPI catalogue in its order. The last entry of the catalogue,
// the agent load band (日接待量), is no quotient: it is Sum(kpi.AgentBuyersServed) against
// LoadBands.
func ShopKPIs() []KPI {
	return []KPI{
		{ResponseTimeMean, "Average response time", "响应时长", kpi.ResponseTimeSum, kpi.Responses, Seconds},
		{"shop:cskpi_responses_within_per_responses:ratio", "Response rate (≤ le seconds)", "15秒/3分钟响应率", kpi.ResponsesWithin, kpi.Responses, Ratio},
		{"shop:cskpi_buyer_messages_replied_24h_per_buyer_messages:ratio", "24 h reply rate", "24H回复率", kpi.BuyerMessagesReplied, kpi.BuyerMessages, Ratio},
		{"shop:cskpi_inquiries_replied_per_inquiries:ratio", "Reply rate", "回复率", kpi.InquiriesReplied, kpi.Inquiries, Ratio},
		{"shop:cskpi_inquiries_guided_per_inquiries_replied:ratio", "Consult conversion", "咨询转化率", kpi.InquiriesGuided, kpi.InquiriesReplied, Ratio},
		{"shop:cskpi_inquiries_guided_per_inquiries:ratio", "Inquiry conversion", "询单转化率", kpi.InquiriesGuided, kpi.Inquiries, Ratio},
		{"shop:cskpi_guided_gmv_yuan_per_inquiries_guided:ratio", "Inquiry order value", "询单客单价", kpi.GuidedGMV, kpi.InquiriesGuided, Yuan},
		{"shop:cskpi_orders_paid_per_orders_created:ratio", "Payment rate", "支付率", kpi.OrdersPaid, kpi.OrdersCreated, Ratio},
		{"shop:cskpi_human_messages_per_buyer_messages:ratio", "Q&A ratio", "问答比", kpi.HumanMessages, kpi.BuyerMessages, Number},
		{"shop:cskpi_refunds_disputed_per_orders_paid:ratio", "Refund dispute rate", "退款纠纷率", kpi.RefundsDisputed, kpi.OrdersPaid, Ratio},
		{"shop:cskpi_refunds_completed_by_merchant_per_refunds_completed:ratio", "Refund self-completion rate", "退款自主完结率", kpi.RefundsByMerchant, kpi.RefundsCompleted, Ratio},
		{"shop:cskpi_refund_duration_seconds:mean", "Refund completion time", "退款完结时长", kpi.RefundDurationSum, kpi.RefundsCompleted, Seconds},
		{"shop:cskpi_first_response_time_seconds:mean", "First response time", "首次响应时长", kpi.FirstResponseTimeSum, kpi.FirstResponses, Seconds},
		{"shop:cskpi_response_business_time_seconds:mean", "Business-hours response time", "工作时间响应时长", kpi.ResponseBusinessTimeSum, kpi.Responses, Seconds},
		{"shop:cskpi_first_response_business_time_seconds:mean", "Business-hours first response time", "工作时间首次响应时长", kpi.FirstResponseBusinessTimeSum, kpi.FirstResponses, Seconds},
	}
}

// AgentKPIs are the per-agent quotients of the agent leaderboard.
func AgentKPIs() []KPI {
	return []KPI{
		{"shop_agent:cskpi_agent_response_time_seconds:mean", "Average response time", "响应时长", kpi.AgentResponseTimeSum, kpi.AgentResponses, Seconds},
		{"shop_agent:cskpi_agent_inquiries_guided_per_agent_inquiries_replied:ratio", "Consult conversion", "咨询转化率", kpi.AgentInquiriesGuided, kpi.AgentInquiriesReplied, Ratio},
		{"shop_agent:cskpi_agent_guided_gmv_yuan_per_agent_inquiries_guided:ratio", "Inquiry order value", "询单客单价", kpi.AgentGuidedGMV, kpi.AgentInquiriesGuided, Yuan},
		{AgentFirstResponseMean, "First response time", "首次响应时长", kpi.AgentFirstResponseTimeSum, kpi.AgentFirstResponses, Seconds},
		{"shop_agent:cskpi_agent_response_business_time_seconds:mean", "Business-hours response time", "工作时间响应时长", kpi.AgentResponseBusinessTimeSum, kpi.AgentResponses, Seconds},
		{AgentQARatio, "Q&A ratio", "问答比", kpi.AgentMessages, kpi.AgentBuyerMessagesAnswered, Number},
	}
}

// Agent KPIs the scorecard and the dashboards name.
const (
	AgentResponseTimeMean  = "shop_agent:cskpi_agent_response_time_seconds:mean"
	AgentConversion        = "shop_agent:cskpi_agent_inquiries_guided_per_agent_inquiries_replied:ratio"
	AgentOrderValue        = "shop_agent:cskpi_agent_guided_gmv_yuan_per_agent_inquiries_guided:ratio"
	AgentFirstResponseMean = "shop_agent:cskpi_agent_first_response_time_seconds:mean"
	AgentQARatio           = "shop_agent:cskpi_agent_messages_per_agent_buyer_messages_answered:ratio"
	// AgentScorePart is one measured part of the scorecard, 0..1, with a part label.
	AgentScorePart = "shop_agent:cskpi_agent_scorecard_part:ratio"
	// AgentScore is the 客服绩效 scorecard: the weighted parts over their measured weight.
	AgentScore = "shop_agent:cskpi_agent_scorecard:ratio"
)

// scorecard records CONTRACT §4's agent scorecard over its window: conversion against
// cfg.Scorecard.Conversion, order value against .OrderValue, and the average response
// time against the shop's target (cskpi_shop_response_target_seconds, 15 s without one),
// each min(1, actual/target) — target/actual for a time — then weighted. A part an agent
// has no data for (no guided cohort, no response) is left out of both the weighted sum and
// the weight, so the score is on 0..1 of the weight measured.
func scorecard(cfg Config) []Rule {
	sc := cfg.Scorecard
	w := `{window="` + sc.Window + `"}`
	part := func(name, expr string) string {
		return `label_replace(clamp_max(` + expr + `, 1), "part", "` + name + `", "", "")`
	}
	target := ShopTarget
	rt := AgentResponseTimeMean + w
	parts := part("conversion", AgentConversion+w+" / "+num(sc.Conversion)) +
		"\nor " + part("order_value", AgentOrderValue+w+" / "+num(sc.OrderValue)) +
		"\nor " + part("response_time", "("+target+" / on (shop) group_right () "+rt+")\n  or ("+seconds(DefaultResponseTarget)+" / "+rt+")")
	weighted := func(name string, weight float64) string {
		return num(weight) + ` * ` + AgentScorePart + `{part="` + name + `"}`
	}
	weight := func(name string, weight float64) string {
		return `(0 * ` + AgentScorePart + `{part="` + name + `"} + ` + num(weight) + `)`
	}
	return []Rule{
		{Record: AgentScorePart, Expr: parts},
		{Record: AgentScore, Expr: "sum without (part) (\n  " + weighted("conversion", sc.WeightConversion) +
			"\n  or " + weighted("order_value", sc.WeightOrderValue) + "\n  or " + weighted("response_time", sc.WeightResponseTime) +
			"\n)\n/\nsum without (part) (\n  " + weight("conversion", sc.WeightConversion) +
			"\n  or " + weight("order_value", sc.WeightOrderValue) + "\n  or " + weight("response_time", sc.WeightResponseTime) + "\n)"},
	}
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Sum is the recording rule that aggregates a KPI family over instances: a sum, but the
// max for the oldest wait, which is a duration and not a count.
func Sum(id kpi.ID) string {
	f := id.Family()
	level := ShopLevel
	if f.Level == kpi.AgentWindow || f.Level == kpi.AgentOnly {
		level = AgentLevel
	}
	return level + ":" + f.Name + ":" + overOp(id)
}

// overOp aggregates a family over instances: the oldest wait is a duration, the rest sum.
func overOp(id kpi.ID) string {
	if id == kpi.WaitingOldest {
		return "max"
	}
	return "sum"
}

// Recording returns the recording rule groups. Within a group Prometheus evaluates rules
// in order, so each quotient sees the sums of the same evaluation.
func Recording(cfg Config) []Group {
	shop := Group{Name: "cskpi.shop.rules"}
	agent := Group{Name: "cskpi.agent.rules"}
	for _, f := range kpi.Families() {
		r := Rule{Record: Sum(f.ID), Expr: overOp(f.ID) + " " + overInstances + " (" + f.Name + ")"}
		if f.Level == kpi.AgentWindow || f.Level == kpi.AgentOnly {
			agent.Rules = append(agent.Rules, r)
		} else {
			shop.Rules = append(shop.Rules, r)
		}
	}
	for _, k := range ShopKPIs() {
		shop.Rules = append(shop.Rules, Rule{Record: k.Record, Expr: quotient(k)})
	}
	for _, k := range AgentKPIs() {
		agent.Rules = append(agent.Rules, Rule{Record: k.Record, Expr: quotient(k)})
	}
	agent.Rules = append(agent.Rules, scorecard(cfg)...)
	// The directory, which every instance exports whole: one series per shop.
	for _, r := range []struct{ record, metric string }{
		{ShopOpen, "cskpi_shop_open"}, {ShopInfo, "cskpi_shop_info"}, {ShopTarget, "cskpi_shop_response_target_seconds"},
	} {
		shop.Rules = append(shop.Rules, Rule{Record: r.record, Expr: "max " + overInstances + " (" + r.metric + ")"})
	}
	health := Group{Name: "cskpi.health.rules", Rules: []Rule{
		{Record: EventsRate, Expr: "sum " + overInstances + " (rate(cskpi_events_total[5m]))"},
		{Record: RejectedRate, Expr: "sum " + overInstances + " (rate(cskpi_events_rejected_total[5m]))"},
		// During a rebalance two instances may briefly both report a partition: take one.
		{Record: LagSum, Expr: "sum without (partition) (max " + overInstances + " (cskpi_consumer_lag))"},
	}}
	return []Group{shop, agent, health}
}

// quotient divides the numerator's sum by the denominator's where the latter is above 0,
// so that the result is absent rather than NaN or Inf when there is nothing to divide by.
func quotient(k KPI) string {
	num, den := Sum(k.Num), Sum(k.Den)
	if k.Num.Family().Le() {
		// One denominator series per (shop, window) serves every threshold.
		return num + " / ignoring (le) group_left () (" + den + " > 0)"
	}
	return num + " / (" + den + " > 0)"
}
