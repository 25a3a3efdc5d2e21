package sinks

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cskpi/cskpi/windows/kpi"
)

// BenchmarkMetrics: writing one scrape of every KPI family for 1 000 shops with 3 agents
// each (the series computed beforehand, so this is the writing alone), through the KPI
// writer ("direct") and through client_golang's collector and encoder ("client_golang"),
// with and without gzip. go test -run=^$ -bench=Metrics -benchmem ./sinks
func BenchmarkMetrics(b *testing.B) {
	var src staticSource
	for _, f := range kpi.Families() {
		for shop := range 1000 {
			agents := []string{""}
			if f.Level == kpi.AgentWindow || f.Level == kpi.AgentOnly {
				agents = []string{"a1", "a2", "a3"}
			}
			for _, agent := range agents {
				l := kpi.Labels{Shop: "shop-" + strconv.Itoa(shop), Agent: agent}
				for _, name := range f.LabelNames() {
					if l.Get(name) == "" {
						l.Set(name, name+"-v")
					}
				}
				src = append(src, kpi.Series{Name: f.Name, Labels: l, Value: float64(shop)})
			}
		}
	}
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewKPICollector(src))
	for _, h := range []struct {
		name string
		h    http.Handler
	}{
		{"direct", newMetricsHandler(src, prometheus.NewRegistry(), log)},
		{"client_golang", promhttp.HandlerFor(reg, handlerOpts(log))},
	} {
		for _, enc := range []string{"", "gzip"} {
			b.Run(h.name+"/"+enc, func(b *testing.B) {
				b.ReportAllocs()
				var size int
				for b.Loop() {
					req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
					req.Header.Set("Accept-Encoding", enc)
					rec := httptest.NewRecorder()
					h.h.ServeHTTP(rec, req)
					size = rec.Body.Len()
					_, _ = io.Copy(io.Discard, rec.Body)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(src)), "ns/series")
				b.ReportMetric(float64(size), "bytes")
			})
		}
	}
}
