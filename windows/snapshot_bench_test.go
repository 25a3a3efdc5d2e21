package windows

import (
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/traffic/synth"
	"github.com/cskpi/cskpi/windows/kpi"
)

// BenchmarkTotals: one scrape's work on a partition mirror of 200 000 realistic records
// (1 000 shops), under the worker's lock: Totals.Add with the as-of time fixed ("Add"),
// Totals.Add with the as-of time moving on by a scrape interval, so that the running
// totals move ("Advance"), and rendering every series from the sums ("Each").
// go test -run=^$ -bench=Totals -benchmem ./windows
func BenchmarkTotals(b *testing.B) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	cfg := Config{Location: loc, Thresholds: []int64{15000, 180000}}
	g := synth.New(synth.Config{Seed: 1, Shops: 1000, Start: time.Now().Add(-40 * 24 * time.Hour), Rate: 50})
	p := NewPartition(0, cfg)
	clk := Clock{Wall: time.Now().UnixNano()}
	var d event.Decoder
	for n := 0; n < 200000; {
		r, err := jsonl.Parse(g.Next())
		if err != nil {
			b.Fatal(err)
		}
		e, reason := d.Decode(r.Topic, r.Value)
		if reason != event.OK {
			continue
		}
		p.Admit(&e, &clk)
		if n++; n%8192 == 0 {
			p.Expire(clk.Stream, clk)
			commitInMemory(p)
		}
	}
	p.Expire(clk.Stream, clk)
	commitInMemory(p)
	end := clk.Stream
	const scrape = int64(15 * time.Second)

	b.Run("Add", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			NewTotals(cfg, end).Add(p)
		}
	})
	b.Run("Advance", func(b *testing.B) {
		b.ReportAllocs()
		// Ten minutes of scrapes, then back: one rebuild in 40 scrapes.
		for i := 0; b.Loop(); i++ {
			NewTotals(cfg, end+int64(i%40)*scrape).Add(p)
		}
	})
	b.Run("Each", func(b *testing.B) {
		t := NewTotals(cfg, end)
		t.Add(p)
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			t.Each(func(kpi.Series) { n++ })
		}
	})
}
