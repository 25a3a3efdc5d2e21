package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"
	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
)

// deadLetters is where a worker copies rejected records (a kafka.Writer in production).
type deadLetters interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// env is what every worker of a service shares.
type env struct {
	opt    *Options
	m      *metrics
	stream *streamClock
	asOf   func() int64
	// applied counts the records applied in committed batches since the Service was made.
	applied atomic.Int64
}

// worker owns one partition number for one generation: the partition's mirror, the
// readers of both topics and their queue, the dead-letter writer, and the partition's
// offsets and lag. Its lock guards the mirror and is held only for work in memory —
// applying a batch, building its change set, recording its commit, a scrape — never while
// Kafka or Redis is called, so a scrape never waits on either.
type worker struct {
	part int
	env  *env

	mu sync.Mutex
	p  *windows.Partition // nil while not exported: not loaded, or a commit failed

	loaded  atomic.Bool // p is set: the partition counts as owned
	missing atomic.Bool // its Redis state is gone (see docs/RELIABILITY.md)
	refused atomic.Bool // its Redis state cannot be read by this build (docs/UPGRADING.md)
	topics  []*topicState
	expiry  expiry
	// sharing is the number of partitions of its generation: they share Options.InFlight.
	sharing int

	// Used only by the worker's own goroutine (run, and what it calls).
	refusal string // the refusal last logged: cause and detail
	fails   streak
}

// topicState is a worker's view of one of its topic-partitions, read without its lock.
type topicState struct {
	name string
	role event.Topic
	next atomic.Int64 // next offset committed to Redis (-1: none yet)
	hwm  atomic.Int64 // high watermark last seen (-1: unknown)
}

func newWorker(part int, e *env) *worker {
	w := &worker{part: part, env: e}
	for _, t := range []struct {
		name string
		role event.Topic
	}{{e.opt.Topics.Messages, event.Messages}, {e.opt.Topics.Orders, event.Orders}} {
		ts := &topicState{name: t.name, role: t.role}
		ts.next.Store(-1)
		ts.hwm.Store(-1)
		w.topics = append(w.topics, ts)
	}
	return w
}

func (w *worker) topic(name string) *topicState {
	for _, t := range w.topics {
		if t.name == name {
			return t
		}
	}
	return nil
}

// addTo sums the partition into a scrape's totals, if it is exported.
func (w *worker) addTo(tot *windows.Totals) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.p != nil {
		tot.Add(w.p)
	}
}

// since hands over the partition's since times of families (windows.Partition.Since), and
// reports whether the partition is exported.
func (w *worker) since(fn func(kpi.ID, int64)) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.p == nil {
		return false
	}
	w.p.Since(fn)
	return true
}

// waiting appends the partition's open episodes of shop to out, and reports whether the
// partition knows shop.
func (w *worker) waiting(a int64, shop string, minWait int64, out *[]windows.Waiting) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.p == nil {
		return false
	}
	w.p.Waiting(a, shop, minWait, func(e windows.Waiting) { *out = append(*out, e) })
	return shop == "" || w.p.KnowsShop(shop)
}

// export makes p the exported mirror, or unexports the partition (p nil).
func (w *worker) export(p *windows.Partition) {
	w.mu.Lock()
	w.p = p
	w.mu.Unlock()
	w.loaded.Store(p != nil)
	if p == nil {
		return
	}
	for _, t := range w.topics {
		if o, ok := p.Offsets[t.name]; ok {
			t.next.Store(o)
		}
		w.updateLag(t)
	}
}

// committed gives the next offsets committed to Redis, per topic.
func (w *worker) committed() map[string]int64 {
	out := map[string]int64{}
	for _, t := range w.topics {
		if o := t.next.Load(); o >= 0 {
			out[t.name] = o
		}
	}
	return out
}

// noteHWM records a topic-partition's high watermark and updates its lag.
func (w *worker) noteHWM(topic string, hwm int64) {
	t := w.topic(topic)
	if t == nil {
		return
	}
	for {
		cur := t.hwm.Load()
		if hwm <= cur || t.hwm.CompareAndSwap(cur, hwm) {
			break
		}
	}
	w.updateLag(t)
}

