package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
)

// Store is what the pipeline needs from the Redis state.
type Store interface {
	Load(ctx context.Context, p *windows.Partition) error
	Commit(ctx context.Context, p *windows.Partition, next map[string]int64) error
	StreamTime(ctx context.Context) (int64, bool, error)
	Ping(ctx context.Context) error
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

	BatchSize      int
	SessionTimeout time.Duration

	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Service consumes both topics and keeps the owned partitions' state.
type Service struct {
	opt Options
	m   *metrics
	log *slog.Logger

	mu      sync.Mutex
	parts   map[int]*windows.Partition
	hwm     map[topicPart]int64
	missing map[int]bool

	stream     atomic.Int64
	haveStream atomic.Bool
	redisUp    atomic.Bool
	kafkaUp    atomic.Bool
	// checked says the first Redis and Kafka checks ran, so that their first result is
	// logged whatever it is (an outage from the start is an ERROR too).
	redisChecked, kafkaChecked atomic.Bool
	joined                     atomic.Bool
}

type topicPart struct {
	topic string
	part  int
}

// New checks the options and registers the health metrics.
func New(opt Options) (*Service, error) {
	if len(opt.Brokers) == 0 || opt.Group == "" || opt.Topics.Messages == "" || opt.Topics.Orders == "" {
		return nil, errors.New("pipeline: brokers, group and both topics are required")
	}
	if opt.Store == nil {
		return nil, errors.New("pipeline: a store is required")
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 8192
	}
	if opt.SessionTimeout <= 0 {
		opt.SessionTimeout = 10 * time.Second
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
	s := &Service{
		opt:     opt,
		log:     opt.Logger,
		m:       newMetrics(opt.Registerer, []string{opt.Topics.Messages, opt.Topics.Orders}),
		parts:   map[int]*windows.Partition{},
		hwm:     map[topicPart]int64{},
		missing: map[int]bool{},
	}
	return s, nil
}

func (s *Service) role(topic string) event.Topic {
	if topic == s.opt.Topics.Orders {
		return event.Orders
	}
	return event.Messages
}

// Ready is true when Redis and the brokers answer, the group is joined, and no owned
// partition is stuck on missing state.
func (s *Service) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.redisUp.Load() && s.kafkaUp.Load() && s.joined.Load() && len(s.missing) == 0
}

// AsOf is the as-of time A: the wall clock, or the stream time with the event clock.
func (s *Service) AsOf() int64 {
	if s.opt.EventClock {
		return s.stream.Load()
	}
	return s.opt.Now().UnixNano()
}

// Snapshot computes every KPI series of the owned partitions at the as-of time.
func (s *Service) Snapshot() []kpi.Series {
	if s.opt.EventClock && !s.haveStream.Load() {
		return nil
	}
	a := s.AsOf()
	tot := windows.NewTotals(s.opt.Windows, a)
	for _, p := range s.owned() {
		p.Lock()
		tot.Add(p)
		p.Unlock()
	}
	series := tot.Series()
	fs, fa := tot.Folded()
	s.m.folded.WithLabelValues("shop").Set(float64(fs))
	s.m.folded.WithLabelValues("agent").Set(float64(fa))
	return series
}

// unregister stops exporting a partition's mirror.
func (s *Service) unregister(part int) {
	s.mu.Lock()
	delete(s.parts, part)
	s.m.owned.Set(float64(len(s.parts)))
	s.mu.Unlock()
}

// owned lists the loaded partitions. Callers lock a partition only after s.mu is released:
// the apply path holds a partition while it takes s.mu.
func (s *Service) owned() []*windows.Partition {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := make([]*windows.Partition, 0, len(s.parts))
	for _, p := range s.parts {
		parts = append(parts, p)
	}
	return parts
}

func (s *Service) raiseStream(ts int64) {
	for {
		cur := s.stream.Load()
		if s.haveStream.Load() && cur >= ts {
			return
		}
		if s.stream.CompareAndSwap(cur, ts) {
			s.haveStream.Store(true)
			s.m.streamTime.Set(float64(ts) / 1e9)
			return
		}
	}
}

// Run consumes until ctx is done. It returns nil on a clean stop.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := s.opt.Store.LoadScripts(ctx); err != nil {
		s.log.Warn("redis not reachable yet, will retry", "err", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.pollLoop(ctx) }()
	defer wg.Wait()

	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                s.opt.Group,
		Brokers:           s.opt.Brokers,
		Dialer:            s.opt.Dialer,
		Topics:            []string{s.opt.Topics.Messages, s.opt.Topics.Orders},
		GroupBalancers:    []kafka.GroupBalancer{coPartition{}},
		SessionTimeout:    s.opt.SessionTimeout,
		RebalanceTimeout:  s.opt.SessionTimeout,
		HeartbeatInterval: s.opt.SessionTimeout / 5,
		JoinGroupBackoff:  time.Second,
		StartOffset:       kafka.FirstOffset,
		ErrorLogger:       kafka.LoggerFunc(func(f string, a ...any) { s.log.Warn("kafka: " + fmt.Sprintf(f, a...)) }),
	})
	if err != nil {
		return fmt.Errorf("consumer group: %w", err)
	}
	defer cg.Close()
	backoff := newBackoff()
	for {
		gen, err := cg.Next(ctx)
		if ctx.Err() != nil {
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
		s.startGeneration(gen)
	}
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
		gen.Start(func(ctx context.Context) { s.runPartition(ctx, part, committed) })
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
		// Lock order is partition before s.mu (the apply path holds a partition and
		// takes s.mu), so the partitions are copied out first.
		for _, p := range s.owned() {
			p.Lock()
			for topic, o := range p.Offsets {
				if last[topicPart{topic, p.ID}] == o {
					continue
				}
				if offsets[topic] == nil {
					offsets[topic] = map[int]int64{}
				}
				offsets[topic][p.ID] = o
			}
			p.Unlock()
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

// runPartition owns partition number part for one generation, restarting its consumer after
// any failure from the state in Redis.
func (s *Service) runPartition(ctx context.Context, part int, committed map[string]int64) {
	defer func() {
		s.mu.Lock()
		delete(s.parts, part)
		delete(s.missing, part)
		for topic := range committed {
			delete(s.hwm, topicPart{topic, part})
			s.m.lag.DeleteLabelValues(topic, strconv.Itoa(part))
		}
		s.m.owned.Set(float64(len(s.parts)))
		s.mu.Unlock()
		s.m.missing.DeleteLabelValues(strconv.Itoa(part))
	}()
	backoff := newBackoff()
	for ctx.Err() == nil {
		err := s.consume(ctx, part, committed)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, windows.ErrFenced) {
			s.log.Warn("partition state moved on under us; reloading", "partition", part, "err", err)
			continue
		}
		s.log.Warn("partition consumer failed; reloading state from redis", "partition", part, "err", err)
		if !backoff.wait(ctx) {
			return
		}
	}
}

// record is a fetched record with its decode result.
type record struct {
	msg    kafka.Message
	ev     event.Event
	reason event.Reason
}

func (s *Service) consume(ctx context.Context, part int, committed map[string]int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.unregister(part) // whatever an earlier attempt left is not what Redis holds
	p := windows.NewPartition(part, s.opt.Windows)
	if err := s.opt.Store.Load(ctx, p); err != nil {
		return fmt.Errorf("loading state: %w", err)
	}
	for p.Seq == 0 {
		// Kafka's committed offsets are copied from Redis, so offsets without state mean
		// the state was lost. The generation's offsets may predate the loss: ask now.
		now, err := s.committedOffsets(ctx, part, committed)
		if err != nil {
			return fmt.Errorf("fetching committed offsets: %w", err)
		}
		topic, off, lost := stateLost(now)
		if !lost {
			break
		}
		if s.opt.RebuildMissing {
			s.log.Warn("rebuilding missing partition state from the earliest retained offset", "partition", part)
			break
		}
		s.mu.Lock()
		first := !s.missing[part]
		s.missing[part] = true
		s.mu.Unlock()
		s.m.missing.WithLabelValues(strconv.Itoa(part)).Set(1)
		if first {
			s.log.Error("REDIS STATE MISSING: partition has committed Kafka offsets but no state in Redis; "+
				"its KPIs would be wrong, so it is not consumed. Restore Redis from its AOF/RDB backup, or "+
				"restart with --state.rebuild-missing to replay it from the earliest retained offset "+
				"(exact only if Kafka still retains 28 days + 48 hours of both topics).",
				"partition", part, "topic", topic, "committed_offset", off)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second): // re-check: the operator may restore Redis
		}
		if err := s.opt.Store.Load(ctx, p); err != nil {
			return fmt.Errorf("loading state: %w", err)
		}
	}
	s.mu.Lock()
	if s.missing[part] {
		delete(s.missing, part)
		s.m.missing.WithLabelValues(strconv.Itoa(part)).Set(0)
	}
	s.mu.Unlock()
	s.mu.Lock()
	s.parts[part] = p
	s.m.owned.Set(float64(len(s.parts)))
	s.mu.Unlock()
	s.raiseStream(max(p.Watermark(event.Messages), p.Watermark(event.Orders)))

	q := newQueue(s.opt.BatchSize)
	errCh := make(chan error, len(committed))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for topic := range committed {
		start, ok := p.Offsets[topic]
		if !ok {
			start = kafka.FirstOffset
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:   s.opt.Brokers,
			Topic:     topic,
			Partition: part,
			Dialer:    s.opt.Dialer,
			MinBytes:  1,
			// Enough for full batches; more only holds memory (RSS is a target).
			MaxBytes:      4 << 20,
			MaxWait:       200 * time.Millisecond,
			QueueCapacity: 1024,
		})
		if err := r.SetOffset(start); err != nil {
			r.Close()
			return err
		}
		role := s.role(topic)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			var dec event.Decoder
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errCh <- fmt.Errorf("fetch %s/%d: %w", topic, part, err)
					}
					return
				}
				rec := record{msg: m}
				rec.ev, rec.reason = dec.Decode(role, m.Value)
				if !q.push(ctx, rec) {
					return
				}
			}
		}()
	}

	var dlq *kafka.Writer
	if s.opt.Topics.Deadletter != "" {
		dlq = &kafka.Writer{
			Addr:                   kafka.TCP(s.opt.Brokers...),
			Topic:                  s.opt.Topics.Deadletter,
			Balancer:               &kafka.Murmur2Balancer{},
			RequiredAcks:           kafka.RequireAll,
			Transport:              s.opt.Transport,
			AllowAutoTopicCreation: true,
			BatchTimeout:           time.Millisecond,
		}
		defer dlq.Close()
	}

	batch := make([]record, 0, s.opt.BatchSize)
	var lastExpire expiry
	// An idle partition still lets go of what its windows no longer hold.
	idle := time.NewTicker(idleExpiry)
	defer idle.Stop()
	for {
		batch = q.take(batch, s.opt.BatchSize)
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case err := <-errCh:
				return err
			case <-q.ready:
				continue
			case <-idle.C:
				if err := s.expireIdle(ctx, p, &lastExpire); err != nil {
					return err
				}
				continue
			}
		}
		if err := s.applyBatch(ctx, p, batch, dlq, &lastExpire); err != nil {
			return err
		}
	}
}

