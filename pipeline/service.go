package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// SessionTimeout, HeartbeatInterval and RebalanceTimeout tune the consumer group
	// (docs/RELIABILITY.md, "Rejoining the group", says how they were chosen).
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration

	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Service consumes both topics: it joins the consumer group, runs one worker per owned
// partition number, copies the committed offsets to Kafka, and keeps Redis and Kafka health,
// the stream time and the lag current. The KPI series are computed from the workers'
// mirrors when a scrape asks (Snapshot).
type Service struct {
	opt Options
	m   *metrics
	log *slog.Logger
	env *env

	stream streamClock

	mu      sync.Mutex
	workers map[int]*worker // the partition numbers of the current generation

	redisUp atomic.Bool
	kafkaUp atomic.Bool
	// checked says the first Redis and Kafka checks ran, so that their first result is
	// logged whatever it is (an outage from the start is an ERROR too).
	redisChecked, kafkaChecked atomic.Bool
	joined                     atomic.Bool

	group groupState
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
	s := &Service{opt: opt, log: opt.Logger, workers: map[int]*worker{}}
	s.group.watch = claimWatch{grace: claimTTL + claimEvery, every: opt.SessionTimeout + opt.RebalanceTimeout}
	s.m = newMetrics(opt.Registerer, []string{opt.Topics.Messages, opt.Topics.Orders}, s.ownedCount, s.group.partitionCount)
	opt.Registerer.MustRegister(newSinceCollector(s.workerList))
	s.stream.gauge = s.m.streamTime
	s.env = &env{opt: &s.opt, m: s.m, stream: &s.stream, asOf: s.AsOf}
	return s, nil
}

// Ready is true when Redis and the brokers answer, the group is joined, and no owned
// partition is held on missing or refused state.
func (s *Service) Ready() bool {
	if !s.redisUp.Load() || !s.kafkaUp.Load() || !s.joined.Load() {
		return false
	}
	for _, w := range s.workerList() {
		if w.missing.Load() || w.refused.Load() {
			return false
		}
	}
	return true
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
	for _, w := range s.workerList() {
		w.addTo(tot)
	}
	tot.Each(emit)
	fs, fa := tot.Folded()
	s.m.folded.WithLabelValues("shop").Set(float64(fs))
	s.m.folded.WithLabelValues("agent").Set(float64(fa))
}

// Waiting lists the open episodes of shop ("" for all) that have waited at least minWait, at
// the as-of time it returns, and whether shop is known to any owned partition.
func (s *Service) Waiting(shop string, minWait time.Duration) ([]windows.Waiting, int64, bool) {
	a := s.AsOf()
	var out []windows.Waiting
	known := false
	for _, w := range s.workerList() {
		known = w.waiting(a, shop, int64(minWait), &out) || known
	}
	return out, a, known
}

// workerList copies the current workers; the caller then uses each without s.mu, so that
// no lock is ever held while a worker's is taken.
func (s *Service) workerList() []*worker {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*worker, 0, len(s.workers))
	for _, w := range s.workers {
		out = append(out, w)
	}
	return out
}

// ownedCount is the number of partitions loaded and exported (cskpi_partitions_owned).
func (s *Service) ownedCount() float64 {
	n := 0
	for _, w := range s.workerList() {
		if w.loaded.Load() {
			n++
		}
	}
	return float64(n)
}

func (s *Service) startGeneration(gen *kafka.Generation) {
	byPart := map[int]map[string]int64{} // partition -> topic -> committed offset
	for topic, as := range gen.Assignments {
		for _, a := range as {
			if byPart[a.ID] == nil {
				byPart[a.ID] = map[string]int64{}
			}
			byPart[a.ID][topic] = a.Offset
		}
	}
	s.log.Info("consumer group generation", "generation", gen.ID, "member", gen.MemberID, "partitions", len(byPart))
	for part, committed := range byPart {
		w := newWorker(part, s.env)
		gen.Start(func(ctx context.Context) {
			s.mu.Lock()
			s.workers[part] = w
			s.mu.Unlock()
			defer func() {
				s.mu.Lock()
				if s.workers[part] == w {
					delete(s.workers, part)
				}
				s.mu.Unlock()
			}()
			w.run(ctx, committed)
		})
	}
	gen.Start(func(ctx context.Context) { s.commitLoop(ctx, gen) })
}

