package produce

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/segmentio/kafka-go"

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