// committedOffsets asks the group coordinator for the partition's committed offsets.
func (s *Service) committedOffsets(ctx context.Context, part int, topics map[string]int64) (map[string]int64, error) {
	req := &kafka.OffsetFetchRequest{GroupID: s.opt.Group, Topics: map[string][]int{}}
	for t := range topics {
		req.Topics[t] = []int{part}
	}
	client := &kafka.Client{Addr: kafka.TCP(s.opt.Brokers...), Transport: s.opt.Transport, Timeout: 10 * time.Second}
	resp, err := client.OffsetFetch(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	out := map[string]int64{}
	for t, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error == nil && p.Partition == part {
				out[t] = p.CommittedOffset
			}
		}
	}
	return out, nil
}

// stateLost reports a committed Kafka offset for a partition that has no Redis state.
func stateLost(committed map[string]int64) (string, int64, bool) {
	for topic, off := range committed {
		if off > 0 {
			return topic, off, true
		}
	}
	return "", 0, false
}

func (s *Service) applyBatch(ctx context.Context, p *windows.Partition, batch []record, dlq *kafka.Writer, lastExpire *expiry) error {
	start := time.Now()
	type count struct {
		topic   string
		outcome windows.Outcome
		reason  event.Reason
	}
	counts := map[count]int{}
	next := map[string]int64{}
	var dead []kafka.Message
	oldest := batch[0].msg.Time

	p.Lock()
	defer p.Unlock()
	clk := p.Clock(s.stream.Load(), s.haveStream.Load(), s.opt.Now().UnixNano())
	for i := range batch {
		r := &batch[i]
		outcome, reason := windows.Rejected, r.reason
		if reason == event.OK {
			outcome, reason = p.Admit(&r.ev, &clk)
		}
		counts[count{r.msg.Topic, outcome, reason}]++
		next[r.msg.Topic] = r.msg.Offset + 1
		if r.msg.Time.Before(oldest) {
			oldest = r.msg.Time
		}
		if outcome == windows.Rejected {
			dead = append(dead, deadLetter(r, reason))
		}
		if r.msg.HighWaterMark > 0 {
			s.noteHWM(r.msg.Topic, p.ID, r.msg.HighWaterMark)
		}
	}
	tAdmit := time.Now()
	// Dead letters go out before the batch commits: a crash in between copies them again
	// (at least once) but never loses one.
	if len(dead) > 0 && dlq != nil {
		if err := dlq.WriteMessages(ctx, dead...); err != nil {
			return fmt.Errorf("dead-letter topic: %w", err)
		}
	}
	tDLQ := time.Now()
	s.maybeExpire(p, clk, lastExpire)
	tExp := time.Now()
	if err := s.commit(ctx, p, next); err != nil {
		return err
	}
	s.log.Debug("batch", "partition", p.ID, "records", len(batch), "admit", tAdmit.Sub(start),
		"deadletter", tDLQ.Sub(tAdmit), "expire", tExp.Sub(tDLQ), "commit", time.Since(tExp))
	// Stream time moves only with what Redis holds.
	if clk.HasTime {
		s.raiseStream(clk.Stream)
	}
	for c, n := range counts {
		s.m.events.WithLabelValues(c.topic, c.outcome.String()).Add(float64(n))
		if c.outcome == windows.Rejected {
			s.m.rejected.WithLabelValues(c.topic, string(c.reason)).Add(float64(n))
		}
	}
	s.m.applyTime.Observe(time.Since(start).Seconds())
	s.m.batchSize.Observe(float64(len(batch)))
	// Gauges are computed from the mirror at scrape time: from here on, a scrape shows
	// the batch.
	s.m.freshness.Observe(max(0, s.opt.Now().Sub(oldest).Seconds()))
	s.mu.Lock()
	for topic, o := range next {
		if h, ok := s.hwm[topicPart{topic, p.ID}]; ok {
			s.m.lag.WithLabelValues(topic, strconv.Itoa(p.ID)).Set(float64(max(0, h-o)))
		}
	}
	s.mu.Unlock()
	return nil
}

