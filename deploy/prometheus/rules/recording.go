package rules

import (
	"strconv"
	"strings"
	"time"

	"github.com/cskpi/cskpi/windows/kpi"
)

// Aggregation levels: the first part of a recording rule's name says which labels its
// series keep (besides window and le, which are part of what a family measures, as le is
// of a histogram, and the target labels such as job and namespace).
//
// A family with the scene label (kpi.Family.Scene) has two: per scene at SceneLevel, and
// both scenes together at ShopLevel, the sum of the other (the max for the oldest wait). A
// KPI whose two families carry it (kpi.Ratio.Scene) likewise: Record is both together, the
// figure a shop was judged by before the label existed, and SceneRecord each scene's.
const (
	ShopLevel  = "shop"       // shop
	SceneLevel = "shop_scene" // shop, scene
	AgentLevel = "shop_agent" // shop, agent
	JobLevel   = "job"        // the whole deployment, per topic
)

// overInstances is the aggregation every rule starts with: each instance exports the share
// of the partitions it owns (CONTRACT §3), and these two labels are what tell them apart
// (instance under any scrape config, pod under the Prometheus Operator).
const overInstances = "without (instance, pod)"

// The response targets of a shop the directory gives none for (CONTRACT §6, as
// windows/shops has them): pre-sale (response_target) and after-sale
// (aftersale_response_target).
const (
	DefaultResponseTarget          = 15 * time.Second
	DefaultAftersaleResponseTarget = 3 * time.Minute
)

// Health recording rules.
const (
	EventsRate   = "job:cskpi_events:rate5m"          // records per second by topic, outcome
	RejectedRate = "job:cskpi_events_rejected:rate5m" // rejected records per second by topic, reason
	LagSum       = "job:cskpi_consumer_lag:sum"       // records not yet applied, by topic
)

// KPI is a KPI of the catalogue in windows/kpi (kpi.Ratios, where each is declared once)
// with the recording rules that compute it.
type KPI struct {
	kpi.Ratio
	Record string
	// SceneRecord is the KPI per scene, "" for a KPI without it (kpi.Ratio.Scene).
	SceneRecord string
}

// KPIOf is KPI id with its recording rules.
func KPIOf(id kpi.RatioID) KPI {
	return KPI{Ratio: id.Ratio(), Record: Record(id), SceneRecord: SceneRecord(id)}
}

// Record names the recording rule of a KPI after Prometheus' level:metric:operations:
// a mean duration is level:<the sum's name without _sum>:mean, anything else
// level:<numerator>_per_<denominator>:ratio. For a KPI that exists per scene it is both
// scenes together.
func Record(id kpi.RatioID) string { return levelOf(id.Ratio().Num) + ":" + metricOps(id) }

// SceneRecord names the recording rule of a KPI per scene, with the scene label: Record's
// metric and operations at SceneLevel. "" for a KPI that does not exist per scene.
func SceneRecord(id kpi.RatioID) string {
	if !id.Ratio().Scene() {
		return ""
	}
	return SceneLevel + ":" + metricOps(id)
}

// metricOps is the metric:operations part of a KPI's recording rules.
func metricOps(id kpi.RatioID) string {
	r := id.Ratio()
	num, den := r.Num.Name(), r.Den.Name()
	if r.Unit == kpi.Duration && strings.HasSuffix(num, "_sum") {
		return strings.TrimSuffix(num, "_sum") + ":mean"
	}
	return num + "_per_" + strings.TrimPrefix(den, "cskpi_") + ":ratio"
}

// ShopKPIs lists CONTRACT §4's shop KPIs in the catalogue's order. The agent load band
// (日接待量) is no quotient: it is Sum(kpi.AgentBuyersServed) against LoadBands.
func ShopKPIs() []KPI { return kpisAt(kpi.ShopWindow) }

// AgentKPIs are the per-agent KPIs of the agent leaderboard and the scorecard.
func AgentKPIs() []KPI { return kpisAt(kpi.AgentWindow) }

func kpisAt(l kpi.Level) []KPI {
	var out []KPI
	for _, r := range kpi.RatiosAt(l) {
		out = append(out, KPIOf(r.ID))
	}
	return out
}

// The agent scorecard's recording rules.
const (
	// AgentScorePart is one measured part of the scorecard, 0..1, with a part label.
	AgentScorePart = "shop_agent:cskpi_agent_scorecard_part:ratio"
	// AgentScore is the 客服绩效 scorecard: the weighted parts over their measured weight.
	AgentScore = "shop_agent:cskpi_agent_scorecard:ratio"
)

