package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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

// groupState is what the service knows of the group beyond its own generation.
type groupState struct {
	partitions atomic.Int64 // partition numbers of the input topics, 0 until known
	member     atomic.Value // string: this member's id in the current generation
	genStart   atomic.Int64 // unix nanos the current generation began, 0 between generations

	mu sync.Mutex
	cg *kafka.ConsumerGroup // the group the watchdog may close

	watch claimWatch // used only by pollLoop's goroutine
}

func (g *groupState) partitionCount() float64 { return float64(g.partitions.Load()) }

// Run consumes until ctx is done. It returns nil on a clean stop.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := s.opt.Store.LoadScripts(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("redis not reachable yet, will retry", "err", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.pollLoop(ctx) }()
	defer wg.Wait()
	for {
		if err := s.runGroup(ctx); err != nil || ctx.Err() != nil {
			return err
		}
		// The watchdog closed the group (rejoin): join again, as a new member.
	}
}

// groupConfig sets kafka-go's request deadlines from the group's timeouts. kafka-go waits
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
func (s *Service) groupConfig() kafka.ConsumerGroupConfig {
	return kafka.ConsumerGroupConfig{
		ID:                s.opt.Group,
		Brokers:           s.opt.Brokers,
		Dialer:            s.opt.Dialer,
		Topics:            []string{s.opt.Topics.Messages, s.opt.Topics.Orders},
		GroupBalancers:    []kafka.GroupBalancer{coPartition{log: s.log}},
		SessionTimeout:    s.opt.SessionTimeout,
		RebalanceTimeout:  s.opt.RebalanceTimeout,
		HeartbeatInterval: s.opt.HeartbeatInterval,
		Timeout:           s.opt.SessionTimeout + s.opt.RebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		StartOffset:       kafka.FirstOffset,
		ErrorLogger:       kafka.LoggerFunc(func(f string, a ...any) { s.log.Warn("kafka: " + fmt.Sprintf(f, a...)) }),
	}
}

// runGroup is one membership: it returns nil when ctx is done or the watchdog closed
// the group.
func (s *Service) runGroup(ctx context.Context) error {
	cg, err := kafka.NewConsumerGroup(s.groupConfig())
	if err != nil {
		return fmt.Errorf("consumer group: %w", err)
	}
	s.group.mu.Lock()
	s.group.cg = cg
	s.group.mu.Unlock()
	defer cg.Close()
	backoff := newBackoff()
	for {
		gen, err := cg.Next(ctx)
		if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
			s.joined.Store(false)
			return nil
		}
		if err != nil {
			s.joined.Store(false)
			s.log.Warn("joining consumer group failed, retrying", "group", s.opt.Group, "err", err)
			if !backoff.wait(ctx) {
				return nil
			}
			continue
		}
		backoff.reset()
		s.joined.Store(true)
		s.group.member.Store(gen.MemberID)
		start := s.opt.Now().UnixNano()
		s.group.genStart.Store(start)
		s.startGeneration(gen)
		// Between generations claims lapse by design: the watchdog judges only within one.
		// kafka-go ends every routine of a generation before the next, and before Close
		// returns, so this is the one place genStart goes back to 0.
		gen.Start(func(ctx context.Context) {
			<-ctx.Done()
			s.group.genStart.CompareAndSwap(start, 0)
		})
	}
}

// claim renews this instance's partition claims in Redis and watches for partition
// numbers that no live instance claims. The coordinator drops a dead member after its
// session timeout; a broker may also keep one that died while its JoinGroup waited, with
// no session timer (kfake does), and only a new rebalance drops it. Either way its
// partitions are unconsumed and their lag exported by no one. When claimWatch says a
// partition is held by no live instance, this instance leaves and rejoins the group: the
// rebalance that follows drops every member that does not rejoin within the rebalance
// timeout. Counted in cskpi_group_rejoins_total and logged.
func (s *Service) claim(ctx context.Context) {
	n := int(s.group.partitions.Load())
	member, _ := s.group.member.Load().(string)
	if n == 0 || member == "" {
		return
	}
	var mine []int
	for _, w := range s.workerList() {
		mine = append(mine, w.part)
	}
	slices.Sort(mine)
	claimed, err := s.opt.Store.Claim(ctx, member, mine, n, claimTTL)
	if err != nil {
		return // Redis is down: its own alert says so, and nothing can be judged
	}
	g := &s.group
	var start time.Time
	if ns := g.genStart.Load(); ns != 0 {
		start = time.Unix(0, ns)
	}
	stuck := g.watch.observe(s.opt.Now(), claimed, start)
	if stuck == nil {
		return
	}
	s.m.rejoins.Inc()
	s.log.Warn("partitions claimed by no live instance: leaving and rejoining the group so that the coordinator drops the dead member holding them",
		"partitions", stuck, "unclaimed_for", g.watch.grace)
	g.mu.Lock()
	cg := g.cg
	g.mu.Unlock()
	if cg != nil {
		// Close waits for the generation's workers to stop; the poll loop must not.
		go cg.Close()
	}
}

// pollPartitions learns the input topics' partition count (the group's whole work).
func (s *Service) pollPartitions(ctx context.Context, client *kafka.Client) error {
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.opt.Topics.Messages}})
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if t.Name == s.opt.Topics.Messages && t.Error == nil {
			s.group.partitions.Store(int64(len(t.Partitions)))
		}
	}
	return nil
}
