package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cskpi/cskpi/windows/kpi"
)

// Alert names; docs/RUNBOOK.md has a section for each, which its runbook_url points to.
const (
	ResponseTimeHigh      = "CskpiResponseTimeHigh"
	BuyerWaiting          = "CskpiBuyerWaiting"
	AgentOverloaded       = "CskpiAgentOverloaded"
	TargetDown            = "CskpiTargetDown"
	ConsumerLagGrowing    = "CskpiConsumerLagGrowing"
	RedisDown             = "CskpiRedisDown"
	KafkaDown             = "CskpiKafkaDown"
	EventsRejected        = "CskpiEventsRejected"
	RejectReasonNew       = "CskpiRejectReasonNew"
	NoEventsApplied       = "CskpiNoEventsApplied"
	PartitionStateMissing = "CskpiPartitionStateMissing"
	PartitionsUnowned     = "CskpiPartitionsUnowned"
	PartitionStateRefused = "CskpiPartitionStateRefused"
	PartitionStalled      = "CskpiPartitionStalled"
	ConfigReloadFailed    = "CskpiConfigReloadFailed"
)

// noEventsRange is the range over which NoEventsApplied looks for an applied record; the
// rest of Config.NoEventsFor is its `for`. A `for` rather than a 15-minute range, because
// a range over a fresh series would hold two samples and fire a minute after a restart.
const noEventsRange = 5 * time.Minute

// Severities, the label Alertmanager routes on.
const (
	Info     = "info"
	Warning  = "warning"
	Critical = "critical"
)

// Shop directory series (CONTRACT §6), one per shop over all instances: each instance
// exports the whole directory. ShopTarget is the pre-sale response target
// (response_target), ShopAftersaleTarget the after-sale one (aftersale_response_target).
const (
	ShopOpen            = "shop:cskpi_shop_open:max"
	ShopInfo            = "shop:cskpi_shop_info:max"
	ShopTarget          = "shop:cskpi_shop_response_target_seconds:max"
	ShopAftersaleTarget = "shop:cskpi_shop_aftersale_response_target_seconds:max"
)

// The values of the scene label (CONTRACT §1, kpi.Scenes).
const (
	Presale   = "presale"
	Aftersale = "aftersale"
)

// sceneWords name a scene in an alert's texts.
var sceneWords = map[string]string{Presale: "pre-sale", Aftersale: "after-sale"}

