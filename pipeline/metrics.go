package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows"
)

// metrics are the health metrics of CONTRACT §3 that the pipeline owns.
type metrics struct {
	events     *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	lag        *prometheus.GaugeVec
	streamTime prometheus.Gauge
	redisUp    prometheus.Gauge
	applyTime  prometheus.Histogram
	freshness  prometheus.Histogram
	batchSize  prometheus.Histogram
	missing    *prometheus.GaugeVec
	refused    *prometheus.GaugeVec
	skipped    *prometheus.CounterVec
	stalled    *prometheus.GaugeVec
	folded     *prometheus.GaugeVec
	kafkaUp    prometheus.Gauge
	rejoins    prometheus.Counter
}

// newMetrics registers the health metrics; owned counts the loaded partitions and
// partitions the input topics' partition numbers when a scrape asks.
func newMetrics(reg prometheus.Registerer, topics []string, owned, partitions func() float64) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cskpi_events_total",
			Help: "Records consumed, by topic and outcome (applied, duplicate, excluded, rejected).",
		}, []string{"topic", "outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cskpi_events_rejected_total",
			Help: "Rejected records by topic and reason; each is copied to the dead-letter topic.",
		}, []string{"topic", "reason"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cskpi_consumer_lag",
			Help: "Records in the partition not yet applied (high watermark minus the next offset stored in Redis).",
		}, []string{"topic", "partition"}),
		streamTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cskpi_stream_time_seconds",
			Help: "Stream time: the largest ts applied to any partition, Unix seconds.",
		}),
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cskpi_redis_up",
			Help: "1 when Redis answered the last check, else 0.",
		}),
		applyTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cskpi_batch_apply_seconds",
			Help:    "Time to validate, aggregate and commit one partition batch to Redis.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cskpi_freshness_seconds",
			Help:    "Time from a batch's oldest record timestamp (producer time) to its commit, from which on every scrape shows it.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cskpi_batch_records",
			Help:    "Records per committed partition batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		missing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cskpi_partition_state_missing",
			Help: "1 for a partition whose Redis state is gone although Kafka has committed offsets; see docs/RELIABILITY.md.",
		}, []string{"partition"}),
		refused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cskpi_partition_state_refused",
			Help: "1 for a partition whose stored state this build cannot read (reason newer: written by a newer build; damaged: does not decode); it is held unconsumed and never written. See docs/UPGRADING.md.",
		}, []string{"partition", "reason"}),
		stalled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cskpi_partition_stalled",
			Help: "1 for a partition whose consumer has failed at one stage (load, fetch, deadletter, commit) for a minute without committing a batch; see the log's PARTITION STALLED line.",
		}, []string{"partition", "stage"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cskpi_records_skipped_total",
			Help: "Records the topics no longer held when the consumer reached them (deleted by retention before they were applied): missing from every KPI.",
		}, []string{"topic"}),
		folded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cskpi_series_folded",
			Help: "Shops or agents beyond --metrics.max-shops / --metrics.max-agents, folded into \"_other\".",
		}, []string{"level"}),
		kafkaUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cskpi_kafka_up",
			Help: "1 when the brokers answered the last offset query, else 0.",
		}),
		rejoins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cskpi_group_rejoins_total",
			Help: "Times this instance left and rejoined the consumer group because a partition number stayed claimed by no live instance for a session timeout.",
		}),
	}
	reg.MustRegister(m.events, m.rejected, m.lag, m.streamTime, m.redisUp, m.applyTime, m.freshness,
		m.batchSize, m.missing, m.refused, m.stalled, m.skipped, m.folded, m.kafkaUp, m.rejoins,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cskpi_partitions_owned",
			Help: "Partition numbers this instance owns and has loaded.",
		}, owned),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cskpi_group_partitions",
			Help: "Partition numbers of the input topics, the group's whole work (0 until the brokers answered): sum(cskpi_partitions_owned) over instances below it means some are consumed by no one.",
		}, partitions))
	m.folded.WithLabelValues("shop")
	m.folded.WithLabelValues("agent")
	// Every series exists from the start, so rate() and alerts see the first increase.
	for _, t := range topics {
		for _, o := range []windows.Outcome{windows.Applied, windows.Duplicate, windows.Excluded, windows.Rejected} {
			m.events.WithLabelValues(t, o.String())
		}
		for _, r := range event.Reasons {
			m.rejected.WithLabelValues(t, string(r))
		}
		m.skipped.WithLabelValues(t)
	}
	return m
}