// deadLetter is the dead-letter copy of a rejected record. An oversize record is copied
// truncated to the size limit, with its original size in a header: a full copy plus
// headers could exceed the broker's own limit and stop the partition for good.
func deadLetter(r *record, reason event.Reason) kafka.Message {
	value := r.msg.Value
	headers := []kafka.Header{
		{Key: "cskpi-reject-reason", Value: []byte(reason)},
		{Key: "cskpi-source-topic", Value: []byte(r.msg.Topic)},
		{Key: "cskpi-source-partition", Value: []byte(strconv.Itoa(r.msg.Partition))},
		{Key: "cskpi-source-offset", Value: []byte(strconv.FormatInt(r.msg.Offset, 10))},
	}
	if len(value) > event.MaxRecordBytes {
		headers = append(headers, kafka.Header{Key: "cskpi-original-size", Value: []byte(strconv.Itoa(len(value)))})
		value = value[:event.MaxRecordBytes]
	}
	key := r.msg.Key
	if len(key) > event.MaxRecordBytes {
		key = key[:event.MaxRecordBytes]
	}
	return kafka.Message{Key: key, Value: value, Headers: headers}
}

func (s *Service) noteHWM(topic string, part int, hwm int64) {
	s.mu.Lock()
	if hwm > s.hwm[topicPart{topic, part}] {
		s.hwm[topicPart{topic, part}] = hwm
	}
	s.mu.Unlock()
}

