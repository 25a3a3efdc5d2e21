package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

// fakeGeneration is a generation that lives until end, or until one of its routines
// returns, as kafka-go's does.
type fakeGeneration struct {
	id          int32
	member      string
	assignments map[string][]kafka.PartitionAssignment

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	commits   []map[string]map[int]int64
	commitErr error
}

func newFakeGeneration(ctx context.Context, id int32, member string, assignments map[string][]kafka.PartitionAssignment) *fakeGeneration {
	g := &fakeGeneration{id: id, member: member, assignments: assignments}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

func (g *fakeGeneration) assigned() (int32, string, map[string][]kafka.PartitionAssignment) {
	return g.id, g.member, g.assignments
}

func (g *fakeGeneration) Start(fn func(ctx context.Context)) {
	g.wg.Go(func() {
		defer g.cancel()
		fn(g.ctx)
	})
}

func (g *fakeGeneration) CommitOffsets(offsets map[string]map[int]int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.commitErr != nil {
		return g.commitErr
	}
	c := map[string]map[int]int64{}
	for t, ps := range offsets {
		c[t] = maps.Clone(ps)
	}
	g.commits = append(g.commits, c)
	return nil
}

// end ends the generation and waits for its routines, as kafka-go does before the next.
func (g *fakeGeneration) end() {
	g.cancel()
	g.wg.Wait()
}

func (g *fakeGeneration) committed() []map[string]map[int]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.commits)
}

// fakeGroup hands out what the test sends on next, and kafka.ErrGroupClosed once closed.
type fakeGroup struct {
	gens      chan generation
	errs      chan error
	closed    chan struct{}
	closeOnce sync.Once
}

func newFakeGroup() *fakeGroup {
	return &fakeGroup{gens: make(chan generation), errs: make(chan error), closed: make(chan struct{})}
}

func (g *fakeGroup) next(ctx context.Context) (generation, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-g.closed:
		return nil, kafka.ErrGroupClosed
	case gen := <-g.gens:
		return gen, nil
	case err := <-g.errs:
		return nil, err
	}
}

func (g *fakeGroup) Close() error {
	g.closeOnce.Do(func() { close(g.closed) })
	return nil
}

func (g *fakeGroup) isClosed() bool {
	select {
	case <-g.closed:
		return true
	default:
		return false
	}
}

// testMember is a member whose workers only record the offsets they were started with and
// run until their generation ends.
func testMember(t *testing.T, store Store) (*member, *logRecords, *startedWorkers) {
	t.Helper()
	e, _ := testEnv(t, store)
	logs := &logRecords{}
	e.opt.Logger = slog.New(logs)
	e.opt.Group, e.opt.Brokers = "cskpi", []string{"broker:9092"}
	e.opt.SessionTimeout, e.opt.RebalanceTimeout, e.opt.HeartbeatInterval = 10*time.Second, 5*time.Second, time.Second
	started := &startedWorkers{committed: map[int]map[string]int64{}}
	m := newMember(e.opt, e.m, newRegistry(), func(part int) *worker { return newWorker(part, e) })
	m.runWorker = func(ctx context.Context, w *worker, committed map[string]int64) {
		started.mu.Lock()
		started.committed[w.part] = committed
		started.mu.Unlock()
		<-ctx.Done()
	}
	m.join = func(kafka.ConsumerGroupConfig) (group, error) { return nil, errors.New("no group in this test") }
	return m, logs, started
}

// startedWorkers records the committed offsets each worker was started with.
type startedWorkers struct {
	mu        sync.Mutex
	committed map[int]map[string]int64
}

func (s *startedWorkers) get() map[int]map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.committed)
}

func TestMemberConfig(t *testing.T) {
	m, _, _ := testMember(t, &fakeStore{})
	cfg := m.config()
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"group", cfg.ID, "cskpi"},
		{"topics", fmt.Sprint(cfg.Topics), "[m o]"},
		{"session timeout", cfg.SessionTimeout, 10 * time.Second},
		{"rebalance timeout", cfg.RebalanceTimeout, 5 * time.Second},
		{"heartbeat", cfg.HeartbeatInterval, time.Second},
		// Never give up on a join the coordinator is still completing (config's comment).
		{"request timeout: session + rebalance timeout", cfg.Timeout, 15 * time.Second},
		{"a new group starts from the beginning", cfg.StartOffset, kafka.FirstOffset},
		{"the co-partitioning balancer only", fmt.Sprintf("%d %s", len(cfg.GroupBalancers), cfg.GroupBalancers[0].ProtocolName()), "1 cskpi-copartition"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("%v, want %v", c.got, c.want)
			}
		})
	}
}

