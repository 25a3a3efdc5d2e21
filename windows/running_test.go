package windows

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
)

// bruteTotals sums every bucket in the spans of a, the way a refresh did before running
// totals: the oracle of the incremental sums.
func bruteTotals(p *Partition, a int64) map[owner]*totals {
	sp := SpansAt(a)
	out := map[owner]*totals{}
	for k, b := range p.blocks {
		for w := range nWindows {
			if windowTable[w].res != k.res || !sp[w].Has(k.idx) {
				continue
			}
			p.eachVector(b, func(id ownerID, v []int64) {
				o := p.owners.owner(id)
				t := out[o]
				if t == nil {
					t = &totals{}
					out[o] = t
				}
				addInto(t, w, v, 1)
			})
		}
	}
	for o, t := range out {
		if allZero(t) {
			delete(out, o)
		}
	}
	return out
}

func sameTotals(got, want map[owner]*totals) error {
	for o, w := range want {
		g := got[o]
		if g == nil {
			return fmt.Errorf("owner %v missing", o)
		}
		for i := range w {
			if fmt.Sprint(nonNil(g[i], len(w[i]))) != fmt.Sprint(nonNil(w[i], len(g[i]))) {
				return fmt.Errorf("owner %v window %d: got %v want %v", o, i, g[i], w[i])
			}
		}
	}
	for o, g := range got {
		if want[o] == nil && !allZero(g) {
			return fmt.Errorf("owner %v: got %v, want nothing", o, *g)
		}
	}
	return nil
}

func nonNil(v []int64, n int) []int64 {
	if v == nil {
		return make([]int64, n)
	}
	return v
}

func runByOwner(p *Partition) map[owner]*totals {
	out := map[owner]*totals{}
	for id, t := range p.run.sums {
		if t != nil {
			out[p.owners.owner(ownerID(id))] = t
		}
	}
	return out
}

// commitInMemory does what a successful Store.Commit does to the mirror.
func commitInMemory(p *Partition) { p.Committed(p.Changes(nil)) }

// commitTo stores p's changes with next and, when Redis took them, tells p.
func commitTo(ctx context.Context, st *Store, p *Partition, next map[string]int64) error {
	cs := p.Changes(next)
	if err := st.Commit(ctx, cs); err != nil {
		return err
	}
	p.Committed(cs)
	return nil
}

// TestRunningTotalsMatchBuckets drives a partition with random traffic, commits, expiry
// and as-of times that mostly move forward, sometimes jump and sometimes go back, and
// checks the running totals against a full sum of the buckets after every step.
func TestRunningTotalsMatchBuckets(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed))
			cfg := testConfig(t)
			p := NewPartition(0, cfg)
			clk := Clock{Wall: at(1000 * 24 * time.Hour)}
			now := time.Duration(0)
			id := 0
			for step := range 400 {
				for range rng.IntN(40) {
					now += time.Duration(rng.IntN(90)) * time.Second
					id++
					var e event.Event
					// Some events land late, behind stream time, in cold buckets.
					ts := now - time.Duration(rng.IntN(50))*time.Minute
					b, ag := fmt.Sprintf("b%d", rng.IntN(30)), fmt.Sprintf("a%d", rng.IntN(4))
					switch rng.IntN(4) {
					case 0:
						e = msg(fmt.Sprint(id), event.Agent, ts, buyer(b), agent(ag))
					case 1:
						e = order(fmt.Sprint(id), event.OrderPaid, ts, int64(rng.IntN(10000)))
						e.Buyer = b
					default:
						e = msg(fmt.Sprint(id), event.Buyer, ts, buyer(b))
					}
					e.Shop = fmt.Sprintf("s%d", rng.IntN(3))
					p.Admit(&e, &clk)
				}
				a := at(now)
				switch rng.IntN(10) {
				case 0:
					a = at(now - time.Duration(rng.IntN(120))*time.Minute) // back in time
				case 1:
					a = at(now + time.Duration(rng.IntN(72))*time.Hour) // a jump
				}
				if rng.IntN(3) == 0 {
					p.Expire(at(now), streamAt(at(now)))
				}
				if rng.IntN(2) == 0 {
					commitInMemory(p)
				}
				p.advance(a)
				if err := sameTotals(runByOwner(p), bruteTotals(p, a)); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
			}
			cold := 0
			for _, b := range p.blocks {
				if b.dec == nil {
					cold++
				}
			}
			if cold == 0 {
				t.Error("no bucket went cold: the cold path was not exercised")
			}
		})
	}
}

// TestOwnersSwept: shops and agents that left every window and every decoded bucket give
// their numbers back, and new ones reuse them, so the table follows the live owners.
func TestOwnersSwept(t *testing.T) {
	cfg := testConfig(t)
	p := NewPartition(0, cfg)
	clk := Clock{Wall: at(1000 * 24 * time.Hour)}
	admit := func(d time.Duration, prefix string) {
		for i := range 50 {
			e := msg(fmt.Sprintf("%s-%d", prefix, i), event.Agent, d, agent(fmt.Sprintf("a%d", i%3)))
			e.Shop = fmt.Sprintf("%s%d", prefix, i)
			p.Admit(&e, &clk)
			o := order(fmt.Sprintf("%s-o%d", prefix, i), event.OrderCreated, d, 1)
			o.Shop = e.Shop
			p.Admit(&o, &clk)
		}
		commitInMemory(p)
	}
	admit(0, "old")
	size := len(p.owners.byID)
	if size != 100 {
		t.Fatalf("%d owners numbered, want 100 (50 shops, 50 agents)", size)
	}
	// 30 days later the old shops have left every window.
	later := 30 * 24 * time.Hour
	p.Expire(at(later), streamAt(at(later)))
	admit(later, "new")
	for _, o := range p.owners.byID {
		if strings.HasPrefix(o.shop, "old") {
			t.Fatalf("owner %v kept after it left every window", o)
		}
	}
	if len(p.owners.byID) != size {
		t.Errorf("table grew to %d numbers; freed numbers were not reused", len(p.owners.byID))
	}
	if _, ok := p.owners.shops["old0"]; ok {
		t.Error("shop entry kept after its numbers were freed")
	}
}
