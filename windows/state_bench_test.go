package windows

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/traffic/synth"
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

// BenchmarkStateMemory reports what one partition retains per buyer-day at steady state:
// 35 days of traffic in ts order — 3 000 buyer-days a day over 50 shops, 90 % answered
// within two minutes, a third of the answered ones paying within ten hours — applied
// with expiry running as the service runs it, then the live heap (after a GC) and the
// Redis memory of the conversations hash, each divided by the buyer-days of the 28-day
// window. Exactness under CONTRACT §1's disorder keeps a replied cohort until a payment for it
// would be too old (28 days + 49 hours), and an unanswered episode until a reply would be.
// go test -run=^$ -bench=StateMemory -benchtime=1x ./windows
func BenchmarkStateMemory(b *testing.B) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	cfg := Config{Location: loc, Thresholds: []int64{15000, 180000}}
	const (
		days   = 35
		perDay = 3000
		shops  = 50
	)
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var evs []event.Event
	rng := rand.New(rand.NewPCG(1, 2))
	sec := int64(time.Second)
	id := 0
	ev := func(e event.Event) {
		id++
		e.ID = fmt.Sprintf("%08x-0000-4000-8000-%012x", id, id)
		evs = append(evs, e)
	}
	for d := range days {
		for j := range perDay {
			shop := fmt.Sprintf("shop-%03d", j%shops)
			buyerID := fmt.Sprintf("buyer-%d-%d", d, j)
			agentID := fmt.Sprintf("%s:agent-%d", shop, rng.IntN(4))
			t0 := start + int64(d)*day + rng.Int64N(day)
			ev(event.Event{Topic: event.Messages, Shop: shop, Buyer: buyerID, Sender: event.Buyer, TS: t0})
			if rng.IntN(10) == 0 {
				continue // never answered
			}
			r := t0 + 5*sec + rng.Int64N(115*sec)
			ev(event.Event{Topic: event.Messages, Shop: shop, Buyer: buyerID, Sender: event.Agent, Agent: agentID, TS: r})
			if rng.IntN(3) == 0 {
				paid := r + rng.Int64N(10*hourNs)
				ev(event.Event{Topic: event.Orders, Kind: event.OrderCreated, Shop: shop, Buyer: buyerID, AmountFen: 9900, TS: paid - sec})
				ev(event.Event{Topic: event.Orders, Kind: event.OrderPaid, Shop: shop, Buyer: buyerID, AmountFen: 9900, TS: paid})
			}
		}
	}
	slices.SortStableFunc(evs, func(x, y event.Event) int { return cmp.Compare(x.TS, y.TS) })
	rds := testenv.StartRedis(b, testenv.RedisOptions{})
	ctx := context.Background()
	st := NewStore(rds.Client(b), "mem")
	if err := st.LoadScripts(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p := NewPartition(0, cfg)
		clk := Clock{Wall: evs[len(evs)-1].TS + day}
		var offset int64
		for i := range evs {
			p.Admit(&evs[i], &clk)
			if i%2000 == 1999 || i == len(evs)-1 {
				expireAt(p, clk.Stream, clk)
				offset += 2000
				if err := commitTo(ctx, st, p, map[string]int64{"m": offset}); err != nil {
					b.Fatal(err)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		var cohorts, paids, open int
		for _, c := range p.convs {
			cohorts += len(c.cohorts)
			for _, o := range c.orders {
				if o.paid {
					paids++
				}
			}
			if c.open {
				open++
			}
		}
		mem, err := rds.Client(b).MemoryUsage(ctx, "mem:{p0}:c", 0).Result()
		if err != nil {
			b.Fatal(err)
		}
		window := float64(perDay * 28)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/window, "heapB/buyer-day")
		b.ReportMetric(float64(mem)/window, "redisB/buyer-day")
		b.ReportMetric(float64(len(p.convs)), "convs")
		b.ReportMetric(float64(cohorts), "cohorts")
		b.ReportMetric(float64(paids), "payments")
		b.ReportMetric(float64(open), "open-episodes")
		runtime.KeepAlive(p)
	}
}

const day = 24 * hourNs

// expireAt runs expiry at as-of a with clock clk.
func expireAt(p *Partition, a int64, clk Clock) { p.Expire(a, clk) }
