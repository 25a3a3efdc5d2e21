package produce

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
)

// publisher wraps the kafka.Writer all entry points share.
type publisher struct {
	w      *kafka.Writer
	topics [2]string // by event.Topic
	chunk  int
	n      int64 // records acknowledged
}

func newPublisher(opt Options) (*publisher, error) {
	if len(opt.Brokers) == 0 {
		return nil, errors.New("produce: no brokers")
	}
	bs := opt.BatchSize
	if bs <= 0 {
		bs = DefaultBatchSize
	}
	p := &publisher{
		topics: [2]string{DefaultMessagesTopic, DefaultOrdersTopic},
		chunk:  bs * chunkBatches,
	}
	if opt.Topics.Messages != "" {
		p.topics[event.Messages] = opt.Topics.Messages
	}
	if opt.Topics.Orders != "" {
		p.topics[event.Orders] = opt.Topics.Orders
	}
	p.w = &kafka.Writer{
		Addr: kafka.TCP(opt.Brokers...),
		// CONTRACT §1: murmur2 of "<shop_id>/<buyer_id>", so that with equal partition counts a
		// conversation's messages and orders share a partition number (and the Java clients'
		// partitioning agrees). Consistent: a record without a key still lands predictably.
		Balancer:     &kafka.Murmur2Balancer{Consistent: true},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    bs,
		BatchTimeout: batchTimeout,
	}
	if opt.Transport != nil { // a nil *Transport in the interface would not mean "default"
		p.w.Transport = opt.Transport
	}
	return p, nil
}

// format reads event files naming the topics this publisher publishes to: a kcat envelope
// of the messages topic is republished to the messages topic.
func (p *publisher) format() jsonl.Format {
	return jsonl.Format{Messages: p.topics[event.Messages], Orders: p.topics[event.Orders]}
}

func (p *publisher) message(r jsonl.Record) kafka.Message {
	return kafka.Message{Topic: p.topics[r.Topic], Key: r.Key, Value: r.Value}
}

// write publishes msgs and waits for every acknowledgement. kafka-go keeps each partition's
// batches in order, and calls are sequential, so the file's order per partition survives.
func (p *publisher) write(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	err := p.w.WriteMessages(ctx, msgs...)
	if err == nil {
		p.n += int64(len(msgs))
		return nil
	}
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		p.n += int64(len(msgs) - werrs.Count())
		for _, e := range werrs {
			if e != nil {
				return fmt.Errorf("produce: %d of %d records failed: %w", werrs.Count(), len(msgs), e)
			}
		}
	}
	return fmt.Errorf("produce: %w", err)
}

type chunk struct {
	msgs     []kafka.Message
	consumed int64 // input bytes consumed up to the chunk's last record, for progress
}

// pipeline publishes the records read emits, in order, parsing the next chunk while the
// current one is acknowledged.
func (p *publisher) pipeline(ctx context.Context, prog *progress, read func(ctx context.Context, emit func(jsonl.Record, int64) error) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunk, 1)
	var readErr error
	go func() {
		defer close(chunks)
		cur := make([]kafka.Message, 0, p.chunk)
		var consumed int64
		send := func() error {
			select {
			case chunks <- chunk{cur, consumed}:
				cur = make([]kafka.Message, 0, p.chunk)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		readErr = read(ctx, func(r jsonl.Record, at int64) error {
			cur = append(cur, p.message(r))
			consumed = at
			if len(cur) == p.chunk {
				return send()
			}
			return nil
		})
		if readErr == nil && len(cur) > 0 {
			readErr = send()
		}
	}()
	for c := range chunks {
		if err := p.write(ctx, c.msgs); err != nil {
			cancel()
			for range chunks { // let the reader see the cancellation and stop
			}
			return err
		}
		prog.set(c.consumed, p.n)
	}
	return readErr
}