func (w *worker) updateLag(t *topicState) {
	h, n := t.hwm.Load(), t.next.Load()
	if h < 0 || !w.loaded.Load() {
		return
	}
	w.env.m.lag.WithLabelValues(t.name, strconv.Itoa(w.part)).Set(float64(max(0, h-max(n, 0))))
}

// stop removes what the worker exported.
func (w *worker) stop() {
	w.export(nil)
	for _, t := range w.topics {
		w.env.m.lag.DeleteLabelValues(t.name, strconv.Itoa(w.part))
	}
	label := strconv.Itoa(w.part)
	w.env.m.missing.DeleteLabelValues(label)
	w.missing.Store(false)
	w.env.m.refused.DeletePartialMatch(prometheus.Labels{"partition": label})
	w.refused.Store(false)
	w.env.m.stalled.DeletePartialMatch(prometheus.Labels{"partition": label})
}

// run owns the partition for one generation, restarting its consumer from the state in
// Redis after any failure. A failure that persists ends in front of an operator: an ERROR
// and cskpi_partition_stalled (failures), or the refusal of the state (load).
func (w *worker) run(ctx context.Context, committed map[string]int64) {
	defer w.stop()
	log := w.env.opt.Logger
	backoff := newBackoff()
	for ctx.Err() == nil {
		err := w.consume(ctx, committed)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, windows.ErrFenced) {
			log.Warn("partition state moved on under us; reloading", "partition", w.part, "err", err)
			continue
		}
		w.failed(err)
		if !backoff.wait(ctx) {
			return
		}
	}
}

// stallAfter is how long a partition's consumer may keep failing at one stage before it
// counts as stalled: longer than a Redis failover or a broker restart takes.
const stallAfter = time.Minute

// streak is a run of consumer failures with no committed batch in between.
type streak struct {
	first, last  time.Time
	stalledStage string // the stage reported and exported as stalled, if any
}

// failed logs a consumer failure: the first of a streak as a warning, a streak that has
// lasted stallAfter as one ERROR per stage with cskpi_partition_stalled set, and the rest at
// debug level, so that a failure that repeats every few seconds for hours logs two lines,
// not thousands. A gap of stallAfter between failures ends a streak: the consumer ran.
func (w *worker) failed(err error) {
	log := w.env.opt.Logger
	stage := stageOf(err)
	now := time.Now()
	f := &w.fails
	switch {
	case f.first.IsZero() || now.Sub(f.last) > stallAfter:
		w.recovered()
		f.first = now
		log.Warn("partition consumer failed; retrying from the state in redis", "partition", w.part, "stage", stage, "err", err)
	case now.Sub(f.first) >= stallAfter && f.stalledStage != stage:
		label := strconv.Itoa(w.part)
		if f.stalledStage != "" {
			w.env.m.stalled.DeleteLabelValues(label, f.stalledStage)
		}
		f.stalledStage = stage
		w.env.m.stalled.WithLabelValues(label, stage).Set(1)
		log.Error("PARTITION STALLED: its consumer has failed for "+now.Sub(f.first).Round(time.Second).String()+
			" without committing a batch and retries every few seconds; its KPIs stop moving and its lag grows. "+stageAdvice(stage),
			"partition", w.part, "stage", stage, "err", err)
	default:
		log.Debug("partition consumer failed again", "partition", w.part, "stage", stage, "err", err)
	}
	f.last = now
}

// recovered ends a streak of failures: a batch committed.
func (w *worker) recovered() {
	f := &w.fails
	if f.stalledStage != "" {
		w.env.m.stalled.DeleteLabelValues(strconv.Itoa(w.part), f.stalledStage)
		w.env.opt.Logger.Info("partition consuming again", "partition", w.part, "stage", f.stalledStage,
			"stalled_for", time.Since(f.first).Round(time.Second))
	}
	*f = streak{}
}

// record is a fetched record with its decode result. detail is what a content reason
// finds at fault (event.Explain), for the dead-letter copy; it is read, off the worker's
// lock, only for records the decoder rejected.
type record struct {
	msg    kafka.Message
	ev     event.Event
	reason event.Reason
	detail string
}

