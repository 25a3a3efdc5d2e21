package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
)

// Store is what the pipeline needs from the Redis state.
type Store interface {
	Load(ctx context.Context, p *windows.Partition) error
	Claim(ctx context.Context, member string, mine []int, all int, ttl time.Duration) ([]bool, error)
	Commit(ctx context.Context, cs *windows.ChangeSet) error
	StreamTime(ctx context.Context) (int64, bool, error)
	LoadScripts(ctx context.Context) error
}

// Topics names the topics.
type Topics struct{ Messages, Orders, Deadletter string }

// Options configure a Service.
type Options struct {
	Brokers []string
	Group   string
	Topics  Topics
	// Dialer is used by the consumer group and readers, Transport by the dead-letter writer
	// and offset queries; both carry TLS and SASL. Nil means plain TCP.
	Dialer    *kafka.Dialer
	Transport *kafka.Transport

	Store   Store
	Windows windows.Config
	// EventClock makes the as-of time the stream time instead of the wall clock.
	EventClock bool
	// RebuildMissing replays a partition from the earliest retained offset when its Redis
	// state is gone; without it such a partition is not consumed (see docs/RELIABILITY.md).
	RebuildMissing bool

	BatchSize int
	// InFlight bounds the records an instance queues, over every partition it owns: each
	// partition queues at most InFlight divided by their number, from MinPartitionRecords
	// to BatchSize, and applies as many at once at most, so memory stays flat as an
	// instance takes more partitions (docs/PERFORMANCE.md, "Partitions"). Default 3 ×
	// BatchSize.
	InFlight int
	// SessionTimeout, HeartbeatInterval and RebalanceTimeout tune the consumer group
	// (docs/RELIABILITY.md, "Rejoining the group", says how they were chosen).
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration

	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Service consumes both topics. It composes three parts: the member of the consumer group
// (generations, a worker per owned partition number, offsets copied to Kafka, the claim
// watchdog), the registry of the current generation's workers, and the health poller
// (Redis and Kafka up, the stream time, high watermarks and lag, the partition count). The
// KPI series are computed from the workers' mirrors when a scrape asks (Each).
type Service struct {
	opt Options
	m   *metrics
	log *slog.Logger
	env *env

	stream streamClock

	reg    *registry
	member *member
	health *health
}

// New checks the options and registers the health metrics.
func New(opt Options) (*Service, error) {
	if len(opt.Brokers) == 0 || opt.Group == "" || opt.Topics.Messages == "" || opt.Topics.Orders == "" {
		return nil, errors.New("pipeline: brokers, group and both topics are required")
	}
	if opt.Topics.Messages == opt.Topics.Orders {
		return nil, errors.New("pipeline: the messages and orders topics must differ")
	}
	if opt.Store == nil {
		return nil, errors.New("pipeline: a store is required")
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 8192
	}
	if opt.InFlight <= 0 {
		opt.InFlight = 3 * opt.BatchSize
	}
	if opt.SessionTimeout <= 0 {
		opt.SessionTimeout = DefaultSessionTimeout
	}
	if opt.HeartbeatInterval <= 0 {
		opt.HeartbeatInterval = min(DefaultHeartbeatInterval, opt.SessionTimeout/3)
	}
	if opt.RebalanceTimeout <= 0 {
		opt.RebalanceTimeout = DefaultRebalanceTimeout
	}
	if opt.HeartbeatInterval >= opt.SessionTimeout {
		return nil, fmt.Errorf("pipeline: the heartbeat interval (%v) must be shorter than the session timeout (%v)", opt.HeartbeatInterval, opt.SessionTimeout)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Registerer == nil {
		opt.Registerer = prometheus.NewRegistry()
	}
	if opt.Dialer == nil {
		opt.Dialer = &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true}
	}
	if opt.Transport == nil {
		opt.Transport = &kafka.Transport{}
	}
	s := &Service{opt: opt, log: opt.Logger, reg: newRegistry()}
	s.m = newMetrics(opt.Registerer, []string{opt.Topics.Messages, opt.Topics.Orders}, s.reg.owned,
		func() float64 { return s.health.partitionCount() })
	opt.Registerer.MustRegister(newSinceCollector(s.reg.list))
	s.stream.gauge = s.m.streamTime
	s.env = &env{opt: &s.opt, m: s.m, stream: &s.stream, asOf: s.AsOf}
	s.member = newMember(&s.opt, s.m, s.reg, func(part int) *worker { return newWorker(part, s.env) })
	s.health = newHealth(&s.opt, s.m, &s.stream, s.reg, s.member.claim)
	return s, nil
}

// Ready is true when Redis and the brokers answer, the group is joined, and no owned
// partition is held on missing or refused state.
func (s *Service) Ready() bool {
	return s.health.redis.up.Load() && s.health.kafka.up.Load() && s.member.joined.Load() && !s.reg.held()
}

// Run consumes until ctx is done. It returns nil on a clean stop.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := s.opt.Store.LoadScripts(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("redis not reachable yet, will retry", "err", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.health.run(ctx) }()
	defer wg.Wait()
	return s.member.run(ctx)
}

// Stats is what a Service did in this process: the records it applied (in batches
// committed to Redis), and the partitions it held when Run ended and it left the group
// (empty when it held none, or Run has not ended).
type Stats struct {
	Applied  int64
	Released []int
}

// Stats says what the Service did; call it after Run for the partitions released.
func (s *Service) Stats() Stats {
	st := Stats{Applied: s.env.applied.Load()}
	if p := s.member.released.Load(); p != nil {
		st.Released = *p
	}
	return st
}

// AsOf is the as-of time A: the wall clock, or the stream time with the event clock.
func (s *Service) AsOf() int64 {
	if s.opt.EventClock {
		ts, _ := s.stream.Get()
		return ts
	}
	return s.opt.Now().UnixNano()
}

// Each hands over every KPI series of the owned partitions at the as-of time, one at a
// time, so that a scrape turns each into a metric without holding them all.
func (s *Service) Each(emit func(kpi.Series)) {
	if _, has := s.stream.Get(); s.opt.EventClock && !has {
		return
	}
	tot := windows.NewTotals(s.opt.Windows, s.AsOf())
	s.reg.addTo(tot)
	tot.Each(emit)
	fs, fa := tot.Folded()
	s.m.folded.WithLabelValues("shop").Set(float64(fs))
	s.m.folded.WithLabelValues("agent").Set(float64(fa))
}

// Waiting lists the open episodes of shop ("" for all) that have waited at least minWait, at
// the as-of time it returns, and whether shop is known to any owned partition.
func (s *Service) Waiting(shop string, minWait time.Duration) ([]windows.Waiting, int64, bool) {
	a := s.AsOf()
	out, known := s.reg.waiting(a, shop, int64(minWait))
	return out, a, known
}
