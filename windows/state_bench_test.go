package windows

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/cskpi/cskpi/pipeline/event"
	"github.com/cskpi/cskpi/pipeline/jsonl"
	"github.com/cskpi/cskpi/pipeline/synth"
)

// BenchmarkAdmit: validating and applying one realistic record to a partition mirror, the
// per-record work of a batch besides decoding and the Redis write.
// go test -run=^$ -bench=Admit -benchmem ./windows
func BenchmarkAdmit(b *testing.B) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	cfg := Config{Location: loc, Thresholds: []int64{15000, 180000}}
	g := synth.New(synth.Config{Seed: 1, Shops: 1000, Start: time.Now().Add(-40 * 24 * time.Hour), Rate: 50})
	const n = 200000
	evs := make([]event.Event, 0, n)
	var d event.Decoder
	for len(evs) < n {
		r, err := jsonl.Parse(g.Next())
		if err != nil {
			b.Fatal(err)
		}
		if e, reason := d.Decode(r.Topic, r.Value); reason == event.OK {
			evs = append(evs, e)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	p := NewPartition(0, cfg)
	clk := Clock{Wall: time.Now().UnixNano()}
	for i := 0; b.Loop(); i++ {
		if i%n == 0 {
			b.StopTimer()
			p = NewPartition(0, cfg)
			clk = Clock{Wall: time.Now().UnixNano()}
			b.StartTimer()
		}
		e := evs[i%n]
		p.Admit(&e, &clk)
		if i%8192 == 8191 {
			p.clearDirty() // as a commit does
		}
	}
}

// BenchmarkIDMemory reports the service's memory per remembered event id (the id map and
// the per-minute key lists), for sizing: duplicate detection holds every id of the last
// hour of stream time.
// go test -run=^$ -bench=IDMemory ./windows
func BenchmarkIDMemory(b *testing.B) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	cfg := Config{Location: loc, Thresholds: []int64{15000, 180000}}
	const n = 1_000_000
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano()
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p := NewPartition(0, cfg)
		for i := range n {
			// Realistic ids: a UUID-like 36-byte string, one ms apart.
			p.remember(event.Orders, fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), start+int64(i)*int64(time.Millisecond))
			if i%8192 == 8191 { // as a commit does
				p.idsCommitted(int64(i))
				p.clearDirty()
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/id")
		runtime.KeepAlive(p)
	}
}
