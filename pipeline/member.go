package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// The consumer group's defaults; docs/RELIABILITY.md, "Rejoining the group", gives the
// trade-off of each.
const (
	// DefaultSessionTimeout is how long the coordinator keeps a silent member (and its
	// partitions): the time a crashed instance's partitions stay unconsumed.
	DefaultSessionTimeout = 10 * time.Second
	// DefaultHeartbeatInterval is how soon a member hears of a rebalance.
	DefaultHeartbeatInterval = time.Second
	// DefaultRebalanceTimeout is how long the coordinator waits for every member to
	// rejoin: a member stops its workers (each finishes or abandons one batch) well within
	// it, and a dead member delays a rebalance by all of it.
	DefaultRebalanceTimeout = 5 * time.Second

	// claimEvery and claimTTL: how often an instance renews its partition claims in Redis,
	// and how long a claim outlives the instance.
	claimEvery = time.Second
	claimTTL   = 3 * time.Second
)

// member is this instance's membership of the consumer group. It joins (again, as a new
// member, after the watchdog left), and for each generation starts one worker per assigned
// partition number, registers it while it runs, and copies the Redis-held offsets to Kafka.
// Its claim, ticked by the health poller, renews the instance's partition claims in Redis
// and is the watchdog that leaves the group when a partition number is held by no live
// instance.
type member struct {
	opt     *Options
	log     *slog.Logger
	reg     *registry
	rejoins prometheus.Counter

	// join makes a membership (kafka-go's consumer group; a fake in tests).
	join func(kafka.ConsumerGroupConfig) (group, error)
	// newWorker makes the worker of a partition number, runWorker runs it for one
	// generation ((*worker).run; tests replace it).
	newWorker func(part int) *worker
	runWorker func(ctx context.Context, w *worker, committed map[string]int64)

	joined   atomic.Bool  // the last join succeeded; false once one fails or the membership ends
	id       atomic.Value // string: this member's id in the current generation
	genStart atomic.Int64 // unix nanos the current generation began, 0 between generations

	mu sync.Mutex
	cg group // the membership the watchdog may close

	// held is the partition numbers of the current generation, in order (nil between
	// generations); released is what it held when it left the group at the end of run (nil
	// before). Not the registry's: a worker registers only once its routine runs.
	held, released atomic.Pointer[[]int]

	watch claimWatch // used only by the goroutine that calls claim (the health poller's)
}

func newMember(opt *Options, m *metrics, reg *registry, newWorker func(part int) *worker) *member {
	return &member{opt: opt, log: opt.Logger, reg: reg, rejoins: m.rejoins, join: joinKafka, newWorker: newWorker,
		runWorker: func(ctx context.Context, w *worker, committed map[string]int64) { w.run(ctx, committed) },
		watch:     claimWatch{grace: claimTTL + claimEvery, every: opt.SessionTimeout + opt.RebalanceTimeout}}
}

// group is one membership of the consumer group, as a member uses it.
type group interface {
	// next waits for the next generation: kafka.ErrGroupClosed once closed.
	next(ctx context.Context) (generation, error)
	Close() error
}

// generation is one generation of the group, as a member uses it.
type generation interface {
	// assigned is the generation's id, this member's id in it, and the member's partitions
	// by topic with their committed offsets.
	assigned() (id int32, member string, assignments map[string][]kafka.PartitionAssignment)
	// Start runs fn until the generation ends; the generation ends when any fn returns.
	Start(fn func(ctx context.Context))
	CommitOffsets(offsets map[string]map[int]int64) error
}

// kafkaGroup and kafkaGeneration are kafka-go's.
type kafkaGroup struct{ *kafka.ConsumerGroup }

type kafkaGeneration struct{ *kafka.Generation }

func joinKafka(cfg kafka.ConsumerGroupConfig) (group, error) {
	cg, err := kafka.NewConsumerGroup(cfg)
	if err != nil {
		return nil, err
	}
	return kafkaGroup{cg}, nil
}

func (g kafkaGroup) next(ctx context.Context) (generation, error) {
	gen, err := g.Next(ctx)
	if err != nil {
		return nil, err
	}
	return kafkaGeneration{gen}, nil
}

func (g kafkaGeneration) assigned() (int32, string, map[string][]kafka.PartitionAssignment) {
	return g.ID, g.MemberID, g.Assignments
}

// run is the membership until ctx is done; it returns nil then.
func (m *member) run(ctx context.Context) error {
	for {
		if err := m.runGroup(ctx); err != nil || ctx.Err() != nil {
			return err
		}
		// The watchdog closed the group (rejoin): join again, as a new member.
	}
}

