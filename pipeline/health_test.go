package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

// streamStore answers the stream time check (Redis) with ts, or err.
type streamStore struct {
	fakeStore
	mu    sync.Mutex
	ts    int64
	has   bool
	err   error
	calls int
}

func (s *streamStore) StreamTime(context.Context) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.ts, s.has, s.err
}

func (s *streamStore) set(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *streamStore) checks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// fakeBrokers answers offset queries with hwm for every partition of a topic, and metadata
// with partitions partitions of the topic asked for; err fails both.
type fakeBrokers struct {
	mu                   sync.Mutex
	hwm                  map[string]int64
	partitions           int
	err                  error
	offsetReqs, metaReqs int
}

func (b *fakeBrokers) ListOffsets(_ context.Context, req *kafka.ListOffsetsRequest) (*kafka.ListOffsetsResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.offsetReqs++
	if b.err != nil {
		return nil, b.err
	}
	resp := &kafka.ListOffsetsResponse{Topics: map[string][]kafka.PartitionOffsets{}}
	for topic, rs := range req.Topics {
		for _, r := range rs {
			resp.Topics[topic] = append(resp.Topics[topic], kafka.PartitionOffsets{Partition: r.Partition, LastOffset: b.hwm[topic]})
		}
	}
	return resp, nil
}

func (b *fakeBrokers) Metadata(_ context.Context, req *kafka.MetadataRequest) (*kafka.MetadataResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.metaReqs++
	if b.err != nil {
		return nil, b.err
	}
	resp := &kafka.MetadataResponse{}
	for _, t := range req.Topics {
		resp.Topics = append(resp.Topics, kafka.Topic{Name: t, Partitions: make([]kafka.Partition, b.partitions)})
	}
	return resp, nil
}

func (b *fakeBrokers) requests() (offsets, metadata int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.offsetReqs, b.metaReqs
}

// claimTicks records the claims ticks of a health poller: the partition count of each.
type claimTicks struct {
	mu    sync.Mutex
	ticks []int
}

func (c *claimTicks) claim(_ context.Context, partitions int) {
	c.mu.Lock()
	c.ticks = append(c.ticks, partitions)
	c.mu.Unlock()
}

func (c *claimTicks) got() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ticks)
}

// testHealth is a health poller over store and brokers, with its registry, the workers'
// env, its log and its claims ticks.
func testHealth(t *testing.T, store Store, b brokers) (*health, *env, *logRecords, *claimTicks) {
	t.Helper()
	e, _ := testEnv(t, store)
	logs := &logRecords{}
	e.opt.Logger = slog.New(logs)
	e.opt.Brokers = []string{"broker:9092"}
	claims := &claimTicks{}
	h := newHealth(e.opt, e.m, e.stream, newRegistry(), claims.claim)
	h.brokers = b
	return h, e, logs, claims
}

func TestReachability(t *testing.T) {
	down := errors.New("connection refused")
	tests := []struct {
		name   string
		checks []error
		logged []bool // whether each check is worth a log line
		gauge  float64
	}{
		{"up from the start", []error{nil, nil, nil}, []bool{true, false, false}, 1},
		{"down from the start", []error{down, down}, []bool{true, false}, 0},
		{"an outage and the recovery", []error{nil, down, down, nil, nil}, []bool{true, true, false, true, false}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := reachability{gauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "up"})}
			for i, err := range tc.checks {
				if got := r.set(err); got != tc.logged[i] {
					t.Errorf("check %d (%v): logged %v, want %v", i, err, got, tc.logged[i])
				}
				if r.up.Load() != (err == nil) {
					t.Errorf("check %d (%v): up %v", i, err, r.up.Load())
				}
			}
			if got := testutil.ToFloat64(r.gauge); got != tc.gauge {
				t.Errorf("gauge %v, want %v", got, tc.gauge)
			}
		})
	}
}

