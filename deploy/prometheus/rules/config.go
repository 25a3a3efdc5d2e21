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

	// ResponseTime: a shop's average response time over ResponseTimeWindow above
	// ResponseTimeThreshold for ResponseTimeFor. SPEC §4: 15 s over the 15m window.
	ResponseTimeThreshold time.Duration
	ResponseTimeWindow    string
	ResponseTimeFor       time.Duration

	// Waiting: the oldest unanswered buyer of a shop has waited longer than WaitingWarning
	// (the 15-second response target) or WaitingCritical (the platforms' 3-minute rate).
	// The metric is already a duration, so WaitingFor is 0: a `for` would only add to it.
	WaitingWarning  time.Duration
	WaitingCritical time.Duration
	WaitingFor      time.Duration

	// AgentBuyersServedMax: above it an agent is in SPEC §4's "add staff" band (日接待量 >120
	// in 24 h). AgentFor rides out the scrape or two in which a partition that moved between
	// instances is counted by both.
	AgentBuyersServedMax int
	AgentFor             time.Duration

	TargetDownFor time.Duration // a cskpi target failing its scrapes
	LagGrowingFor time.Duration // consumer lag above 0 and rising
	RedisDownFor  time.Duration // cskpi_redis_up == 0
	KafkaDownFor  time.Duration // cskpi_kafka_up == 0
	// RejectedWindow is the range over which any rejected record raises an alert.
	RejectedWindow time.Duration
	// NoEventsFor: not one record applied for this long while the lag stayed above 0.
	NoEventsFor time.Duration
}

// Default is the configuration shipped in deploy/.
func Default() Config {
	return Config{
		Selector:              `job="cskpi"`,
		RunbookURL:            "https://github.com/cskpi/cskpi/blob/main/docs/RUNBOOK.md",
		ResponseTimeThreshold: 15 * time.Second,
		ResponseTimeWindow:    "15m",
		ResponseTimeFor:       5 * time.Minute,
		WaitingWarning:        15 * time.Second,
		WaitingCritical:       3 * time.Minute,
		WaitingFor:            0,
		AgentBuyersServedMax:  120,
		AgentFor:              5 * time.Minute,
		TargetDownFor:         5 * time.Minute,
		LagGrowingFor:         10 * time.Minute,
		RedisDownFor:          time.Minute,
		KafkaDownFor:          time.Minute,
		RejectedWindow:        5 * time.Minute,
		NoEventsFor:           15 * time.Minute,
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
