package sinks

import (
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/cskpi/cskpi/windows/kpi"
)

// Source computes the current KPI series, handing them over one at a time.
type Source interface {
	Each(emit func(kpi.Series))
}

// KPICollector exports a Source's series as gauges, computed when a scrape asks: a
// committed change shows at the next scrape, and between scrapes the series cost nothing
// (a shop's hundreds of series, times thousands of shops, would otherwise be rebuilt on a
// timer). A shop that went quiet is simply absent from the next scrape.
type KPICollector struct {
	src   Source
	descs map[string]*prometheus.Desc
	fams  map[string]kpi.Family
}

// NewKPICollector describes every family of CONTRACT §3.
func NewKPICollector(src Source) *KPICollector {
	c := &KPICollector{src: src, descs: map[string]*prometheus.Desc{}, fams: map[string]kpi.Family{}}
	for _, f := range kpi.Families() {
		c.descs[f.Name] = prometheus.NewDesc(f.Name, f.Help, f.LabelNames(), nil)
		c.fams[f.Name] = f
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *KPICollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *KPICollector) Collect(ch chan<- prometheus.Metric) {
	c.src.Each(func(s kpi.Series) {
		f := c.fams[s.Name]
		ch <- prometheus.MustNewConstMetric(c.descs[s.Name], prometheus.GaugeValue, s.Value, f.LabelValues(s)...)
	})
}

type staticSource []kpi.Series

func (s staticSource) Each(emit func(kpi.Series)) {
	for _, x := range s {
		emit(x)
	}
}

// WriteText renders series in the Prometheus text format, as /metrics would.
func WriteText(w io.Writer, series []kpi.Series, extra ...prometheus.Collector) error {
	reg := prometheus.NewPedanticRegistry()
	c := NewKPICollector(staticSource(series))
	reg.MustRegister(c)
	reg.MustRegister(extra...)
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// eventCounters exports fixed record counts, for `cskpi recompute`.
type eventCounters struct {
	events, rejected *prometheus.Desc
	ev, rej          map[[2]string]int64
	names            map[string]string
}

// EventCounters exports the recompute's outcome counts as cskpi_events_total and
// cskpi_events_rejected_total; names maps topic roles to topic names.
func EventCounters(events, rejected map[[2]string]int64, names map[string]string) prometheus.Collector {
	return &eventCounters{
		events:   prometheus.NewDesc("cskpi_events_total", "Records by topic and outcome.", []string{"topic", "outcome"}, nil),
		rejected: prometheus.NewDesc("cskpi_events_rejected_total", "Rejected records by topic and reason.", []string{"topic", "reason"}, nil),
		ev:       events, rej: rejected, names: names,
	}
}

func (e *eventCounters) Describe(ch chan<- *prometheus.Desc) { ch <- e.events; ch <- e.rejected }

func (e *eventCounters) Collect(ch chan<- prometheus.Metric) {
	for k, v := range e.ev {
		ch <- prometheus.MustNewConstMetric(e.events, prometheus.CounterValue, float64(v), e.names[k[0]], k[1])
	}
	for k, v := range e.rej {
		ch <- prometheus.MustNewConstMetric(e.rejected, prometheus.CounterValue, float64(v), e.names[k[0]], k[1])
	}
}
