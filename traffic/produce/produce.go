package produce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/segmentio/kafka-go"
	"golang.org/x/term"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
)

// Topics names the two input topics; empty names take CONTRACT §1's defaults.
type Topics struct{ Messages, Orders string }

// Options say where and how to publish.
type Options struct {
	Brokers   []string
	Topics    Topics
	Transport *kafka.Transport // TLS, SASL, timeouts; nil = kafka.DefaultTransport
	Progress  io.Writer        // a terminal gets a progress bar, anything else one final line; nil = silent
	BatchSize int              // records per produce request and partition; default 1000
}

const (
	DefaultMessagesTopic = jsonl.DefaultMessagesTopic
	DefaultOrdersTopic   = jsonl.DefaultOrdersTopic
	DefaultBatchSize     = 1000

	// batchTimeout bounds how long a partly filled batch waits. Writes here are synchronous
	// and always end with partial batches, so every call pays it once; kafka-go's 1 s default
	// would dominate small files and make loadgen bursty.
	batchTimeout = 2 * time.Millisecond
	// chunkBatches is how many batches' worth of records one WriteMessages call carries: large
	// enough that every partition gets full batches in flight at once, small enough that the
	// next chunk is parsed while this one is acknowledged.
	chunkBatches = 8
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

// File publishes an event file (jsonl.Format.Parse routes and keys each line) in file order,
// and returns the number of records acknowledged by all in-sync replicas.
func File(ctx context.Context, path string, opt Options) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var size int64 = -1
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	p, err := newPublisher(opt)
	if err != nil {
		return 0, err
	}
	defer p.w.Close()
	prog := newProgress(opt.Progress, size, true)
	cr := &countingReader{r: f}
	err = p.pipeline(ctx, prog, func(ctx context.Context, emit func(jsonl.Record, int64) error) error {
		return p.format().Read(cr, func(r jsonl.Record) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			// cr.n runs ahead by at most the scanner's buffer: close enough for a bar.
			return emit(r, cr.n)
		})
	})
	if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	}
	prog.finish(p.n, err)
	return p.n, err
}

// Lines publishes lines in jsonl format, in order, like File.
func Lines(ctx context.Context, lines [][]byte, opt Options) (int64, error) {
	p, err := newPublisher(opt)
	if err != nil {
		return 0, err
	}
	defer p.w.Close()
	var total int64
	for _, l := range lines {
		total += int64(len(l)) + 1
	}
	prog := newProgress(opt.Progress, total, true)
	err = p.pipeline(ctx, prog, func(ctx context.Context, emit func(jsonl.Record, int64) error) error {
		var at int64
		for i, l := range lines {
			at += int64(len(l)) + 1
			if len(l) == 0 {
				continue
			}
			r, err := p.format().Parse(l)
			if err != nil {
				return fmt.Errorf("line %d: %w", i+1, err)
			}
			if err := emit(r, at); err != nil {
				return err
			}
		}
		return nil
	})
	prog.finish(p.n, err)
	return p.n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// progress reports to an operator. The bar is github.com/schollz/progressbar/v3: it sizes
// itself to the terminal, shows bytes with rate and ETA, throttles redraws, and draws on any
// writer we hand it; its dependencies are small (x/term, which we need anyway, and two tiny
// text-width helpers). Writing our own would mean redoing that terminal arithmetic.
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	start time.Time
	bytes bool
}

// IsTerminal says whether w is a terminal, where Options.Progress draws a bar; a caller
// that wants only the bar, not the summary line elsewhere, passes Progress on a terminal only.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress shows a bar on a terminal (max < 0: a spinner) and nothing else until finish.
func newProgress(w io.Writer, max int64, bytes bool) *progress {
	p := &progress{w: w, start: time.Now(), bytes: bytes}
	if !IsTerminal(w) {
		return p
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("producing"),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionSpinnerType(14),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"))
	}
	if max < 0 { // "1462" rather than "1462/-" for a count without an end
		opts = append(opts, progressbar.OptionShowTotalBytes(false))
	}
	p.bar = progressbar.NewOptions64(max, opts...)
	return p
}

// set moves the bar to v (bytes consumed, or records when the bar counts records).
func (p *progress) set(v, records int64) {
	if p == nil || p.bar == nil {
		return
	}
	if !p.bytes {
		v = records
	}
	_ = p.bar.Set64(v)
}

// finish closes the bar and prints the summary line; a partial count is printed on error too,
// since the caller reports the error but not how far it got.
func (p *progress) finish(n int64, err error) {
	if p == nil || p.w == nil {
		return
	}
	if p.bar != nil {
		if err == nil {
			_ = p.bar.Finish()
		}
		fmt.Fprintln(p.w)
	}
	secs := time.Since(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(n) / secs
	}
	fmt.Fprintf(p.w, "produced %d records in %.1fs (%.0f records/s)\n", n, secs, rate)
}
