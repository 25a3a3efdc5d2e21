package rules

import (
	"strconv"
	"time"
)

// Config holds everything an operator may want to tune. The alert thresholds and
// durations are here and nowhere else: expressions, `for` clauses and annotation texts
// are all rendered from these fields.
type Config struct {
	// Selector picks cskpi's scrape targets in `up`: the job of the scrape config (compose)
	// or the Service name (kube-prometheus ServiceMonitor).
	Selector string
	// RunbookURL is the address of docs/RUNBOOK.md; each alert links to its own anchor.
	RunbookURL string

	// ResponseTime: a shop's average response time of a scene over ResponseTimeWindow above
	// its target of that scene for ResponseTimeFor. The targets are the shop directory's
	// (response_target pre-sale, aftersale_response_target after-sale); ResponseTimeThreshold
	// and AftersaleResponseTimeThreshold are those of a shop without one, and must be the
	// directory's defaults (CONTRACT §4: 15 s pre-sale, 3 minutes after-sale, over the 15m
	// window).
	ResponseTimeThreshold          time.Duration
	AftersaleResponseTimeThreshold time.Duration
	ResponseTimeWindow             string
	ResponseTimeFor                time.Duration

	// Waiting, per scene, at thresholds that follow the scenes' default targets: a shop has
	// had pre-sale buyers waiting longer than WaitingWarning (the 15-second pre-sale
	// target) for WaitingWarningFor, or longer than WaitingCritical (the platforms'
	// 3-minute rate) for WaitingCriticalFor, or after-sale buyers waiting longer than
	// WaitingAftersale (the 3-minute after-sale target) for WaitingAftersaleFor, not
	// counting those waiting beyond WaitingGivenUp (given up on: CONTRACT §3's live
	// breach). All must be values of serve's --waiting.thresholds: the waiting series are
	// counted at those, so these cannot follow a shop's own targets.
	WaitingWarning, WaitingCritical, WaitingGivenUp time.Duration
	WaitingWarningFor, WaitingCriticalFor           time.Duration
	WaitingAftersale, WaitingAftersaleFor           time.Duration
	// WaitingAPI is the address of serve's GET /api/v1/waiting as whoever is paged can
	// reach it; the KPI alerts link to it for the shop (CONTRACT §7).
	WaitingAPI string

	// AgentBuyersServedMax: above it an agent is in CONTRACT §4's "add staff" band (日接待量 >120
	// in 24 h). AgentFor rides out the scrape or two in which a partition that moved between
	// instances is counted by both.
	AgentBuyersServedMax int
	AgentFor             time.Duration

	TargetDownFor time.Duration // a cskpi target failing its scrapes
	LagGrowingFor time.Duration // consumer lag above 0 and rising
	RedisDownFor  time.Duration // cskpi_redis_up == 0
	KafkaDownFor  time.Duration // cskpi_kafka_up == 0
	// Rejected: the share of a topic's records rejected over RejectedWindow above
	// RejectedShare, and at least RejectedMin records, for RejectedFor. RejectReasonNew: a reason with rejections in the
	// last RejectReasonWindow and none in the RejectReasonHistory before.
	RejectedShare                           float64
	RejectedMin                             int
	RejectedWindow, RejectedFor             time.Duration
	RejectReasonWindow, RejectReasonHistory time.Duration
	// NoEventsFor: not one record applied for this long while the lag stayed above 0.
	NoEventsFor time.Duration
	// PartitionsUnownedFor: fewer partition numbers owned over all instances than the
	// input topics have, for this long. A rebalance leaves some unowned for seconds; a
	// crashed member's stay so for its session timeout.
	PartitionsUnownedFor time.Duration
	// StateRefusedFor: a partition held because its stored state cannot be read. During a
	// rolling update an instance of the older build refuses what the newer one wrote until
	// the partition moves on, so this outlasts a rollout.
	StateRefusedFor time.Duration
	// ConfigReloadFailedFor: the shop directory (--shops.file) failing to reload for this
	// long. It is re-read every 2 s, so this leaves time to fix an edit saved half-done.
	ConfigReloadFailedFor time.Duration

	// Scorecard is the agent scorecard of CONTRACT §4 (客服绩效).
	Scorecard Scorecard
}