// consume loads the partition from Redis, reads both topics from the offsets stored there,
// and applies batches until ctx ends or something fails.
func (w *worker) consume(ctx context.Context, committed map[string]int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.export(nil) // whatever an earlier attempt left is not what Redis holds
	p, err := w.load(ctx, committed)
	if err != nil || p == nil {
		return err
	}
	w.export(p)
	w.env.stream.Raise(max(p.Watermark(event.Messages), p.Watermark(event.Orders)))

	opt := w.env.opt
	limit := partitionRecords(opt, w.sharing)
	q := newQueue(limit)
	errCh := make(chan error, len(w.topics))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, t := range w.topics {
		start, ok := p.Offsets[t.name]
		if !ok {
			start = kafka.FirstOffset
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:   opt.Brokers,
			Topic:     t.name,
			Partition: w.part,
			Dialer:    opt.Dialer,
			MinBytes:  1,
			// The largest fetch response, not memory held: kafka-go reads the response one
			// record at a time off the connection. It must pass the largest record the
			// broker accepts, so that an oversize one reaches the dead-letter topic.
			MaxBytes: 4 << 20,
			MaxWait:  200 * time.Millisecond,
			// What the reader holds decoded ahead of the queue: a share of the partition's.
			QueueCapacity: readerQueue(limit),
			// kafka-go handles two offset faults silently (docs/RELIABILITY.md): records
			// deleted by retention before they were applied, which it skips, and a stored
			// offset beyond the log end, at which it retries forever.
			ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
				if err := w.readerProblem(t.name, format, args); err != nil {
					select {
					case errCh <- err:
					default:
					}
				}
			}),
		})
		if err := r.SetOffset(start); err != nil {
			r.Close()
			return atStage(stageFetch, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			var dec event.Decoder
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errCh <- atStage(stageFetch, fmt.Errorf("fetch %s/%d: %w", t.name, w.part, err))
					}
					return
				}
				rec := record{msg: m}
				rec.ev, rec.reason = dec.Decode(t.role, m.Value)
				if rec.reason != event.OK && opt.Topics.Deadletter != "" {
					rec.detail = event.Explain(t.role, m.Value).String()
				}
				if !q.push(ctx, rec) {
					return
				}
			}
		}()
	}

	var dlq deadLetters
	if opt.Topics.Deadletter != "" {
		wr := &kafka.Writer{
			Addr:                   kafka.TCP(opt.Brokers...),
			Topic:                  opt.Topics.Deadletter,
			Balancer:               &kafka.Murmur2Balancer{},
			RequiredAcks:           kafka.RequireAll,
			Transport:              opt.Transport,
			AllowAutoTopicCreation: true,
			BatchTimeout:           time.Millisecond,
		}
		defer wr.Close()
		dlq = wr
	}

	batch := make([]record, 0, limit)
	// An idle partition still lets go of what its windows no longer hold.
	idle := time.NewTicker(idleExpiry)
	defer idle.Stop()
	for {
		batch = q.take(batch, limit)
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case err := <-errCh:
				return err
			case <-q.ready:
				continue
			case <-idle.C:
				if err := w.expireIdle(ctx); err != nil {
					return err
				}
				continue
			}
		}
		if err := w.apply(ctx, batch, dlq); err != nil {
			return err
		}
	}
}

// MinPartitionRecords is the fewest records a partition may queue however many an
// instance owns: below a few hundred, fixed costs per batch (a Redis script, expiry)
// dominate.
const MinPartitionRecords = 256

// partitionRecords is how many records one of sharing partitions may hold in its queue,
// and so the largest batch it applies.
func partitionRecords(opt *Options, sharing int) int {
	return min(opt.BatchSize, max(MinPartitionRecords, opt.InFlight/max(1, sharing)))
}

// readerQueue is a topic reader's queue for a partition queue of limit records: an eighth,
// so that most of what a partition holds is decoded, between 16 and kafka-go's default.
func readerQueue(limit int) int { return min(1024, max(16, limit/8)) }

