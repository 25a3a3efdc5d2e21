package windows_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/internal/testlog"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/reference"
	"github.com/cskpi/cskpi/windows/shops"
)

// TestMirrorMatchesReference drives the partition mirrors and the Redis store the way the
// service does — each partition's two topics merged in a random order, random batch sizes,
// partitions interleaved at random, one commit per batch, expiry at random points — and
// crashes at random: the batch in flight is lost, every mirror is reloaded from Redis, the
// shared stream time is forgotten until it is read again, and consumption resumes at the
// offsets Redis holds. The series at the end must equal recompute's over the same log.
//
// It is the fast, many-seeded twin of the end-to-end differential and fault tests: the
// same logs (with the disorder CONTRACT §1 allows, and a span that makes state expire by the
// too-old horizon mid-stream), without the broker and processes in between.
func TestMirrorMatchesReference(t *testing.T) {
	rds := testenv.StartRedis(t, testenv.RedisOptions{})
	rdb := rds.Client(t)
	cfg := difftest.WindowsConfig(t)
	tests := []struct {
		name     string
		seeds    []int64
		records  int
		span     time.Duration
		disorder bool
		crashes  float64 // chance of a crash after each batch
		dir      bool    // with difftest.TestShops as the shop directory
	}{
		{"in order", []int64{1, 2}, 6000, 0, false, 0, false},
		{"in order, crashes", []int64{3}, 6000, 0, false, 0.01, false},
		{"disorder", []int64{4, 5, 6}, 6000, 0, true, 0, false},
		{"disorder, crashes", []int64{7, 8, 9, 10}, 6000, 0, true, 0.02, false},
		{"disorder, 33 days", []int64{11}, 8000, 33 * 24 * time.Hour, true, 0, false},
		{"in order, 33 days", []int64{11}, 8000, 33 * 24 * time.Hour, false, 0, false},
		{"disorder, 33 days, crashes", []int64{11, 12, 13}, 8000, 33 * 24 * time.Hour, true, 0.02, false},
		{"shop directory, disorder, crashes", []int64{14, 15}, 6000, 0, true, 0.02, true},
	}
	for _, tc := range tests {
		for _, seed := range tc.seeds {
			t.Run(fmt.Sprintf("%s/seed=%d", tc.name, seed), func(t *testing.T) {
				span := tc.span
				if span == 0 {
					span = 9*24*time.Hour + 12*time.Hour
				}
				start := time.Now().Add(-span - 3*24*time.Hour).Truncate(time.Hour)
				lines := testlog.Lines(testlog.Config{Seed: seed, Records: tc.records, Start: start,
					Span: span, Disorder: tc.disorder})
				var opt reference.Options
				cfg := cfg
				if tc.dir {
					dir, err := shops.ParseDirectory([]byte(difftest.TestShops(start)), cfg.Location)
					if err != nil {
						t.Fatal(err)
					}
					opt.Shops = dir
					cfg.Shops = &shops.Holder{}
					cfg.Shops.Set(dir)
				}
				ref, want := difftest.ReferenceWith(t, lines, opt)
				if tc.dir {
					// The directory must bite: business time below calendar time.
					key := func(id kpi.ID) string {
						return kpi.Series{Name: id.Name(), Labels: kpi.Labels{Shop: "shop-001", Window: kpi.W28d, Scene: "presale"}}.Key()
					}
					if b, c := want[key(kpi.ResponseBusinessTimeSum)], want[key(kpi.ResponseTimeSum)]; !(b < c) {
						t.Fatalf("business response time %v not below calendar %v: the directory does not apply", b, c)
					}
				}
				prefix := fmt.Sprintf("diff%d-%s", seed, strings.ReplaceAll(tc.name, " ", ""))
				h := newHarness(t, rdb, cfg, prefix, lines, seed)
				h.run(tc.crashes)
				got, a := h.series()
				if a != ref.At {
					t.Errorf("as-of %v, recompute's %v", time.Unix(0, a).UTC(), time.Unix(0, ref.At).UTC())
				}
				for k, n := range ref.Events {
					if g := h.outcomes[k]; g != n {
						t.Errorf("%s %s: %d committed, recompute %d", k[0], k[1], g, n)
					}
				}
				if d := difftest.Diff(got, want, 30); len(d) > 0 {
					t.Fatalf("mirror differs from recompute after %d crashes (%d series):\n%s", h.crashes, len(want), strings.Join(d, "\n"))
				}
				t.Logf("%d records, %d batches, %d expiries, %d crashes: %d series equal", len(lines), h.batches, h.expiries, h.crashes, len(want))
			})
		}
	}
}

const partitions = 4

type rec struct {
	topic event.Topic
	value []byte
}

// harness plays the service over partitions of one log.
type harness struct {
	t     *testing.T
	ctx   context.Context
	store *windows.Store
	cfg   windows.Config
	rng   *rand.Rand
	wall  int64

	logs  [partitions][2][]rec // per partition and topic, in log order
	parts [partitions]*windows.Partition
	// stream is the shared stream time this "process" knows; redisStream what Redis holds.
	stream, redisStream int64
	hasStream           bool

	outcomes                   map[[2]string]int64 // of committed batches
	batches, expiries, crashes int
}

func newHarness(t *testing.T, rdb *redis.Client, cfg windows.Config, prefix string, lines [][]byte, seed int64) *harness {
	h := &harness{t: t, ctx: context.Background(), store: windows.NewStore(rdb, prefix), cfg: cfg,
		rng: rand.New(rand.NewPCG(uint64(seed), 99)), wall: time.Now().UnixNano(), outcomes: map[[2]string]int64{}}
	if err := h.store.LoadScripts(h.ctx); err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		r, err := jsonl.Parse(l)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		f := fnv.New32a()
		f.Write(r.Key)
		p := int(f.Sum32() % partitions)
		h.logs[p][r.Topic] = append(h.logs[p][r.Topic], rec{r.Topic, r.Value})
	}
	h.restart()
	return h
}