// Scorecard weighs the measured parts of an agent's 客服绩效 card. Merchants weigh
// conversion 30 %, order value 10 % and reply time 10 % of a 100-point card and judge the
// rest by hand; the recorded score is on 0..1 of the weight measured. The reply-time target
// is each shop's pre-sale response_target from the shop directory (15 s without one): the
// card's reply time is the pre-sale one. The agent families have no scene label (CONTRACT
// §3), so the reply time scored is the agent's own average over all its response samples,
// after-sale ones included; it is not the shop's pre-sale average, which would give every
// agent of a shop the same part. The two other targets are set here, for all shops.
type Scorecard struct {
	Window                                                 string // "28d"
	WeightConversion, WeightOrderValue, WeightResponseTime float64
	// Conversion is the target share of an agent's replied inquiries that are guided
	// (the agent's 咨询转化率); OrderValue the target guided GMV per guided inquiry, in yuan.
	Conversion, OrderValue float64
}

// SelectorMatcher is Selector, for use inside a metric selector's braces.
func (c Config) SelectorMatcher() string { return c.Selector }

// Default is the configuration shipped in deploy/.
func Default() Config {
	return Config{
		Selector:                       `job="cskpi"`,
		RunbookURL:                     "https://github.com/cskpi/cskpi/blob/main/docs/RUNBOOK.md",
		ResponseTimeThreshold:          DefaultResponseTarget,
		AftersaleResponseTimeThreshold: DefaultAftersaleResponseTarget,
		ResponseTimeWindow:             "15m",
		ResponseTimeFor:                5 * time.Minute,
		WaitingWarning:                 15 * time.Second,
		WaitingCritical:                3 * time.Minute,
		WaitingGivenUp:                 time.Hour,
		WaitingWarningFor:              5 * time.Minute,
		WaitingCriticalFor:             2 * time.Minute,
		WaitingAftersale:               3 * time.Minute,
		WaitingAftersaleFor:            5 * time.Minute,
		WaitingAPI:                     "http://cskpi:9470/api/v1/waiting",
		AgentBuyersServedMax:           120,
		AgentFor:                       5 * time.Minute,
		TargetDownFor:                  5 * time.Minute,
		LagGrowingFor:                  10 * time.Minute,
		RedisDownFor:                   time.Minute,
		KafkaDownFor:                   time.Minute,
		RejectedShare:                  0.01,
		RejectedMin:                    10,
		RejectedWindow:                 10 * time.Minute,
		RejectedFor:                    15 * time.Minute,
		RejectReasonWindow:             10 * time.Minute,
		RejectReasonHistory:            24 * time.Hour,
		NoEventsFor:                    15 * time.Minute,
		PartitionsUnownedFor:           time.Minute,
		StateRefusedFor:                10 * time.Minute,
		ConfigReloadFailedFor:          5 * time.Minute,
		Scorecard: Scorecard{Window: "28d", WeightConversion: 30, WeightOrderValue: 10, WeightResponseTime: 10,
			Conversion: 0.5, OrderValue: 200},
	}
}

// Duration renders d the way Prometheus writes durations ("5m", "90s", "1h30m"), whole
// milliseconds at least; 0 is "0s".
func Duration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	units := []struct {
		suffix string
		size   time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}}
	out := ""
	for _, u := range units {
		if n := d / u.size; n > 0 {
			out += strconv.FormatInt(int64(n), 10) + u.suffix
			d -= n * u.size
		}
	}
	return out
}

// seconds renders d as a PromQL number of seconds.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
