package rules

import (
	"fmt"
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
	NoEventsApplied       = "CskpiNoEventsApplied"
	PartitionStateMissing = "CskpiPartitionStateMissing"
)

// noEventsRange is the range over which NoEventsApplied looks for an applied record; the
// rest of Config.NoEventsFor is its `for`. A `for` rather than a 15-minute range, because
// a range over a fresh series would hold two samples and fire a minute after a restart.
const noEventsRange = 5 * time.Minute

// Severities, the label Alertmanager routes on.
const (
	Warning  = "warning"
	Critical = "critical"
)

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
	kpis := Group{Name: "cskpi.kpi.alerts", Rules: []Rule{
		alert(cfg, ResponseTimeHigh, Warning, cfg.ResponseTimeFor,
			fmt.Sprintf(`%s{window=%q} > %s`, ResponseTimeMean, cfg.ResponseTimeWindow, seconds(cfg.ResponseTimeThreshold)),
			"Shop {{ $labels.shop }} answers buyers in {{ $value | humanizeDuration }} on average.",
			fmt.Sprintf("The average response time (响应时长) of shop {{ $labels.shop }} over the last %s is {{ $value | humanizeDuration }}, above %s for %s.",
				cfg.ResponseTimeWindow, Duration(cfg.ResponseTimeThreshold), Duration(cfg.ResponseTimeFor))),
		alert(cfg, BuyerWaiting, Warning, cfg.WaitingFor,
			Sum(kpi.WaitingOldest)+" > "+seconds(cfg.WaitingWarning),
			"A buyer of shop {{ $labels.shop }} has waited {{ $value | humanizeDuration }} for a reply.",
			"The oldest unanswered buyer of shop {{ $labels.shop }} has been waiting {{ $value | humanizeDuration }}, longer than "+Duration(cfg.WaitingWarning)+"."),
		alert(cfg, BuyerWaiting, Critical, cfg.WaitingFor,
			Sum(kpi.WaitingOldest)+" > "+seconds(cfg.WaitingCritical),
			"A buyer of shop {{ $labels.shop }} has waited {{ $value | humanizeDuration }} for a reply.",
			"The oldest unanswered buyer of shop {{ $labels.shop }} has been waiting {{ $value | humanizeDuration }}, longer than "+Duration(cfg.WaitingCritical)+"."),
		alert(cfg, AgentOverloaded, Warning, cfg.AgentFor,
			fmt.Sprintf(`%s{window="24h"} > %d`, Sum(kpi.AgentBuyersServed), cfg.AgentBuyersServedMax),
			"Agent {{ $labels.agent }} of shop {{ $labels.shop }} served {{ $value }} buyers in 24 h: add staff.",
			fmt.Sprintf("Agent {{ $labels.agent }} of shop {{ $labels.shop }} served {{ $value }} buyers (日接待量) in the last 24 h, above %d: the \"add staff\" load band.",
				cfg.AgentBuyersServedMax)),
	}}
	service := Group{Name: "cskpi.service.alerts", Rules: []Rule{
		alert(cfg, TargetDown, Critical, cfg.TargetDownFor,
			up+" == 0",
			"cskpi target {{ $labels.instance }} is down.",
			"Prometheus has failed to scrape cskpi at {{ $labels.instance }} (job {{ $labels.job }}) for "+Duration(cfg.TargetDownFor)+": its share of the KPIs is missing, and the KPI alerts cannot fire for it."),
		alert(cfg, ConsumerLagGrowing, Warning, cfg.LagGrowingFor,
			LagSum+" > 0 and deriv("+LagSum+"[5m]) > 0",
			"cskpi falls behind on {{ $labels.topic }}: {{ $value }} records not yet applied.",
			"The consumer lag of cskpi on topic {{ $labels.topic }} is {{ $value }} records and has kept growing for "+Duration(cfg.LagGrowingFor)+": the KPIs are going stale."),
		alert(cfg, RedisDown, Critical, cfg.RedisDownFor,
			"cskpi_redis_up == 0",
			"cskpi at {{ $labels.instance }} cannot reach Redis.",
			"cskpi at {{ $labels.instance }} has had no answer from Redis for "+Duration(cfg.RedisDownFor)+": it applies nothing, and its KPIs are frozen."),
		alert(cfg, KafkaDown, Critical, cfg.KafkaDownFor,
			"cskpi_kafka_up == 0",
			"cskpi at {{ $labels.instance }} cannot reach Kafka.",
			"cskpi at {{ $labels.instance }} has had no answer from the Kafka brokers for "+Duration(cfg.KafkaDownFor)+": it consumes nothing, and its lag is unknown."),
		alert(cfg, EventsRejected, Warning, 0,
			fmt.Sprintf("sum %s (increase(cskpi_events_rejected_total[%s])) > 0", overInstances, Duration(cfg.RejectedWindow)),
			"cskpi rejected {{ $value | humanize }} records of {{ $labels.topic }} ({{ $labels.reason }}).",
			fmt.Sprintf("cskpi rejected about {{ $value | humanize }} records of topic {{ $labels.topic }} in the last %s, reason {{ $labels.reason }}. They count in no KPI; each was copied to the dead-letter topic with header cskpi-reject-reason.",
				Duration(cfg.RejectedWindow))),
		alert(cfg, NoEventsApplied, Critical, max(cfg.NoEventsFor-noEventsRange, 0),
			fmt.Sprintf("%s > 0\nand\nsum without (instance, pod, outcome) (increase(cskpi_events_total{outcome=\"applied\"}[%s])) == 0",
				LagSum, Duration(noEventsRange)),
			"cskpi applies nothing on {{ $labels.topic }} although {{ $value }} records wait.",
			fmt.Sprintf("cskpi has applied no record of topic {{ $labels.topic }} for %s while its consumer lag stayed above 0 (now {{ $value }} records): consumption is stuck.",
				Duration(cfg.NoEventsFor))),
		alert(cfg, PartitionStateMissing, Critical, 0,
			"cskpi_partition_state_missing == 1",
			"cskpi at {{ $labels.instance }} refuses partition {{ $labels.partition }}: its Redis state is gone.",
			"cskpi at {{ $labels.instance }} found no Redis state for partition {{ $labels.partition }} although Kafka has committed offsets for it, and refuses to consume it: restore Redis or restart with --state.rebuild-missing."),
	}}
	return []Group{kpis, service}
}

func alert(cfg Config, name, severity string, dur time.Duration, expr, summary, description string) Rule {
	r := Rule{
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