func topicName(t event.Topic) string { return "cs." + t.String() }

// restart is a new process: every mirror loaded from Redis, stream time known only from
// what the mirrors hold until Redis is read.
func (h *harness) restart() {
	h.stream, h.hasStream = 0, false
	for i := range h.parts {
		p := windows.NewPartition(i, h.cfg)
		if err := h.store.Load(h.ctx, p); err != nil {
			h.t.Fatal(err)
		}
		h.parts[i] = p
		if wm := max(p.Watermark(event.Messages), p.Watermark(event.Orders)); wm > 0 {
			h.raise(wm)
		}
	}
}

func (h *harness) raise(ts int64) {
	if !h.hasStream || ts > h.stream {
		h.stream, h.hasStream = ts, true
	}
}

// next is the next offset of topic in partition i, as Redis holds it.
func (h *harness) next(i int, topic event.Topic) int64 { return h.parts[i].Offsets[topicName(topic)] }

func (h *harness) run(crashRate float64) {
	for {
		var open []int
		for i := range h.parts {
			if h.next(i, event.Messages) < int64(len(h.logs[i][0])) || h.next(i, event.Orders) < int64(len(h.logs[i][1])) {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			break
		}
		if h.rng.IntN(10) == 0 {
			h.raise(h.redisStream) // the poll of the shared stream time
		}
		i := h.pick(open)
		crash := h.rng.Float64() < crashRate
		h.batch(i, 1+h.rng.IntN(30), !crash)
		if crash {
			h.crashes++
			h.restart()
		}
	}
	// The final expiry of an idle partition, as the service runs it.
	h.raise(h.redisStream)
	for i, p := range h.parts {
		clk := p.Clock(h.stream, h.hasStream, h.wall)
		p.Expire(h.stream, clk)
		h.commit(i, map[string]int64{})
	}
}

// pick draws a partition in proportion to the records it has left, so that partitions
// keep pace with each other as consumers of a live log do.
func (h *harness) pick(open []int) int {
	var total int64
	left := make([]int64, len(open))
	for j, i := range open {
		left[j] = int64(len(h.logs[i][0])+len(h.logs[i][1])) - h.next(i, event.Messages) - h.next(i, event.Orders)
		total += left[j]
	}
	r := h.rng.Int64N(total)
	for j, n := range left {
		if r < n {
			return open[j]
		}
		r -= n
	}
	return open[len(open)-1]
}

// batch applies up to n records of partition i, taken from its two topics in a random
// merge, and commits them unless commit is false (a crash before the commit).
func (h *harness) batch(i, n int, commit bool) {
	p := h.parts[i]
	pos := [2]int64{h.next(i, event.Messages), h.next(i, event.Orders)}
	clk := p.Clock(h.stream, h.hasStream, h.wall)
	counts := map[[2]string]int64{}
	for ; n > 0; n-- {
		var t event.Topic
		switch {
		case pos[0] >= int64(len(h.logs[i][0])) && pos[1] >= int64(len(h.logs[i][1])):
			n = 0
			continue
		case pos[0] >= int64(len(h.logs[i][0])):
			t = event.Orders
		case pos[1] >= int64(len(h.logs[i][1])):
			t = event.Messages
		default:
			// Drawn in proportion to what is left, so that neither topic runs far ahead in
			// event time: a consumer that reads one topic weeks ahead of the other would
			// (rightly) reject the other's records as too old, which a recompute of the file
			// in its own order does not.
			left := [2]int64{int64(len(h.logs[i][0])) - pos[0], int64(len(h.logs[i][1])) - pos[1]}
			if h.rng.Int64N(left[0]+left[1]) >= left[0] {
				t = event.Orders
			}
		}
		r := h.logs[i][t][pos[t]]
		pos[t]++
		var dec event.Decoder
		ev, reason := dec.Decode(t, r.value)
		outcome := windows.Rejected
		if reason == event.OK {
			outcome, _ = p.Admit(&ev, &clk)
		}

		counts[[2]string{t.String(), outcome.String()}]++
	}
	if h.rng.IntN(3) == 0 {
		p.Expire(h.stream, clk)
		h.expiries++
	} else {
		p.ExpireIDs()
	}
	if !commit {
		return
	}
	h.commit(i, map[string]int64{topicName(event.Messages): pos[0], topicName(event.Orders): pos[1]})
	for k, v := range counts {
		h.outcomes[k] += v
	}
	if clk.HasTime {
		h.raise(clk.Stream)
	}
	h.batches++
}

func (h *harness) commit(i int, next map[string]int64) {
	p := h.parts[i]
	cs := p.Changes(next)
	if err := h.store.Commit(h.ctx, cs); err != nil {
		h.t.Fatalf("partition %d: commit: %v", i, err)
	}
	p.Committed(cs)
	h.redisStream = max(h.redisStream, p.Watermark(event.Messages), p.Watermark(event.Orders))
}

// series is what the instance exports at the end, with the event clock.
func (h *harness) series() (map[string]float64, int64) {
	a := h.stream
	tot := windows.NewTotals(h.cfg, a)
	for _, p := range h.parts {
		tot.Add(p)
	}
	out := map[string]float64{}
	for _, s := range tot.Series() {
		out[s.Key()] = s.Value
	}
	return out, a
}
