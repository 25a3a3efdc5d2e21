package windows

import (
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