// TestMemberGeneration: a generation runs one worker per assigned partition number with
// its committed offsets of both topics, registered while the generation lasts, and copies
// each offset Redis holds to Kafka once, retrying a failed copy.
func TestMemberGeneration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, logs, started := testMember(t, &fakeStore{})
		gen := newFakeGeneration(t.Context(), 7, "member-1", map[string][]kafka.PartitionAssignment{
			"m": {{ID: 0, Offset: 5}, {ID: 1, Offset: -1}},
			"o": {{ID: 0, Offset: 2}, {ID: 1, Offset: 7}},
		})
		m.startGeneration(gen)
		synctest.Wait()
		if got := m.reg.parts(); !slices.Equal(got, []int{0, 1}) {
			t.Fatalf("registered %v, want [0 1]", got)
		}
		want := map[int]map[string]int64{0: {"m": 5, "o": 2}, 1: {"m": -1, "o": 7}}
		if got := started.get(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("workers started with %v, want %v", got, want)
		}
		if n := logs.count(slog.LevelInfo, "consumer group generation"); n != 1 {
			t.Errorf("%d generation lines, want 1", n)
		}
		workers := map[int]*worker{}
		for _, w := range m.reg.list() {
			workers[w.part] = w
		}

		steps := []struct {
			name      string
			next      map[int]map[string]int64 // next offsets committed to Redis, set before the second
			commitErr error
			want      []map[string]map[int]int64 // every commit to Kafka so far
		}{
			{"nothing committed to Redis yet: nothing to copy", nil, nil, nil},
			{"a batch of partition 0", map[int]map[string]int64{0: {"m": 12}}, nil,
				[]map[string]map[int]int64{{"m": {0: 12}}}},
			{"unchanged: not copied again", nil, nil,
				[]map[string]map[int]int64{{"m": {0: 12}}}},
			{"kafka refuses the copy", map[int]map[string]int64{1: {"o": 9}}, errors.New("coordinator moved"),
				[]map[string]map[int]int64{{"m": {0: 12}}}},
			{"the refused copy again, with what came since", map[int]map[string]int64{0: {"o": 4}}, nil,
				[]map[string]map[int]int64{{"m": {0: 12}}, {"o": {0: 4, 1: 9}}}},
		}
		for _, s := range steps {
			for part, next := range s.next {
				for topic, o := range next {
					workers[part].topic(topic).next.Store(o)
				}
			}
			gen.mu.Lock()
			gen.commitErr = s.commitErr
			gen.mu.Unlock()
			time.Sleep(time.Second)
			synctest.Wait()
			if got := gen.committed(); fmt.Sprint(got) != fmt.Sprint(s.want) {
				t.Errorf("%s: commits %v, want %v", s.name, got, s.want)
			}
		}

		gen.end()
		if got := m.reg.list(); len(got) != 0 {
			t.Errorf("%d workers registered after the generation ended", len(got))
		}
	})
}

// TestMemberRun: the membership retries a failed join, says whether a generation runs and
// since when, joins again as a new member after the watchdog closed the group, and stops
// with its context.
func TestMemberRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, logs, _ := testMember(t, &fakeStore{})
		var groups []*fakeGroup
		m.join = func(cfg kafka.ConsumerGroupConfig) (group, error) {
			g := newFakeGroup()
			groups = append(groups, g)
			return g, nil
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.run(ctx) }()
		synctest.Wait()

		genStart := m.opt.Now().UnixNano()
		check := func(step string, joined bool, id string, start int64) {
			t.Helper()
			gotID, _ := m.id.Load().(string)
			if m.joined.Load() != joined || gotID != id || m.genStart.Load() != start {
				t.Errorf("%s: joined %v, member %q, generation start %d; want %v, %q, %d",
					step, m.joined.Load(), gotID, m.genStart.Load(), joined, id, start)
			}
		}
		check("joining", false, "", 0)

		groups[0].errs <- errors.New("coordinator not available")
		synctest.Wait()
		check("a failed join", false, "", 0)
		if n := logs.count(slog.LevelWarn, "joining consumer group failed"); n != 1 {
			t.Errorf("%d WARN lines for a failed join, want 1", n)
		}

		time.Sleep(100 * time.Millisecond) // the backoff
		gen := newFakeGeneration(ctx, 1, "member-1", map[string][]kafka.PartitionAssignment{"m": {{ID: 0}}, "o": {{ID: 0}}})
		groups[0].gens <- gen
		synctest.Wait()
		check("a generation", true, "member-1", genStart)

		gen.end() // a rebalance: the generation ends before the next begins
		check("between generations", true, "member-1", 0)
		groups[0].errs <- errors.New("rebalance in progress")
		synctest.Wait()
		check("a failed rejoin", false, "member-1", 0)
		time.Sleep(100 * time.Millisecond)
		gen = newFakeGeneration(ctx, 2, "member-1", map[string][]kafka.PartitionAssignment{"m": {{ID: 0}}, "o": {{ID: 0}}})
		groups[0].gens <- gen
		synctest.Wait()
		check("the next generation", true, "member-1", genStart)

		// The watchdog leaves the group: the membership ends, and a new one joins.
		gen.end()
		groups[0].Close()
		synctest.Wait()
		if len(groups) != 2 || groups[1].isClosed() {
			t.Fatalf("%d joins after the group closed, want a second, open one", len(groups))
		}
		check("rejoining", false, "member-1", 0)
		groups[1].gens <- newFakeGeneration(ctx, 3, "member-2", nil)
		synctest.Wait()
		check("joined as a new member", true, "member-2", genStart)

		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v, want nil on a clean stop", err)
		}
		synctest.Wait()
		check("stopped", false, "member-2", 0)
		if !groups[1].isClosed() {
			t.Error("the group was not closed when run returned")
		}
	})
}