// forShop makes expr (series with a shop label) an alert about a shop as CONTRACT §4 wants
// it: silent while the directory says the shop is closed (a shop not in the directory is
// always open), and carrying the shop's team from the directory for routing (no team label
// for a shop not in it).
func forShop(expr string) string {
	gated := fmt.Sprintf("(\n  %s\n)\nunless on (shop) (%s == 0)", indent(expr), ShopOpen)
	return fmt.Sprintf("(\n  %s\n)\n* on (shop) group_left (team) %s\nor\n(\n  %s\n)\nunless on (shop) %s",
		indent(gated), ShopInfo, indent(gated), ShopInfo)
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

// liveBreach counts a shop's buyers of a scene waiting longer than from but not yet `upTo`
// (given up on): CONTRACT §3's live breach, instead of the oldest abandoned buyer of two
// days.
func liveBreach(scene string, from, upTo time.Duration) string {
	over := SceneSum(kpi.WaitingOver)
	return fmt.Sprintf(`%[1]s{scene=%[2]q, seconds="%[3]d"} - ignoring (seconds) %[1]s{scene=%[2]q, seconds="%[4]d"} > 0`,
		over, scene, int64(from.Seconds()), int64(upTo.Seconds()))
}

// ResponseTarget is what a scene's average response time is held to: the shop directory's
// Field, exported per shop and aggregated as Record, or Default for a shop without one.
type ResponseTarget struct {
	Scene, Field, Record string
	Default              time.Duration
}

// ResponseTargets are the scenes' response targets of the response-time alert, pre-sale
// first.
func ResponseTargets(cfg Config) []ResponseTarget {
	return []ResponseTarget{
		{Presale, "response_target", ShopTarget, cfg.ResponseTimeThreshold},
		{Aftersale, "aftersale_response_target", ShopAftersaleTarget, cfg.AftersaleResponseTimeThreshold},
	}
}

// responseTimeHigh is the response-time alert of one scene: its average over
// cfg.ResponseTimeWindow above the shop's target of that scene for cfg.ResponseTimeFor.
func responseTimeHigh(cfg Config, t ResponseTarget) Rule {
	words := sceneWords[t.Scene]
	mean := fmt.Sprintf("%s{scene=%q, window=%q}", SceneRecord(kpi.ResponseTime), t.Scene, cfg.ResponseTimeWindow)
	return alert(cfg, ResponseTimeHigh, Warning, cfg.ResponseTimeFor,
		fmt.Sprintf("a shop's %s average response time over %s is above its %s (%s without one)", words, cfg.ResponseTimeWindow, t.Field, Duration(t.Default)),
		forShop(fmt.Sprintf("%[1]s\n> on (shop) group_left ()\n(%[2]s or on (shop) (0 * %[1]s + %[3]s))", mean, t.Record, seconds(t.Default))),
		"Shop {{ $labels.shop }} answers "+words+" buyers in {{ $value | humanizeDuration }} on average.",
		fmt.Sprintf("The %s average response time (响应时长, scene %s) of shop {{ $labels.shop }} over the last %s is {{ $value | humanizeDuration }}, above its %s response target (the shop directory's %s, %s without one) for %s. Whom to answer: %s?shop={{ $labels.shop }}&scene=%s",
			words, t.Scene, cfg.ResponseTimeWindow, words, t.Field, Duration(t.Default), Duration(cfg.ResponseTimeFor), cfg.WaitingAPI, t.Scene))
}

// WaitingAlert is one live-breach alert: buyers of Scene waiting over Over (but not
// Config.WaitingGivenUp) at every evaluation for For.
type WaitingAlert struct {
	Scene, Severity string
	Over, For       time.Duration
}

// WaitingAlerts are the live-breach alerts, at thresholds that follow the scenes' targets:
// the pre-sale buyers at WaitingWarning (the 15-second target) and WaitingCritical (the
// platforms' 3-minute rate, twelve times the target); the after-sale buyers at
// WaitingAftersale (their 3-minute target), a warning as the pre-sale one at its target is.
func WaitingAlerts(cfg Config) []WaitingAlert {
	return []WaitingAlert{
		{Presale, Warning, cfg.WaitingWarning, cfg.WaitingWarningFor},
		{Presale, Critical, cfg.WaitingCritical, cfg.WaitingCriticalFor},
		{Aftersale, Warning, cfg.WaitingAftersale, cfg.WaitingAftersaleFor},
	}
}

func buyerWaiting(cfg Config, w WaitingAlert) Rule {
	words := sceneWords[w.Scene]
	return alert(cfg, BuyerWaiting, w.Severity, w.For, fmt.Sprintf("%s buyers of a shop have waited over %s (but not %s) at every evaluation", words, Duration(w.Over), Duration(cfg.WaitingGivenUp)),
		forShop(liveBreach(w.Scene, w.Over, cfg.WaitingGivenUp)),
		fmt.Sprintf("%s buyers of shop {{ $labels.shop }} waiting over %s for a reply: {{ $value }}.", upperFirst(words), Duration(w.Over)),
		fmt.Sprintf("Shop {{ $labels.shop }} has had %s buyers (scene %s) waiting between %s and %s for a reply at every evaluation for %s; now {{ $value }}. Whom to answer: %s?shop={{ $labels.shop }}&scene=%s&min_wait=%s",
			words, w.Scene, Duration(w.Over), Duration(cfg.WaitingGivenUp), Duration(w.For), cfg.WaitingAPI, w.Scene, Duration(w.Over)))
}

func upperFirst(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// Band is one of CONTRACT §4's agent load bands (日接待量): From buyers served in 24 h up to
// the next band's From.
type Band struct {
	From int
	Name string
}

// LoadBands are CONTRACT §4's bands: <60 idle, 60–80 normal, 80–100 full, 100–120 strained,
// >120 add staff. Counts are whole, so "above 120" starts at 121.
func LoadBands(cfg Config) []Band {
	return []Band{{0, "idle"}, {60, "normal"}, {80, "full"}, {100, "strained"}, {cfg.AgentBuyersServedMax + 1, "add staff"}}
}

// Alerts returns the alerting rule groups.
func Alerts(cfg Config) []Group {
	up := "up{" + cfg.Selector + "}"
	var kpiRules []Rule
	for _, t := range ResponseTargets(cfg) {
		kpiRules = append(kpiRules, responseTimeHigh(cfg, t))
	}
	for _, w := range WaitingAlerts(cfg) {
		kpiRules = append(kpiRules, buyerWaiting(cfg, w))
	}
	kpis := Group{Name: "cskpi.kpi.alerts", Rules: append(kpiRules,
		alert(cfg, AgentOverloaded, Warning, cfg.AgentFor, fmt.Sprintf("an agent served more than %d buyers in 24 h", cfg.AgentBuyersServedMax),
			forShop(fmt.Sprintf(`%s{window="24h"} > %d`, Sum(kpi.AgentBuyersServed), cfg.AgentBuyersServedMax)),
			"Agent {{ $labels.agent }} of shop {{ $labels.shop }} served {{ $value }} buyers in 24 h: add staff.",
			fmt.Sprintf("Agent {{ $labels.agent }} of shop {{ $labels.shop }} served {{ $value }} buyers (日接待量) in the last 24 h, above %d: the \"add staff\" load band.",
				cfg.AgentBuyersServedMax)),
	)}
	service := Group{Name: "cskpi.service.alerts", Rules: []Rule{
		alert(cfg, TargetDown, Critical, cfg.TargetDownFor, "Prometheus fails to scrape a cskpi target",
			up+" == 0",
			"cskpi target {{ $labels.instance }} is down.",
			"Prometheus has failed to scrape cskpi at {{ $labels.instance }} (job {{ $labels.job }}) for "+Duration(cfg.TargetDownFor)+": its share of the KPIs is missing, and the KPI alerts cannot fire for it."),
		alert(cfg, ConsumerLagGrowing, Warning, cfg.LagGrowingFor, "a topic's consumer lag is above 0 and rising (5-minute slope)",
			LagSum+" > 0 and deriv("+LagSum+"[5m]) > 0",
			"cskpi falls behind on {{ $labels.topic }}: {{ $value }} records not yet applied.",
			"The consumer lag of cskpi on topic {{ $labels.topic }} is {{ $value }} records and has kept growing for "+Duration(cfg.LagGrowingFor)+": the KPIs are going stale."),
		alert(cfg, RedisDown, Critical, cfg.RedisDownFor, "an instance cannot reach Redis",
			"cskpi_redis_up == 0",
			"cskpi at {{ $labels.instance }} cannot reach Redis.",
			"cskpi at {{ $labels.instance }} has had no answer from Redis for "+Duration(cfg.RedisDownFor)+": it applies nothing, and its KPIs are frozen."),
		alert(cfg, KafkaDown, Critical, cfg.KafkaDownFor, "an instance cannot reach the brokers",
			"cskpi_kafka_up == 0",
			"cskpi at {{ $labels.instance }} cannot reach Kafka.",
			"cskpi at {{ $labels.instance }} has had no answer from the Kafka brokers for "+Duration(cfg.KafkaDownFor)+": it consumes nothing, and its lag is unknown."),
		alert(cfg, EventsRejected, Warning, cfg.RejectedFor, fmt.Sprintf("more than %s of a topic's records (and at least %d) rejected over %s", strconv.FormatFloat(cfg.RejectedShare*100, 'f', -1, 64)+"%", cfg.RejectedMin, Duration(cfg.RejectedWindow)),
			// The count floor keeps a topic of a few records (a quiet orders topic) from
			// paging on one bad record.
			fmt.Sprintf("sum without (instance, pod, reason) (rate(cskpi_events_rejected_total{%[1]s}[%[2]s]))\n/\nsum without (instance, pod, outcome) (rate(cskpi_events_total{%[1]s}[%[2]s]))\n> %[3]s\nand\nsum without (instance, pod, reason) (increase(cskpi_events_rejected_total{%[1]s}[%[2]s])) >= %[4]d",
				cfg.Selector, Duration(cfg.RejectedWindow), strconv.FormatFloat(cfg.RejectedShare, 'f', -1, 64), cfg.RejectedMin),
			"cskpi rejects {{ $value | humanizePercentage }} of the records of {{ $labels.topic }}.",
			fmt.Sprintf("cskpi has rejected {{ $value | humanizePercentage }} of the records of topic {{ $labels.topic }} over the last %s, above %s (and at least %d records) for %s. They count in no KPI; each was copied to the dead-letter topic with header cskpi-reject-reason; job:cskpi_events_rejected:rate5m says which reasons.",
				Duration(cfg.RejectedWindow), strconv.FormatFloat(cfg.RejectedShare*100, 'f', -1, 64)+"%", cfg.RejectedMin, Duration(cfg.RejectedFor))),
		alert(cfg, RejectReasonNew, Info, 0, fmt.Sprintf("records of a topic rejected for a reason none was rejected for in the %s before", Duration(cfg.RejectReasonHistory)),
			// The last clause asks that the topic was consumed two windows ago already: the
			// reasons of a deployment's first window are its baseline, not news.
			fmt.Sprintf("sum %[1]s (increase(cskpi_events_rejected_total{%[2]s}[%[3]s])) > 0\nunless\nsum %[1]s (increase(cskpi_events_rejected_total{%[2]s}[%[4]s] offset %[3]s)) > 0\nand ignoring (reason)\ncount without (instance, pod, outcome) (cskpi_events_total{%[2]s} offset %[5]s)",
				overInstances, cfg.Selector, Duration(cfg.RejectReasonWindow), Duration(cfg.RejectReasonHistory), Duration(2*cfg.RejectReasonWindow)),
			"cskpi rejects records of {{ $labels.topic }} for a new reason: {{ $labels.reason }}.",
			fmt.Sprintf("cskpi rejected about {{ $value | humanize }} records of topic {{ $labels.topic }} in the last %s for reason {{ $labels.reason }}, which it had not rejected any for in the %s before: a producer changed? Each was copied to the dead-letter topic with header cskpi-reject-reason.",
				Duration(cfg.RejectReasonWindow), Duration(cfg.RejectReasonHistory))),
		alert(cfg, NoEventsApplied, Critical, max(cfg.NoEventsFor-noEventsRange, 0), fmt.Sprintf("no record of a topic applied for %s while its lag stayed above 0", Duration(cfg.NoEventsFor)),
			fmt.Sprintf("%s > 0\nand\nsum without (instance, pod, outcome) (increase(cskpi_events_total{outcome=\"applied\"}[%s])) == 0",
				LagSum, Duration(noEventsRange)),
			"cskpi applies nothing on {{ $labels.topic }} although {{ $value }} records wait.",
			fmt.Sprintf("cskpi has applied no record of topic {{ $labels.topic }} for %s while its consumer lag stayed above 0 (now {{ $value }} records): consumption is stuck.",
				Duration(cfg.NoEventsFor))),
		alert(cfg, PartitionStateMissing, Critical, 0, "a partition's Redis state is gone while Kafka has committed offsets for it",
			"cskpi_partition_state_missing == 1",
			"cskpi at {{ $labels.instance }} refuses partition {{ $labels.partition }}: its Redis state is gone.",
			"cskpi at {{ $labels.instance }} found no Redis state for partition {{ $labels.partition }} although Kafka has committed offsets for it, and refuses to consume it: restore Redis or restart with --state.rebuild-missing."),
		alert(cfg, PartitionsUnowned, Critical, cfg.PartitionsUnownedFor, "the instances own fewer partition numbers between them than the input topics have",
			fmt.Sprintf("sum %[1]s (cskpi_partitions_owned{%[2]s})\n<\nmax %[1]s (cskpi_group_partitions{%[2]s})", overInstances, cfg.Selector),
			"cskpi instances own only {{ $value }} of the input topics' partition numbers between them.",
			"The cskpi instances own {{ $value }} partition numbers between them, fewer than the input topics have, for "+Duration(cfg.PartitionsUnownedFor)+": the KPIs of the shops on the others are frozen and their lag is exported by no one. Usually a dead member the group has not dropped yet, or a partition refused for missing state."),
		alert(cfg, PartitionStateRefused, Critical, cfg.StateRefusedFor, "an instance cannot read a partition's stored state (a newer build's, or damaged) and holds it",
			"cskpi_partition_state_refused == 1",
			"cskpi at {{ $labels.instance }} holds partition {{ $labels.partition }}: it cannot read its stored state ({{ $labels.reason }}).",
			"cskpi at {{ $labels.instance }} cannot read the stored state of partition {{ $labels.partition }} (reason {{ $labels.reason }}: newer = written by a newer cskpi build, damaged = does not decode) and has held it unconsumed for "+
				Duration(cfg.StateRefusedFor)+"; nothing is written to it. A rolling update clears it when the partition moves to the newer build; otherwise see the instance's STORED STATE REFUSED log line."),
		alert(cfg, PartitionStalled, Critical, 0, "a partition's consumer has failed at one stage for a minute without committing a batch",
			"cskpi_partition_stalled == 1",
			"cskpi at {{ $labels.instance }} is stalled on partition {{ $labels.partition }} at stage {{ $labels.stage }}.",
			"The consumer of partition {{ $labels.partition }} at {{ $labels.instance }} has failed at stage {{ $labels.stage }} for over a minute without committing a batch: its KPIs stop moving. The instance's PARTITION STALLED log line has the error."),
		// Prometheus ships the same alert on its own prometheus_config_last_reload_successful.
		alert(cfg, ConfigReloadFailed, Warning, cfg.ConfigReloadFailedFor, "an instance refused the last version of its shop directory (--shops.file) and keeps the one before",
			"cskpi_config_last_reload_successful == 0",
			"cskpi at {{ $labels.instance }} refuses its shop directory; the previous one stays in force.",
			"cskpi at {{ $labels.instance }} has failed to reload its shop directory (--shops.file) for "+Duration(cfg.ConfigReloadFailedFor)+": the version on disk is invalid and refused whole, and the directory loaded before stays in force, so the edit's names, teams, business hours and response targets do not apply. The instance's \"shop directory refused\" log line says why."),
	}}
	return []Group{kpis, service}
}

// alert declares an alert; when says in a few words when it fires, for the runbook's
// table (docs/RUNBOOK.md is generated from it, as the rule files are).
func alert(cfg Config, name, severity string, dur time.Duration, when, expr, summary, description string) Rule {
	r := Rule{
		When:   when,
		Alert:  name,
		Expr:   expr,
		Labels: map[string]string{"severity": severity},
		Annotations: map[string]string{
			"summary":     summary,
			"description": description,
			"runbook_url": cfg.RunbookURL + "#" + Anchor(name),
		},
	}
	if dur > 0 {
		r.For = Duration(dur)
	}
	return r
}

// Anchor is the fragment GitHub gives a Markdown heading: lower case, spaces to hyphens,
// punctuation dropped. The runbook's headings are the alert names.
func Anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}
