package windows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/internal/testenv"
)

func snapshotOf(cfg Config, p *Partition, a int64) string {
	tot := NewTotals(cfg, a)
	tot.Add(p)
	return fmt.Sprint(tot.Series())
}

func TestStoreRoundTripAndFence(t *testing.T) {
	rds := testenv.StartRedis(t, testenv.RedisOptions{})
	rdb := rds.Client(t)
	ctx := context.Background()
	cfg := testConfig(t)
	st := NewStore(rdb, "test")
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}

	p := NewPartition(3, cfg)
	clk := Clock{Wall: at(1000 * time.Hour)}
	evs := []event.Event{
		msg("1", event.Buyer, 0), msg("2", event.Agent, 10*time.Second),
		msg("3", event.Buyer, time.Minute, buyer("b2")),
		order("p", event.OrderPaid, 2*time.Minute, 1234),
	}
	for i, e := range evs {
		p.Admit(&e, &clk)
		if err := commitTo(ctx, st, p, map[string]int64{"cs.messages": int64(i + 1)}); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	loaded := NewPartition(3, cfg)
	if err := st.Load(ctx, loaded); err != nil {
		t.Fatal(err)
	}
	a := at(time.Hour)
	if got, want := snapshotOf(cfg, loaded, a), snapshotOf(cfg, p, a); got != want {
		t.Errorf("loaded state differs:\n got %s\nwant %s", got, want)
	}
	if loaded.Seq != p.Seq || loaded.Offsets["cs.messages"] != 4 {
		t.Errorf("seq %d/%d offsets %v", loaded.Seq, p.Seq, loaded.Offsets)
	}
	// The loaded copy still remembers the applied ids.
	dup := evs[0]
	if o, _ := loaded.Admit(&dup, &clk); o != Duplicate {
		t.Errorf("after load, a copy is %v, want duplicate", o)
	}

	// A zombie built on an older state is refused, and nothing of its batch is written.
	zombie := NewPartition(3, cfg)
	if err := st.Load(ctx, zombie); err != nil {
		t.Fatal(err)
	}
	e := msg("4", event.Buyer, 3*time.Minute, buyer("b3"))
	p.Admit(&e, &clk)
	if err := commitTo(ctx, st, p, map[string]int64{"cs.messages": 5}); err != nil {
		t.Fatal(err)
	}
	e2 := msg("5", event.Buyer, 3*time.Minute, buyer("b4"))
	zombie.Admit(&e2, &clk)
	if err := commitTo(ctx, st, zombie, map[string]int64{"cs.messages": 5}); !errors.Is(err, ErrFenced) {
		t.Fatalf("zombie commit: %v, want ErrFenced", err)
	}
	again := NewPartition(3, cfg)
	if err := st.Load(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got, want := snapshotOf(cfg, again, a), snapshotOf(cfg, p, a); got != want {
		t.Errorf("fenced batch leaked into redis:\n got %s\nwant %s", got, want)
	}

	// Scripts flushed (Redis restarted): the commit reloads them and goes on.
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	e3 := msg("6", event.Agent, 4*time.Minute, buyer("b3"))
	p.Admit(&e3, &clk)
	if err := commitTo(ctx, st, p, map[string]int64{"cs.messages": 6}); err != nil {
		t.Fatalf("commit after SCRIPT FLUSH: %v", err)
	}
	if ts, ok, err := st.StreamTime(ctx); err != nil || !ok || ts != at(4*time.Minute) {
		t.Errorf("stream time %v %v %v, want %v", ts, ok, err, at(4*time.Minute))
	}
}

func TestStoreLargeBatchIsChunked(t *testing.T) {
	rds := testenv.StartRedis(t, testenv.RedisOptions{})
	ctx := context.Background()
	cfg := testConfig(t)
	st := NewStore(rds.Client(t), "test")
	p := NewPartition(0, cfg)
	clk := Clock{Wall: at(1000 * time.Hour)}
	// 20k distinct minute buckets and conversations: far beyond Lua's unpack limit.
	for i := range 20000 {
		e := msg(fmt.Sprint(i), event.Buyer, time.Duration(i)*time.Minute, buyer(fmt.Sprint("b", i)))
		p.Admit(&e, &clk)
	}
	if err := commitTo(ctx, st, p, map[string]int64{"m": 20000}); err != nil {
		t.Fatal(err)
	}
	loaded := NewPartition(0, cfg)
	if err := st.Load(ctx, loaded); err != nil {
		t.Fatal(err)
	}
	if len(loaded.blocks) != len(p.blocks) || len(loaded.convs) != 20000 || len(loaded.ids[0]) != 20000 {
		t.Errorf("loaded %d buckets %d convs %d ids, want %d, 20000, 20000", len(loaded.blocks), len(loaded.convs), len(loaded.ids[0]), len(p.blocks))
	}
}

// TestStreamTimeNeverGoesBackAfterReload: a partition that dropped state by the too-old
// horizon of some stream time keeps validating with at least that stream time after a
// reload, even before the new process has read the shared stream time: otherwise a record
// could be accepted whose cohort or episode an earlier life already let go.
func TestStreamTimeNeverGoesBackAfterReload(t *testing.T) {
	rds := testenv.StartRedis(t, testenv.RedisOptions{})
	ctx := context.Background()
	cfg := testConfig(t)
	st := NewStore(rds.Client(t), "reload")
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	wall := at(10000 * time.Hour)
	p := NewPartition(0, cfg)
	clk := p.Clock(0, false, wall)
	first := msg("1", event.Buyer, 0)
	p.Admit(&first, &clk)
	// Other partitions are 30 days ahead: the shared stream time says so at expiry.
	ahead := at(30 * 24 * time.Hour)
	p.Expire(at(0), Clock{Stream: ahead, HasTime: true, Wall: wall})
	if err := commitTo(ctx, st, p, map[string]int64{"cs.messages": 1}); err != nil {
		t.Fatal(err)
	}

	q := NewPartition(0, cfg)
	if err := st.Load(ctx, q); err != nil {
		t.Fatal(err)
	}
	clk = q.Clock(0, false, wall) // a new process that has not read the shared stream time yet
	if !clk.HasTime || clk.Stream != ahead {
		t.Fatalf("clock after reload = %+v, want stream %d", clk, ahead)
	}
	late := msg("2", event.Buyer, 30*24*time.Hour-event.MaxAge-1)
	if o, r := q.Admit(&late, &clk); o != Rejected || r != event.TooOld {
		t.Errorf("a record older than the horizon the state was expired with: %v %v, want rejected too_old", o, r)
	}
	// A shared stream time ahead of the partition's wins.
	if c := q.Clock(ahead+1, true, wall); c.Stream != ahead+1 {
		t.Errorf("clock = %+v, want the shared stream time", c)
	}
}

// TestStoreReadWhileAnotherWrites: a partition read while another instance commits to it is
// either a whole state of one sequence number or an error to retry, never state that looks
// damaged (buckets without meta): the race a new owner and the previous owner's last
// batches run at a rebalance.
func TestStoreReadWhileAnotherWrites(t *testing.T) {
	rdb := testenv.StartRedis(t, testenv.RedisOptions{}).Client(t)
	ctx := context.Background()
	cfg := testConfig(t)
	st := NewStore(rdb, "race")
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer func() { <-done }() // the writer ends before the client closes
	go func() {
		defer close(done)
		p := NewPartition(0, cfg)
		clk := Clock{Wall: at(1000 * time.Hour)}
		for i := range 300 {
			e := msg(fmt.Sprint(i), event.Buyer, time.Duration(i)*time.Second, buyer(fmt.Sprint("b", i)))
			p.Admit(&e, &clk)
			if err := commitTo(ctx, st, p, map[string]int64{"cs.messages": int64(i + 1)}); err != nil {
				t.Errorf("commit %d: %v", i, err)
				return
			}
		}
	}()
	reads, retried := 0, 0
	for running := true; running; reads++ {
		select {
		case <-done:
			running = false
		default:
		}
		s, err := st.Read(ctx, 0)
		if err != nil {
			retried++
			continue
		}
		if err := NewPartition(0, cfg).Restore(s); err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
	}
	t.Logf("%d reads during 300 commits, %d gave up after %d attempts", reads, retried, readAttempts)
}
