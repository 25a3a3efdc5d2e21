package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
)

// serviceHealth shows cskpi itself: is it up, does it keep up, what does it reject, how
// fresh are the gauges.
func serviceHealth(cfg rules.Config) *dashboard.DashboardBuilder {
	up := "up{" + cfg.Selector + "}"
	b := newBoard(cfg, "cskpi-service-health", "cskpi / Service health",
		"cskpi's own health: targets, Redis and Kafka, consumer lag, throughput, rejected records, freshness.", "health")

	b.WithRow(dashboard.NewRowBuilder("Status"))
	b.WithPanel(single("Targets up", "cskpi instances Prometheus scrapes successfully; "+rules.TargetDown+" fires for one down "+
		rules.Duration(cfg.TargetDownFor)+".", "none", query("sum("+up+")", "up")).
		Thresholds(thresholds("red", step{1, "green"})))
	b.WithPanel(single("Redis reachable", "Lowest cskpi_redis_up over the instances: 1 when every instance reaches Redis.",
		"none", query("min(cskpi_redis_up)", "redis")).
		Thresholds(thresholds("red", step{1, "green"})))
	b.WithPanel(single("Kafka reachable", "Lowest cskpi_kafka_up over the instances: 1 when every instance reaches the brokers.",
		"none", query("min(cskpi_kafka_up)", "kafka")).
		Thresholds(thresholds("red", step{1, "green"})))
	b.WithPanel(single("Partitions held", "Partitions cskpi holds unconsumed or cannot consume: Redis state gone ("+
		rules.PartitionStateMissing+"), stored state this build cannot read ("+rules.PartitionStateRefused+
		"), a consumer failing for a minute ("+rules.PartitionStalled+").", "none",
		// cskpi exports these gauges only for partitions that were held; 0, not "no
		// data", while it owns partitions and none is held.
		query("sum(cskpi_partition_state_missing or cskpi_partition_state_refused or cskpi_partition_stalled) or (sum(cskpi_partitions_owned) * 0)", "held")).
		Thresholds(thresholds("green", step{1, "red"})))
	withAlerts(b, cfg, forService, "Firing and pending alerts of deploy/prometheus, the shops' and agents' too: "+
		"while a service alert fires, the KPI alerts may be silent for the wrong reason.")

	b.WithRow(dashboard.NewRowBuilder("Throughput and lag"))
	b.WithPanel(graph("Records by outcome", "Records consumed per second: applied, duplicate, excluded (spam), rejected.",
		"rps", query("sum by (topic, outcome) (rate(cskpi_events_total["+RateIntervalVar+"]))", "{{topic}} {{outcome}}")))
	b.WithPanel(graph("Rejected records by reason", "Each is copied to the dead-letter topic; "+rules.EventsRejected+" fires on any.",
		"rps", query("sum by (topic, reason) (rate(cskpi_events_rejected_total["+RateIntervalVar+"]))", "{{topic}} {{reason}}")))
	b.WithPanel(graph("Consumer lag", "Records not yet applied, per topic ("+rules.LagSum+"); "+rules.ConsumerLagGrowing+
		" fires when it keeps growing for "+rules.Duration(cfg.LagGrowingFor)+".",
		"none", query(rules.LagSum, "{{topic}}")))
	b.WithPanel(graph("Consumer lag by partition", "A single growing partition points at one stuck worker or a partition without state.",
		"none", query("max by (topic, partition) (cskpi_consumer_lag)", "{{topic}} p{{partition}}")))

	b.WithRow(dashboard.NewRowBuilder("Latency"))
	b.WithPanel(graph("Freshness", "From a batch's oldest record timestamp to the gauges showing it (CONTRACT §3: within a second).",
		"s",
		query(quantile(0.5, "cskpi_freshness_seconds"), "p50"),
		query(quantile(0.99, "cskpi_freshness_seconds"), "p99")).
		Thresholds(thresholds("green", step{1, "red"})))
	b.WithPanel(graph("Stream time behind the wall clock", "Now minus the largest applied ts: how far behind the newest event the KPIs are.",
		"s", query("time() - max(cskpi_stream_time_seconds)", "behind")))
	b.WithPanel(graph("Batch apply time", "Validating, aggregating and committing one partition batch to Redis.",
		"s",
		query(quantile(0.5, "cskpi_batch_apply_seconds"), "p50"),
		query(quantile(0.99, "cskpi_batch_apply_seconds"), "p99")))
	b.WithPanel(graph("Records per batch", "Larger batches mean cskpi is catching up.", "none",
		query(quantile(0.5, "cskpi_batch_records"), "p50"),
		query(quantile(0.99, "cskpi_batch_records"), "p99")))

	b.WithRow(dashboard.NewRowBuilder("Capacity"))
	b.WithPanel(graph("Partitions owned by instance", "Partitions each instance owns and has loaded.", "none",
		query("sum by (instance) (cskpi_partitions_owned)", "{{instance}}")))
	b.WithPanel(graph("Series folded into _other", "Shops or agents beyond --metrics.max-shops / --metrics.max-agents.", "none",
		query("max by (level) (cskpi_series_folded)", "{{level}}")))
	return b
}

// quantile is a histogram quantile over every instance.
func quantile(q float64, histogram string) string {
	return "histogram_quantile(" + trimFloat(q) + ", sum by (le) (rate(" + histogram + "_bucket[" + RateIntervalVar + "])))"
}