// scorecard records CONTRACT §4's agent scorecard over its window: conversion against
// cfg.Scorecard.Conversion, order value against .OrderValue, and the agent's average
// response time against the shop's pre-sale target (cskpi_shop_response_target_seconds,
// 15 s without one; see Scorecard for why the agent's own average, of both scenes), each
// min(1, actual/target) — target/actual for a time — then weighted. A part an agent
// has no data for (no guided cohort, no response) is left out of both the weighted sum and
// the weight, so the score is on 0..1 of the weight measured.
func scorecard(cfg Config) []Rule {
	sc := cfg.Scorecard
	w := `{window="` + sc.Window + `"}`
	part := func(name, expr string) string {
		return `label_replace(clamp_max(` + expr + `, 1), "part", "` + name + `", "", "")`
	}
	target := ShopTarget
	rt := Record(kpi.AgentResponseTime) + w
	parts := part("conversion", Record(kpi.AgentConsultConversion)+w+" / "+num(sc.Conversion)) +
		"\nor " + part("order_value", Record(kpi.AgentInquiryOrderValue)+w+" / "+num(sc.OrderValue)) +
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
// max for the oldest wait, which is a duration and not a count. A family with the scene
// label is summed over the scenes too: both together.
func Sum(id kpi.ID) string { return levelOf(id) + ":" + id.Name() + ":" + overOp(id) }

// SceneSum is the recording rule that aggregates a family with the scene label over
// instances and keeps the label; "" for a family without it.
func SceneSum(id kpi.ID) string {
	if !id.Family().Scene {
		return ""
	}
	return SceneLevel + ":" + id.Name() + ":" + overOp(id)
}

// levelOf is the aggregation level of a family's recording rules.
func levelOf(id kpi.ID) string {
	if l := id.Family().Level; l == kpi.AgentWindow || l == kpi.AgentOnly {
		return AgentLevel
	}
	return ShopLevel
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
		op := overOp(f.ID)
		switch {
		case f.Level == kpi.AgentWindow || f.Level == kpi.AgentOnly:
			agent.Rules = append(agent.Rules, Rule{Record: Sum(f.ID), Expr: op + " " + overInstances + " (" + f.Name + ")"})
		case f.Scene:
			// Per scene first, then both together from it, in the same evaluation.
			shop.Rules = append(shop.Rules,
				Rule{Record: SceneSum(f.ID), Expr: op + " " + overInstances + " (" + f.Name + ")"},
				Rule{Record: Sum(f.ID), Expr: op + " without (scene) (" + SceneSum(f.ID) + ")"})
		default:
			shop.Rules = append(shop.Rules, Rule{Record: Sum(f.ID), Expr: op + " " + overInstances + " (" + f.Name + ")"})
		}
	}
	for _, k := range ShopKPIs() {
		shop.Rules = append(shop.Rules, Rule{Record: k.Record, Expr: quotient(k, Sum)})
		if k.SceneRecord != "" {
			shop.Rules = append(shop.Rules, Rule{Record: k.SceneRecord, Expr: quotient(k, SceneSum)})
		}
	}
	for _, k := range AgentKPIs() {
		agent.Rules = append(agent.Rules, Rule{Record: k.Record, Expr: quotient(k, Sum)})
	}
	agent.Rules = append(agent.Rules, scorecard(cfg)...)
	// The directory, which every instance exports whole: one series per shop.
	for _, r := range []struct{ record, metric string }{
		{ShopOpen, "cskpi_shop_open"}, {ShopInfo, "cskpi_shop_info"}, {ShopTarget, "cskpi_shop_response_target_seconds"},
		{ShopAftersaleTarget, "cskpi_shop_aftersale_response_target_seconds"},
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
// so that the result is absent rather than NaN or Inf when there is nothing to divide by;
// sum names the sums (Sum, or SceneSum per scene).
func quotient(k KPI, sum func(kpi.ID) string) string {
	num, den := sum(k.Num), sum(k.Den)
	if k.Num.Family().Le() {
		// One denominator series per (shop, window) serves every threshold.
		return num + " / ignoring (le) group_left () (" + den + " > 0)"
	}
	return num + " / (" + den + " > 0)"
}