// expiry remembers when a partition's expiry last ran.
type expiry struct {
	minutes [4]int64
	at      time.Time
}

// maybeExpire runs the partition's expiry when the as-of minute or a stream-time minute
// moved, at most once a second: it walks every conversation, and in a replay stream time
// crosses minutes in nearly every batch. Running it later only keeps state longer.
func (s *Service) maybeExpire(p *windows.Partition, clk windows.Clock, last *expiry) {
	a := s.AsOf()
	wmM, wmO := p.Watermark(event.Messages), p.Watermark(event.Orders)
	now := [4]int64{windows.MinuteOf(a), windows.MinuteOf(wmM), windows.MinuteOf(wmO), windows.MinuteOf(clk.Stream)}
	if now == last.minutes || time.Since(last.at) < time.Second {
		p.ExpireIDs()
		return
	}
	last.minutes, last.at = now, time.Now()
	p.Expire(a, clk)
}

// idleExpiry is how often a partition without records runs its expiry.
const idleExpiry = 2 * time.Second

// expireIdle runs expiry on a partition that has no records to apply and commits what it
// dropped, with the offsets unchanged.
func (s *Service) expireIdle(ctx context.Context, p *windows.Partition, last *expiry) error {
	p.Lock()
	defer p.Unlock()
	s.maybeExpire(p, p.Clock(s.stream.Load(), s.haveStream.Load(), s.opt.Now().UnixNano()), last)
	if !p.Changed() {
		return nil
	}
	return s.commit(ctx, p, maps.Clone(p.Offsets))
}