// readerProblem takes what a kafka-go reader of topic logs as an error. Records skipped
// because retention deleted them are lost to the KPIs: counted and logged as an ERROR. A
// stored offset beyond the log end (a topic deleted and recreated, records lost on the
// broker) is returned as a fetch failure, which ends in PARTITION STALLED instead of a
// silent retry forever. The rest (connection errors the reader retries) is debug.
func (w *worker) readerProblem(topic, format string, args []any) error {
	log := w.env.opt.Logger
	switch {
	case strings.Contains(format, "skipping from offset") && len(args) == 5:
		n, _ := args[4].(int64)
		w.env.m.skipped.WithLabelValues(topic).Add(float64(n))
		log.Error("RECORDS LOST: the topic no longer holds records this partition had not applied (retention deleted them); "+
			"the KPIs miss them. Give the topics more retention than the consumer can fall behind (docs/RELIABILITY.md), "+
			"or rebuild from an older copy of the topic.",
			"partition", w.part, "topic", topic, "from_offset", args[2], "to_offset", args[3], "records", n)
		return nil
	case strings.Contains(format, "passed the last offset") && len(args) == 3:
		return atStage(stageFetch, fmt.Errorf("%s/%d: the stored next offset %v is beyond the end of the partition's log: "+
			"was the topic deleted and recreated, or were records lost on the broker?", topic, w.part, args[2]))
	}
	log.Debug("kafka reader", "partition", w.part, "topic", topic, "msg", fmt.Sprintf(format, args...))
	return nil
}

// load reads the partition's state from Redis. Two kinds of state are held unconsumed, and
// nothing is written to them, until an operator acts (load returns nil, nil once ctx
// ends): state this build cannot read (refuse), and a partition with committed Kafka
// offsets but no state, until the state is restored (or rebuilt with
// --state.rebuild-missing).
func (w *worker) load(ctx context.Context, committed map[string]int64) (*windows.Partition, error) {
	opt := w.env.opt
	p := windows.NewPartition(w.part, opt.Windows)
	label := strconv.Itoa(w.part)
	for {
		err := opt.Store.Load(ctx, p)
		var se *windows.StateError
		if errors.As(err, &se) {
			w.refuse(se)
			if !sleepCtx(ctx, refusedRecheck) {
				return nil, nil
			}
			continue
		}
		if err != nil {
			return nil, atStage(stageLoad, fmt.Errorf("loading state: %w", err))
		}
		w.readable()
		if p.Seq > 0 {
			break
		}
		// Kafka's committed offsets are copied from Redis, so offsets without state mean
		// the state was lost. The generation's offsets may predate the loss: ask now.
		now, err := committedOffsets(ctx, opt, w.part, committed)
		if err != nil {
			return nil, atStage(stageLoad, fmt.Errorf("fetching committed offsets: %w", err))
		}
		topic, off, lost := stateLost(now)
		if !lost {
			break
		}
		if opt.RebuildMissing {
			opt.Logger.Warn("rebuilding missing partition state from the earliest retained offset", "partition", w.part)
			break
		}
		w.env.m.missing.WithLabelValues(label).Set(1)
		if !w.missing.Swap(true) {
			opt.Logger.Error("REDIS STATE MISSING: partition has committed Kafka offsets but no state in Redis; "+
				"its KPIs would be wrong, so it is not consumed. Restore Redis from its AOF/RDB backup, or "+
				"restart with --state.rebuild-missing to replay it from the earliest retained offset "+
				"(exact only if Kafka still retains 28 days + 48 hours of both topics).",
				"partition", w.part, "topic", topic, "committed_offset", off)
		}
		if !sleepCtx(ctx, 5*time.Second) { // re-check: the operator may restore Redis
			return nil, nil
		}
	}
	if w.missing.Swap(false) {
		w.env.m.missing.WithLabelValues(label).Set(0)
	}
	return p, nil
}

// refusedRecheck is how often a refused partition's state is read again: an operator may
// restore it, or a rolling update's newer build has it by then anyway.
const refusedRecheck = 30 * time.Second

// refuse holds a partition whose stored state this build cannot read: not ready,
// cskpi_partition_state_refused{partition,reason} 1, and one ERROR per cause saying what to
// do (not one per re-check).
func (w *worker) refuse(se *windows.StateError) {
	label := strconv.Itoa(w.part)
	w.refused.Store(true)
	cause := se.Reason + ": " + se.Detail
	if cause == w.refusal {
		return
	}
	w.env.m.refused.DeletePartialMatch(prometheus.Labels{"partition": label})
	w.env.m.refused.WithLabelValues(label, se.Reason).Set(1)
	w.refusal = cause
	advice := "The state does not decode. Restore Redis from its backup (docs/RELIABILITY.md), or rebuild the " +
		"partition from Kafka into a fresh key prefix and consumer group (docs/UPGRADING.md, \"Rebuilding from Kafka\")."
	if se.Reason == windows.RefusedNewer {
		advice = "A newer cskpi build wrote it: run that build or a later one. During a rolling update this clears " +
			"when the partition moves to an instance of the new build; after a downgrade, go back to the newer " +
			"build (docs/UPGRADING.md)."
	}
	w.env.opt.Logger.Error("STORED STATE REFUSED: partition holds state this build cannot read; it is not consumed "+
		"and nothing is written to it, so nothing is lost. "+advice,
		"partition", w.part, "reason", se.Reason, "detail", se.Detail, "build", version.Version, "revision", version.GetRevision())
}