// TestHealthPoll: what one round asks, and what it learns, by tick and by what answers.
func TestHealthPoll(t *testing.T) {
	down := errors.New("connection refused")
	streamTS := testBase.Add(time.Hour).UnixNano()
	tests := []struct {
		name       string
		tick       int
		owned      bool  // a loaded worker of partition 2, next offsets 10 (m) and 3 (o)
		known      int64 // the partition count already learned
		redisErr   error
		brokersErr error
		// What the round asked of the brokers, and what it leaves.
		offsetReqs, metaReqs int
		redisUp, kafkaUp     bool
		partitions           int64
		claims               []int
		lag                  float64 // of cskpi_consumer_lag{topic=m,partition=2}; -1: none
	}{
		{name: "nothing owned: the metadata answers for the brokers", tick: 0,
			metaReqs: 1, redisUp: true, kafkaUp: true, partitions: 4, claims: []int{4}, lag: -1},
		{name: "owned: the high watermarks give the lag; the count is learned once", tick: 0, owned: true,
			offsetReqs: 1, metaReqs: 1, redisUp: true, kafkaUp: true, partitions: 4, claims: []int{4}, lag: 90},
		{name: "owned, count known: no metadata between every twentieth round", tick: 4, owned: true, known: 4,
			offsetReqs: 1, redisUp: true, kafkaUp: true, partitions: 4, claims: []int{4}, lag: 90},
		{name: "every twentieth round the count again", tick: 20, owned: true, known: 3,
			offsetReqs: 1, metaReqs: 1, redisUp: true, kafkaUp: true, partitions: 4, claims: []int{4}, lag: 90},
		{name: "between every fourth round: Redis only", tick: 3, owned: true, known: 4,
			redisUp: true, partitions: 4, lag: -1},
		{name: "redis down: no claims", tick: 0, redisErr: down,
			metaReqs: 1, kafkaUp: true, partitions: 4, lag: -1},
		{name: "brokers down, nothing owned", tick: 0, brokersErr: down,
			metaReqs: 1, redisUp: true, claims: []int{0}, lag: -1},
		{name: "brokers down, owned", tick: 4, owned: true, known: 4, brokersErr: down,
			offsetReqs: 1, redisUp: true, partitions: 4, claims: []int{4}, lag: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &streamStore{ts: streamTS, has: true, err: tc.redisErr}
			b := &fakeBrokers{hwm: map[string]int64{"m": 100, "o": 3}, partitions: 4, err: tc.brokersErr}
			h, e, _, claims := testHealth(t, store, b)
			h.partitions.Store(tc.known)
			if tc.owned {
				w := newWorker(2, e)
				w.loaded.Store(true)
				w.topic("m").next.Store(10)
				w.topic("o").next.Store(3)
				h.reg.add(w)
			}
			if !h.poll(t.Context(), tc.tick) {
				t.Fatal("poll reported an ended context")
			}
			if o, m := b.requests(); o != tc.offsetReqs || m != tc.metaReqs {
				t.Errorf("%d offset and %d metadata requests, want %d and %d", o, m, tc.offsetReqs, tc.metaReqs)
			}
			if h.redis.up.Load() != tc.redisUp || h.kafka.up.Load() != tc.kafkaUp {
				t.Errorf("redis up %v, kafka up %v; want %v, %v", h.redis.up.Load(), h.kafka.up.Load(), tc.redisUp, tc.kafkaUp)
			}
			if got := h.partitions.Load(); got != tc.partitions {
				t.Errorf("partition count %d, want %d", got, tc.partitions)
			}
			if got := claims.got(); !slices.Equal(got, tc.claims) {
				t.Errorf("claims ticked with %v, want %v", got, tc.claims)
			}
			if ts, has := e.stream.Get(); (tc.redisErr == nil) != has || (has && ts != streamTS) {
				t.Errorf("stream time %v (%v) after Redis answered %v", ts, has, tc.redisErr)
			}
			lag := -1.0
			if testutil.CollectAndCount(e.m.lag) > 0 {
				lag = testutil.ToFloat64(e.m.lag.WithLabelValues("m", "2"))
			}
			if lag != tc.lag {
				t.Errorf("lag of m/2 = %v, want %v", lag, tc.lag)
			}
		})
	}
}

// TestHealthLogsChanges: an outage is one ERROR when it starts and one INFO when it ends,
// however many rounds it lasts; the first round says how things stand either way.
func TestHealthLogsChanges(t *testing.T) {
	down := errors.New("connection refused")
	store := &streamStore{}
	b := &fakeBrokers{partitions: 4}
	h, _, logs, _ := testHealth(t, store, b)
	for i, err := range []error{nil, nil, down, down, down, nil, nil} {
		store.set(err)
		b.mu.Lock()
		b.err = err
		b.mu.Unlock()
		h.poll(t.Context(), 4*i) // every round asks the brokers
	}
	for _, c := range []struct {
		level slog.Level
		msg   string
		n     int
	}{
		{slog.LevelInfo, "redis reachable", 2},
		{slog.LevelError, "redis unreachable", 1},
		{slog.LevelInfo, "kafka brokers reachable", 2},
		{slog.LevelError, "kafka brokers unreachable", 1},
	} {
		if got := logs.count(c.level, c.msg); got != c.n {
			t.Errorf("%d %v lines %q, want %d", got, c.level, c.msg, c.n)
		}
	}
}

// TestHealthRun: the poller checks Redis every pollEvery and the brokers every fourth
// round, and stops with its context.
func TestHealthRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &streamStore{}
		b := &fakeBrokers{partitions: 4}
		h, _, _, claims := testHealth(t, store, b)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { h.run(ctx); close(done) }()
		time.Sleep(2*time.Second + pollEvery/2)
		synctest.Wait()
		// Rounds at 0, 0.25 s, …, 2 s: nine; the brokers and claims at 0, 1 s and 2 s.
		if n := store.checks(); n != 9 {
			t.Errorf("%d Redis checks in 2 s, want 9", n)
		}
		if _, m := b.requests(); m != 3 {
			t.Errorf("%d metadata requests in 2 s, want 3", m)
		}
		if got := claims.got(); !slices.Equal(got, []int{4, 4, 4}) {
			t.Errorf("claims ticked with %v, want three times 4", got)
		}
		cancel()
		<-done
	})
}