// commit writes p's changes with the next offsets. On failure the mirror holds changes
// Redis does not: it is no longer exported until it is reloaded, rather than show numbers
// that were never committed.
func (s *Service) commit(ctx context.Context, p *windows.Partition, next map[string]int64) error {
	if err := s.opt.Store.Commit(ctx, p, next); err != nil {
		s.unregister(p.ID)
		return err
	}
	return nil
}

// pollLoop keeps stream time, Redis health and high watermarks current.
func (s *Service) pollLoop(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	client := &kafka.Client{Addr: kafka.TCP(s.opt.Brokers...), Transport: s.opt.Transport, Timeout: 5 * time.Second}
	tick := 0
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.opt.Store.Ping(pctx)
		if err == nil {
			var ts int64
			var ok bool
			if ts, ok, err = s.opt.Store.StreamTime(pctx); err == nil && ok {
				s.raiseStream(ts)
			}
		}
		if ctx.Err() != nil {
			cancel()
			return
		}
		up := err == nil
		if up != s.redisUp.Load() || !s.redisChecked.Swap(true) {
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
			s.pollOffsets(pctx, client)
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

func (s *Service) pollOffsets(ctx context.Context, client *kafka.Client) {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	s.mu.Lock()
	for part := range s.parts {
		for _, topic := range []string{s.opt.Topics.Messages, s.opt.Topics.Orders} {
			req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(part))
		}
	}
	s.mu.Unlock()
	if len(req.Topics) == 0 {
		// Nothing owned yet: a metadata request still tells whether the brokers answer.
		_, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.opt.Topics.Messages}})
		s.setKafkaUp(err)
		return
	}
	resp, err := client.ListOffsets(ctx, req)
	s.setKafkaUp(err)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, ps := range resp.Topics {
		for _, po := range ps {
			if po.Error != nil {
				continue
			}
			tp := topicPart{topic, po.Partition}
			if po.LastOffset > s.hwm[tp] || s.hwm[tp] == 0 {
				s.hwm[tp] = po.LastOffset
			}
			if p, ok := s.parts[po.Partition]; ok && p.TryLock() {
				next := p.Offsets[topic]
				p.Unlock()
				s.m.lag.WithLabelValues(topic, strconv.Itoa(po.Partition)).Set(float64(max(0, s.hwm[tp]-next)))
			}
		}
	}
}

func (s *Service) setKafkaUp(err error) {
	up := err == nil
	if up != s.kafkaUp.Load() || !s.kafkaChecked.Swap(true) {
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

// backoff is an exponential wait from 100 ms to 5 s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Millisecond} }
func (b *backoff) reset()  { b.d = 100 * time.Millisecond }

func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, 5*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
