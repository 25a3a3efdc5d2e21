package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cskpi/cskpi/windows/kpi"
)

// sinceCollector exports, per KPI family, from when the owned partitions' state counts it:
// the latest stream time at which an upgrade added it to one of them, 0 when every owned
// partition has counted it from its beginning. Built at scrape time from the workers, so a
// partition that moves away takes its value along.
type sinceCollector struct {
	desc    *prometheus.Desc
	workers func() []*worker
}

func newSinceCollector(workers func() []*worker) *sinceCollector {
	return &sinceCollector{
		desc: prometheus.NewDesc("cskpi_state_family_since_timestamp_seconds",
			"Unix time from which the state of the owned partitions counts this KPI family: the stream time at which an upgrade "+
				"added the family to a partition's stored state (the latest over partitions), 0 when counted from the state's beginning. "+
				"A window reaching back before it is partial.",
			[]string{"family"}, nil),
		workers: workers,
	}
}

func (c *sinceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sinceCollector) Collect(ch chan<- prometheus.Metric) {
	since := map[kpi.ID]int64{}
	loaded := false
	for _, w := range c.workers() {
		loaded = w.since(func(id kpi.ID, ts int64) { since[id] = max(since[id], ts) }) || loaded
	}
	if !loaded {
		return
	}
	for _, f := range kpi.Families() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(since[f.ID])/1e9, f.Name)
	}
}
