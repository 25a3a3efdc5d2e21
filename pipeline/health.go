package pipeline

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// pollEvery is the health poller's period: the stream time and Redis every round, the
// brokers and the claims every fourth, the partition count every twentieth.
const pollEvery = 250 * time.Millisecond

// brokers is what the health poller asks Kafka: a *kafka.Client, a fake in tests.
type brokers interface {
	ListOffsets(ctx context.Context, req *kafka.ListOffsetsRequest) (*kafka.ListOffsetsResponse, error)
	Metadata(ctx context.Context, req *kafka.MetadataRequest) (*kafka.MetadataResponse, error)
}

// health keeps what the instance knows of its surroundings current: whether Redis and the
// brokers answer, the stream time other instances committed, the owned partitions' high
// watermarks (and so their lag), and the input topics' partition count. Each round that
// Redis answers it also ticks the member's claims. One goroutine (run) polls; the others
// read atomics.
type health struct {
	store   Store
	brokers brokers
	addrs   []string // the bootstrap brokers, for the log
	topic   string   // the messages topic, whose partition count is the group's
	log     *slog.Logger
	stream  *streamClock
	reg     *registry
	// claims renews this instance's partition claims, given the partition count
	// (member.claim); it runs on the poller's goroutine.
	claims func(ctx context.Context, partitions int)

	redis, kafka reachability
	partitions   atomic.Int64 // partition numbers of the input topics, 0 until known
}

func newHealth(opt *Options, m *metrics, stream *streamClock, reg *registry, claims func(context.Context, int)) *health {
	h := &health{store: opt.Store, addrs: opt.Brokers, topic: opt.Topics.Messages, log: opt.Logger,
		brokers: &kafka.Client{Addr: kafka.TCP(opt.Brokers...), Transport: opt.Transport, Timeout: 5 * time.Second},
		stream:  stream, reg: reg, claims: claims}
	h.redis.gauge, h.kafka.gauge = m.redisUp, m.kafkaUp
	return h
}

// reachability is whether a dependency answered its last check.
type reachability struct {
	up atomic.Bool
	// checked says the first check ran, so that its result is logged whatever it is (an
	// outage from the start is an ERROR too).
	checked atomic.Bool
	gauge   prometheus.Gauge
}

// set records a check's result and reports whether it is worth a log line: the first
// result, and every change.
func (r *reachability) set(err error) bool {
	up := err == nil
	// Swap first: after an || it would not run on the first change, and the next check
	// would log the same state again.
	first := !r.checked.Swap(true)
	changed := up != r.up.Load() || first
	r.up.Store(up)
	if up {
		r.gauge.Set(1)
	} else {
		r.gauge.Set(0)
	}
	return changed
}

func (h *health) partitionCount() float64 { return float64(h.partitions.Load()) }

// run polls until ctx is done.
func (h *health) run(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for tick := 0; h.poll(ctx, tick); tick++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll is one round; false when ctx ended during it.
func (h *health) poll(ctx context.Context, tick int) bool {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// Reading the stream time is the Redis health check too: one round trip, not two.
	ts, ok, err := h.store.StreamTime(pctx)
	if err == nil && ok {
		h.stream.Raise(ts)
	}
	if ctx.Err() != nil {
		return false
	}
	if h.redis.set(err) {
		if err == nil {
			h.log.Info("redis reachable")
		} else {
			h.log.Error("redis unreachable", "err", err)
		}
	}
	if tick%4 == 0 {
		if !h.pollOffsets(pctx) {
			// Nothing owned: the metadata request tells whether the brokers answer.
			h.setKafkaUp(h.pollPartitions(pctx))
		} else if tick%20 == 0 || h.partitions.Load() == 0 {
			_ = h.pollPartitions(pctx)
		}
		if err == nil {
			h.claims(pctx, int(h.partitions.Load()))
		}
	}
	return true
}

// pollOffsets asks the brokers for the owned partitions' high watermarks, for the lag, and
// reports whether it owned any to ask for.
func (h *health) pollOffsets(ctx context.Context) bool {
	workers := map[int]*worker{}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, w := range h.reg.list() {
		workers[w.part] = w
		for _, t := range w.topics {
			req.Topics[t.name] = append(req.Topics[t.name], kafka.LastOffsetOf(w.part))
		}
	}
	if len(req.Topics) == 0 {
		return false
	}
	resp, err := h.brokers.ListOffsets(ctx, req)
	h.setKafkaUp(err)
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

// pollPartitions learns the input topics' partition count (the group's whole work).
func (h *health) pollPartitions(ctx context.Context) error {
	resp, err := h.brokers.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{h.topic}})
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if t.Name == h.topic && t.Error == nil {
			h.partitions.Store(int64(len(t.Partitions)))
		}
	}
	return nil
}

func (h *health) setKafkaUp(err error) {
	if h.kafka.set(err) {
		if err == nil {
			h.log.Info("kafka brokers reachable")
		} else {
			h.log.Error("kafka brokers unreachable; retrying", "brokers", h.addrs, "err", err)
		}
	}
}