// commitLoop copies the Redis-held offsets to Kafka, for lag tooling only.
func (s *Service) commitLoop(ctx context.Context, gen *kafka.Generation) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := map[topicPart]int64{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		offsets := map[string]map[int]int64{}
		for _, w := range s.workerList() {
			for topic, o := range w.committed() {
				if last[topicPart{topic, w.part}] == o {
					continue
				}
				if offsets[topic] == nil {
					offsets[topic] = map[int]int64{}
				}
				offsets[topic][w.part] = o
			}
		}
		if len(offsets) == 0 {
			continue
		}
		if err := gen.CommitOffsets(offsets); err != nil {
			s.log.Debug("committing offsets to kafka failed", "err", err)
			continue
		}
		for topic, ps := range offsets {
			for p, o := range ps {
				last[topicPart{topic, p}] = o
			}
		}
	}
}

type topicPart struct {
	topic string
	part  int
}

// pollLoop keeps stream time, Redis health and high watermarks current.
func (s *Service) pollLoop(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	client := &kafka.Client{Addr: kafka.TCP(s.opt.Brokers...), Transport: s.opt.Transport, Timeout: 5 * time.Second}
	tick := 0
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		// Reading the stream time is the Redis health check too: one round trip, not two.
		ts, ok, err := s.opt.Store.StreamTime(pctx)
		if err == nil && ok {
			s.stream.Raise(ts)
		}
		if ctx.Err() != nil {
			cancel()
			return
		}
		up := err == nil
		// Swap first: after an || it would not run on the first change, and the next
		// check would log the same state again.
		if first := !s.redisChecked.Swap(true); up != s.redisUp.Load() || first {
			if up {
				s.log.Info("redis reachable")
			} else {
				s.log.Error("redis unreachable", "err", err)
			}
		}
		s.redisUp.Store(up)
		if up {
			s.m.redisUp.Set(1)
		} else {
			s.m.redisUp.Set(0)
		}
		if tick%4 == 0 {
			if !s.pollOffsets(pctx, client) {
				// Nothing owned: the metadata request tells whether the brokers answer.
				s.setKafkaUp(s.pollPartitions(pctx, client))
			} else if tick%20 == 0 || s.group.partitions.Load() == 0 {
				_ = s.pollPartitions(pctx, client)
			}
			if up {
				s.claim(pctx)
			}
		}
		cancel()
		tick++
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollOffsets asks the brokers for the owned partitions' high watermarks, for the lag, and
// reports whether it owned any to ask for.
func (s *Service) pollOffsets(ctx context.Context, client *kafka.Client) bool {
	workers := map[int]*worker{}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, w := range s.workerList() {
		workers[w.part] = w
		for _, t := range w.topics {
			req.Topics[t.name] = append(req.Topics[t.name], kafka.LastOffsetOf(w.part))
		}
	}
	if len(req.Topics) == 0 {
		return false
	}
	resp, err := client.ListOffsets(ctx, req)
	s.setKafkaUp(err)
	if err != nil {
		return true
	}
	for topic, ps := range resp.Topics {
		for _, po := range ps {
			if w := workers[po.Partition]; w != nil && po.Error == nil {
				w.noteHWM(topic, po.LastOffset)
			}
		}
	}
	return true
}

func (s *Service) setKafkaUp(err error) {
	up := err == nil
	if first := !s.kafkaChecked.Swap(true); up != s.kafkaUp.Load() || first {
		if up {
			s.log.Info("kafka brokers reachable")
		} else {
			s.log.Error("kafka brokers unreachable; retrying", "brokers", s.opt.Brokers, "err", err)
		}
	}
	s.kafkaUp.Store(up)
	if up {
		s.m.kafkaUp.Set(1)
	} else {
		s.m.kafkaUp.Set(0)
	}
}