// readable ends a refusal: the state reads now.
func (w *worker) readable() {
	if !w.refused.Swap(false) {
		return
	}
	w.env.m.refused.DeletePartialMatch(prometheus.Labels{"partition": strconv.Itoa(w.part)})
	w.env.opt.Logger.Info("stored state readable again; consuming the partition", "partition", w.part)
	w.refusal = ""
}

// committedOffsets asks the group coordinator for the partition's committed offsets.
func committedOffsets(ctx context.Context, opt *Options, part int, topics map[string]int64) (map[string]int64, error) {
	req := &kafka.OffsetFetchRequest{GroupID: opt.Group, Topics: map[string][]int{}}
	for t := range topics {
		req.Topics[t] = []int{part}
	}
	client := &kafka.Client{Addr: kafka.TCP(opt.Brokers...), Transport: opt.Transport, Timeout: 10 * time.Second}
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

type outcomeKey struct {
	topic   string
	outcome windows.Outcome
	reason  event.Reason
}

// apply gives each record of batch its outcome, copies the rejected ones to the dead-letter
// topic, and commits the batch's change set with its next offsets. The lock is held while
// the batch is applied and its change set built, and again while the commit is recorded;
// the dead-letter write and the Redis commit run without it. A scrape in between sees the
// batch; if the commit then fails, the partition is unexported until it is reloaded.
func (w *worker) apply(ctx context.Context, batch []record, dlq deadLetters) error {
	start := time.Now()
	counts := map[outcomeKey]int{}
	next := map[string]int64{}
	var dead []deadRecord
	oldest := batch[0].msg.Time

	w.mu.Lock()
	if w.p == nil {
		w.mu.Unlock()
		return errors.New("partition not loaded")
	}
	p := w.p
	stream, has := w.env.stream.Get()
	clk := p.Clock(stream, has, w.env.opt.Now().UnixNano())
	for i := range batch {
		r := &batch[i]
		outcome, reason := windows.Rejected, r.reason
		if reason == event.OK {
			outcome, reason = p.Admit(&r.ev, &clk)
		}
		counts[outcomeKey{r.msg.Topic, outcome, reason}]++
		next[r.msg.Topic] = r.msg.Offset + 1
		if r.msg.Time.Before(oldest) {
			oldest = r.msg.Time
		}
		if outcome == windows.Rejected && dlq != nil {
			dead = append(dead, deadRecord{r, reason})
		}
	}
	w.maybeExpire(p, clk)
	cs := p.Changes(next)
	w.mu.Unlock()
	tAdmit := time.Now()

	for _, r := range batch {
		if r.msg.HighWaterMark > 0 {
			w.noteHWM(r.msg.Topic, r.msg.HighWaterMark)
		}
	}
	// Dead letters go out before the batch commits: a crash in between copies them again
	// (at least once) but never loses one.
	if len(dead) > 0 {
		msgs := make([]kafka.Message, len(dead))
		for i, d := range dead {
			msgs[i] = deadLetter(d.r, d.reason)
		}
		if err := dlq.WriteMessages(ctx, msgs...); err != nil {
			w.export(nil)
			return atStage(stageDeadletter, fmt.Errorf("dead-letter topic: %w", err))
		}
	}
	tDLQ := time.Now()
	if err := w.commit(ctx, p, cs); err != nil {
		return err
	}
	w.env.opt.Logger.Debug("batch", "partition", w.part, "records", len(batch), "admit", tAdmit.Sub(start),
		"deadletter", tDLQ.Sub(tAdmit), "commit", time.Since(tDLQ))
	// Stream time moves only with what Redis holds.
	if clk.HasTime {
		w.env.stream.Raise(clk.Stream)
	}
	m := w.env.m
	for c, n := range counts {
		m.events.WithLabelValues(c.topic, c.outcome.String()).Add(float64(n))
		if c.outcome == windows.Applied {
			w.env.applied.Add(int64(n))
		}
		if c.outcome == windows.Rejected {
			m.rejected.WithLabelValues(c.topic, string(c.reason)).Add(float64(n))
		}
	}
	m.applyTime.Observe(time.Since(start).Seconds())
	m.batchSize.Observe(float64(len(batch)))
	// Gauges are computed from the mirror at scrape time: from here on, every scrape
	// shows the batch.
	m.freshness.Observe(max(0, w.env.opt.Now().Sub(oldest).Seconds()))
	return nil
}

// commit stores cs and tells the mirror. On failure the mirror holds changes Redis does
// not: it is unexported until it is reloaded, rather than show numbers never committed.
func (w *worker) commit(ctx context.Context, p *windows.Partition, cs *windows.ChangeSet) error {
	if err := w.env.opt.Store.Commit(ctx, cs); err != nil {
		w.export(nil)
		if errors.Is(err, windows.ErrFenced) {
			return err
		}
		return atStage(stageCommit, err)
	}
	if !w.fails.first.IsZero() {
		w.recovered()
	}
	w.mu.Lock()
	p.Committed(cs)
	w.mu.Unlock()
	for _, t := range w.topics {
		if o, ok := p.Offsets[t.name]; ok {
			t.next.Store(o)
			w.updateLag(t)
		}
	}
	return nil
}

// expiry remembers when a partition's expiry last ran.
type expiry struct {
	minutes [4]int64
	at      time.Time
}

// maybeExpire runs the partition's expiry when the as-of minute or a stream-time minute
// moved, at most once a second: it walks every conversation, and in a replay stream time
// crosses minutes in nearly every batch. Running it later only keeps state longer. The
// caller holds the lock.
func (w *worker) maybeExpire(p *windows.Partition, clk windows.Clock) {
	a := w.env.asOf()
	wmM, wmO := p.Watermark(event.Messages), p.Watermark(event.Orders)
	now := [4]int64{windows.MinuteOf(a), windows.MinuteOf(wmM), windows.MinuteOf(wmO), windows.MinuteOf(clk.Stream)}
	if now == w.expiry.minutes || time.Since(w.expiry.at) < time.Second {
		p.ExpireIDs()
		return
	}
	w.expiry.minutes, w.expiry.at = now, time.Now()
	p.Expire(a, clk)
}

// idleExpiry is how often a partition without records runs its expiry.
const idleExpiry = 2 * time.Second

// expireIdle runs expiry on a partition that has no records to apply and commits what it
// dropped, with the offsets unchanged.
func (w *worker) expireIdle(ctx context.Context) error {
	w.mu.Lock()
	p := w.p
	if p == nil {
		w.mu.Unlock()
		return errors.New("partition not loaded")
	}
	stream, has := w.env.stream.Get()
	w.maybeExpire(p, p.Clock(stream, has, w.env.opt.Now().UnixNano()))
	if !p.Changed() {
		w.mu.Unlock()
		return nil
	}
	cs := p.Changes(maps.Clone(p.Offsets))
	w.mu.Unlock()
	return w.commit(ctx, p, cs)
}

// deadRecord is a rejected record of a batch and its reason.
type deadRecord struct {
	r      *record
	reason event.Reason
}

// deadLetter is the dead-letter copy of a rejected record, with its reason and, in
// cskpi-reject-detail, the field and value at fault (`missing_field: agent_id`, `too_old:
// ts 2026-10-01T02:00:00Z (…)`: event.Fault). An oversize record is copied truncated to the
// size limit, with its original size in a header: a full copy plus headers could exceed the
// broker's own limit and stop the partition for good.
func deadLetter(r *record, reason event.Reason) kafka.Message {
	value := r.msg.Value
	detail := r.detail
	if reason != r.reason { // a time reason, found by the partition's rules
		detail = r.ev.TimeFault(reason).String()
	}
	headers := []kafka.Header{
		{Key: "cskpi-reject-reason", Value: []byte(reason)},
		{Key: "cskpi-reject-detail", Value: []byte(detail)},
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