// TestMemberReleased: when run ends, the member says which partitions it held as it left
// the group: those of the generation, whether or not their workers have started or stopped.
func TestMemberReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _, _ := testMember(t, &fakeStore{})
		g := newFakeGroup()
		m.join = func(kafka.ConsumerGroupConfig) (group, error) { return g, nil }
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.run(ctx) }()
		if m.released.Load() != nil {
			t.Error("partitions released before run ended")
		}
		// kafka-go ends a generation when the group closes, not with run's context.
		gen := newFakeGeneration(t.Context(), 1, "member-1", map[string][]kafka.PartitionAssignment{
			"m": {{ID: 0}, {ID: 1}, {ID: 3}}, "o": {{ID: 0}, {ID: 1}, {ID: 3}}})
		g.gens <- gen
		synctest.Wait()
		if p := m.held.Load(); p == nil || !slices.Equal(*p, []int{0, 1, 3}) {
			t.Errorf("held %v, want [0 1 3]", p)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		gen.end()
		if m.held.Load() != nil {
			t.Errorf("held %v after the generation ended", *m.held.Load())
		}
		if p := m.released.Load(); p == nil || !slices.Equal(*p, []int{0, 1, 3}) {
			t.Errorf("released %v, want [0 1 3]", p)
		}
	})
}

func TestMemberRunJoinFails(t *testing.T) {
	m, _, _ := testMember(t, &fakeStore{})
	if err := m.run(t.Context()); err == nil {
		t.Error("run returned nil although no consumer group could be made")
	}
}

// claimStore answers claims with claimed, or err, and records them.
type claimStore struct {
	fakeStore
	claimed []bool
	err     error
	calls   []string
}

func (s *claimStore) Claim(_ context.Context, member string, mine []int, all int, ttl time.Duration) ([]bool, error) {
	s.calls = append(s.calls, fmt.Sprintf("%s %v %d %v", member, mine, all, ttl))
	return s.claimed, s.err
}

// TestMemberClaim: the claims name the member, its partitions, the partition count and the
// TTL; a partition claimed by no live instance for the watchdog's grace, in a settled
// generation, makes the member leave the group once (counted and logged), and nothing is
// judged without a member id, the partition count, or Redis.
func TestMemberClaim(t *testing.T) {
	all := []bool{true, true, true, true}
	p3 := []bool{true, true, true, false}
	tests := []struct {
		name       string
		id         string
		partitions int
		claimed    []bool
		err        error
		seconds    []int // when claim runs, seconds into the generation
		calls      int
		rejoins    float64
	}{
		{"the partition count unknown", "member-1", 0, p3, nil, []int{0, 10}, 0, 0},
		{"between memberships", "", 4, p3, nil, []int{0, 10}, 0, 0},
		{"redis down", "member-1", 4, nil, errors.New("connection refused"), []int{0, 5, 10}, 3, 0},
		{"all claimed", "member-1", 4, all, nil, []int{0, 5, 10, 20}, 4, 0},
		{"unclaimed, but not for the grace yet", "member-1", 4, p3, nil, []int{4, 5, 6, 7}, 4, 0},
		{"unclaimed for the grace", "member-1", 4, p3, nil, []int{4, 5, 6, 7, 8, 9, 10}, 7, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &claimStore{claimed: tc.claimed, err: tc.err}
				m, logs, _ := testMember(t, store)
				start := testBase
				now := start
				m.opt.Now = func() time.Time { return now }
				if tc.id != "" {
					m.id.Store(tc.id)
				}
				m.genStart.Store(start.UnixNano())
				e, _ := testEnv(t, store)
				m.reg.add(newWorker(2, e))
				m.reg.add(newWorker(0, e))
				g := newFakeGroup()
				m.cg = g
				for _, s := range tc.seconds {
					now = start.Add(time.Duration(s) * time.Second)
					m.claim(t.Context(), tc.partitions)
				}
				synctest.Wait()
				if len(store.calls) != tc.calls {
					t.Errorf("%d claims, want %d: %v", len(store.calls), tc.calls, store.calls)
				}
				for _, c := range store.calls {
					if want := "member-1 [0 2] 4 3s"; c != want {
						t.Errorf("claimed %q, want %q", c, want)
					}
				}
				if got := testutil.ToFloat64(m.rejoins); got != tc.rejoins {
					t.Errorf("rejoins %v, want %v", got, tc.rejoins)
				}
				left := tc.rejoins > 0
				if g.isClosed() != left || (logs.count(slog.LevelWarn, "claimed by no live instance") == 1) != left {
					t.Errorf("group closed %v, %d WARN lines; want the group left: %v", g.isClosed(),
						logs.count(slog.LevelWarn, "claimed by no live instance"), left)
				}
			})
		})
	}
}