// config sets kafka-go's request deadlines from the group's timeouts. kafka-go waits
// for a JoinGroup answer Timeout+RebalanceTimeout and for a SyncGroup answer
// Timeout+SessionTimeout. A coordinator may hold a JoinGroup longer than one rebalance
// timeout: until every current member has rejoined or been dropped, and a member that
// died just before the rebalance is dropped only a session timeout after its last
// heartbeat (and some brokers restart the wait when it is). With Timeout = session +
// rebalance timeout the client waits at least session + 2×rebalance timeout, so it never
// gives up on a join the coordinator is still completing — giving up would leave its
// member behind as a dead one and start the wait over (issue: 25 s joins ending in
// "i/o timeout"). A heartbeat or commit to a broker that went silent then takes as long
// to fail; the coordinator has dropped the member by then anyway, and Redis fences a
// stale writer.
func (m *member) config() kafka.ConsumerGroupConfig {
	opt := m.opt
	return kafka.ConsumerGroupConfig{
		ID:                opt.Group,
		Brokers:           opt.Brokers,
		Dialer:            opt.Dialer,
		Topics:            []string{opt.Topics.Messages, opt.Topics.Orders},
		GroupBalancers:    []kafka.GroupBalancer{coPartition{log: m.log}},
		SessionTimeout:    opt.SessionTimeout,
		RebalanceTimeout:  opt.RebalanceTimeout,
		HeartbeatInterval: opt.HeartbeatInterval,
		Timeout:           opt.SessionTimeout + opt.RebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		StartOffset:       kafka.FirstOffset,
		ErrorLogger:       kafka.LoggerFunc(func(f string, a ...any) { m.log.Warn("kafka: " + fmt.Sprintf(f, a...)) }),
	}
}

// runGroup is one membership: it returns nil when ctx is done or the watchdog closed
// the group.
func (m *member) runGroup(ctx context.Context) error {
	cg, err := m.join(m.config())
	if err != nil {
		return fmt.Errorf("consumer group: %w", err)
	}
	m.mu.Lock()
	m.cg = cg
	m.mu.Unlock()
	defer cg.Close()
	backoff := newBackoff()
	for {
		gen, err := cg.next(ctx)
		if ctx.Err() != nil {
			m.joined.Store(false)
			m.released.Store(m.held.Load())
			return nil
		}
		if errors.Is(err, kafka.ErrGroupClosed) {
			m.joined.Store(false)
			return nil
		}
		if err != nil {
			m.joined.Store(false)
			m.log.Warn("joining consumer group failed, retrying", "group", m.opt.Group, "err", err)
			if !backoff.wait(ctx) {
				return nil
			}
			continue
		}
		backoff.reset()
		m.joined.Store(true)
		_, id, _ := gen.assigned()
		m.id.Store(id)
		start := m.opt.Now().UnixNano()
		m.genStart.Store(start)
		held := m.startGeneration(gen)
		// Between generations claims lapse by design: the watchdog judges only within one.
		// kafka-go ends every routine of a generation before the next, and before Close
		// returns, so this is the one place genStart (and held) go back to 0 (nil).
		gen.Start(func(ctx context.Context) {
			<-ctx.Done()
			m.genStart.CompareAndSwap(start, 0)
			m.held.CompareAndSwap(held, nil)
		})
	}
}

// startGeneration runs a worker per assigned partition number, registered while it runs,
// and the commit loop; it returns the partition numbers, which it stores in held.
func (m *member) startGeneration(gen generation) *[]int {
	id, memberID, assignments := gen.assigned()
	byPart := map[int]map[string]int64{} // partition -> topic -> committed offset
	for topic, as := range assignments {
		for _, a := range as {
			if byPart[a.ID] == nil {
				byPart[a.ID] = map[string]int64{}
			}
			byPart[a.ID][topic] = a.Offset
		}
	}
	held := slices.Sorted(maps.Keys(byPart))
	m.held.Store(&held)
	m.log.Info("consumer group generation", "generation", id, "member", memberID, "partitions", len(byPart))
	for part, committed := range byPart {
		w := m.newWorker(part)
		w.sharing = len(byPart)
		gen.Start(func(ctx context.Context) {
			m.reg.add(w)
			defer m.reg.remove(w)
			m.runWorker(ctx, w, committed)
		})
	}
	gen.Start(func(ctx context.Context) { m.commitLoop(ctx, gen) })
	return &held
}

// commitLoop copies the Redis-held offsets to Kafka, for lag tooling only.
func (m *member) commitLoop(ctx context.Context, gen generation) {
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
		for _, w := range m.reg.list() {
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
			m.log.Debug("committing offsets to kafka failed", "err", err)
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

// claim renews this instance's partition claims in Redis and watches for partition
// numbers that no live instance claims; partitions is the input topics' partition count,
// 0 while unknown. The coordinator drops a dead member after its session timeout; a broker
// may also keep one that died while its JoinGroup waited, with no session timer (kfake
// does), and only a new rebalance drops it. Either way its partitions are unconsumed and
// their lag exported by no one. When claimWatch says a partition is held by no live
// instance, this instance leaves and rejoins the group: the rebalance that follows drops
// every member that does not rejoin within the rebalance timeout. Counted in
// cskpi_group_rejoins_total and logged.
func (m *member) claim(ctx context.Context, partitions int) {
	id, _ := m.id.Load().(string)
	if partitions == 0 || id == "" {
		return
	}
	claimed, err := m.opt.Store.Claim(ctx, id, m.reg.parts(), partitions, claimTTL)
	if err != nil {
		return // Redis is down: its own alert says so, and nothing can be judged
	}
	var start time.Time
	if ns := m.genStart.Load(); ns != 0 {
		start = time.Unix(0, ns)
	}
	stuck := m.watch.observe(m.opt.Now(), claimed, start)
	if stuck == nil {
		return
	}
	m.rejoins.Inc()
	m.log.Warn("partitions claimed by no live instance: leaving and rejoining the group so that the coordinator drops the dead member holding them",
		"partitions", stuck, "unclaimed_for", m.watch.grace)
	m.mu.Lock()
	cg := m.cg
	m.mu.Unlock()
	if cg != nil {
		// Close waits for the generation's workers to stop; the health poller must not.
		go cg.Close()
	}
}
