package faults_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/windows"
)

// TestZombieStoreFence: at the store level, two mirrors of one partition — the owner and
// a zombie that still believes it owns it — build every batch on the same state and
// commit it at the same moment. Exactly one commit of each pair is let through; the loser
// gets ErrFenced, writes nothing, and reloads. A third mirror left stale from the start
// is refused at the end. What Redis holds is exactly each record applied once.
func TestZombieStoreFence(t *testing.T) {
	t.Parallel()
	const batch = 20
	cfg := difftest.WindowsConfig(t)
	rds := testenv.StartRedis(t, testenv.RedisOptions{})
	ctx := context.Background()
	st := windows.NewStore(rds.Client(t), "zombie")
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for _, l := range difftest.TestLog(61, 4000) {
		r, err := jsonl.Parse(l)
		if err != nil {
			t.Fatal(err)
		}
		if e, reason := event.Decode(r.Topic, r.Value); reason == event.OK {
			evs = append(evs, e)
		}
	}
	wall := time.Now().UnixNano()
	load := func() *windows.Partition {
		p := windows.NewPartition(0, cfg)
		if err := st.Load(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	admitWith := func(p *windows.Partition, from, to int, clk *windows.Clock) {
		for i := from; i < to; i++ {
			e := evs[i]
			p.Admit(&e, clk)
		}
	}
	// A batch starts from the stream time in Redis, as the pipeline's does.
	admit := func(p *windows.Partition, from, to int) {
		clk := windows.Clock{Wall: wall}
		if ts, ok, err := st.StreamTime(ctx); err == nil && ok {
			clk.Stream, clk.HasTime = ts, true
		}
		admitWith(p, from, to, &clk)
	}

	stale := load() // loaded before anything was committed, never reloaded
	owner, zombie := load(), load()
	var wins [2]int
	for from := 0; from < len(evs); from += batch {
		to := min(from+batch, len(evs))
		next := map[string]int64{"m": int64(to)}
		admit(owner, from, to)
		admit(zombie, from, to)
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, p := range []*windows.Partition{owner, zombie} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cs := p.Changes(next)
				<-start
				if errs[i] = st.Commit(ctx, cs); errs[i] == nil {
					p.Committed(cs)
				}
			}()
		}
		close(start)
		wg.Wait()
		ok0, ok1 := errs[0] == nil, errs[1] == nil
		if ok0 == ok1 {
			t.Fatalf("batch %d..%d: both commits %v; want exactly one through and one fenced (%v, %v)", from, to, map[bool]string{true: "through", false: "refused"}[ok0], errs[0], errs[1])
		}
		for i, err := range errs {
			switch {
			case err == nil:
				wins[i]++
			case !errors.Is(err, windows.ErrFenced):
				t.Fatalf("batch %d..%d: commit failed with %v, want ErrFenced", from, to, err)
			}
		}
		// The loser's mirror no longer matches Redis: reload it, as the pipeline does.
		if !ok0 {
			owner = load()
		} else {
			zombie = load()
		}
	}

	// The stale mirror builds a batch on the state of before the first commit.
	admit(stale, 0, batch)
	if err := st.Commit(ctx, stale.Changes(map[string]int64{"m": batch})); !errors.Is(err, windows.ErrFenced) {
		t.Fatalf("stale mirror's commit: %v, want ErrFenced", err)
	}

	// Redis holds every record applied exactly once.
	once := windows.NewPartition(0, cfg)
	admitWith(once, 0, len(evs), &windows.Clock{Wall: wall})
	final := load()
	a, _, _ := st.StreamTime(ctx)
	got, want := seriesOf(cfg, final, a), seriesOf(cfg, once, a)
	if d := difftest.Diff(got, want, 20); len(d) > 0 {
		t.Fatalf("Redis state differs from applying every record once:\n%v", d)
	}
	if final.Offsets["m"] != int64(len(evs)) {
		t.Errorf("stored offset %d, want %d", final.Offsets["m"], len(evs))
	}
	t.Logf("%d events in %d batches, each committed concurrently by two mirrors: owner won %d, zombie %d, every loser fenced; a mirror stale since the start fenced too; Redis equals single application (%d series)",
		len(evs), (len(evs)+batch-1)/batch, wins[0], wins[1], len(want))
}

func seriesOf(cfg windows.Config, p *windows.Partition, a int64) map[string]float64 {
	tot := windows.NewTotals(cfg, a)
	tot.Add(p)
	out := map[string]float64{}
	for _, s := range tot.Series() {
		out[s.Key()] = s.Value
	}
	if len(out) == 0 {
		panic(fmt.Sprint("no series at ", a))
	}
	return out
}
