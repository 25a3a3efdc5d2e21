package produce

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/traffic/synth"
)

// LoadgenOptions shape live synthetic traffic.
type LoadgenOptions struct {
	Options
	Rate     float64          // records per second; default the generator's rate (50 for the default generator)
	Gen      *synth.Generator // nil = a warmed-up generator of Shops shops (SlowShops slow) seeded with Seed; see Loadgen
	Duration time.Duration    // 0 = until ctx is done
	Now      func() time.Time // the wall clock; nil = time.Now

	// The default generator's shops (default 20), slow shops (default 3), seed (0: from the
	// clock) and shop ids: ShopPrefix + "001", … (default "load-": shops of its own, not the
	// demo's "shop-001", …).
	Shops, SlowShops int
	Seed             int64
	ShopPrefix       string

	// Stats, when set, receives the generator's Stats at the end: with Duration, how many
	// buyers the run answered at its end (Answered) and left waiting (LeftWaiting).
	Stats *synth.Stats
}

const (
	loadgenShops      = 20
	loadgenSlowShops  = 3
	loadgenShopPrefix = "load-"
	// A fresh generator's first minutes hold only first lines (replies, later rounds and
	// orders come after); live traffic should look like a shop that was already open, so the
	// default generator starts this much earlier and its lines before now are dropped...
	loadgenWarmup = 10 * time.Minute
	// ...but never more than this many lines, which bounds the start-up cost at high rates:
	// the full ten minutes up to 50k records/s, generated in about 40 s here. A shorter
	// warm-up publishes below the rate asked for (the generator reached 61% of 50k
	// records/s after a 20-second warm-up, 96% after ten minutes).
	loadgenWarmupLines = 3e7
)

// Loadgen publishes the generator's lines as live traffic, until ctx is done or Duration has
// passed, and returns the number of records acknowledged. Stopping is not an error.
//
// A run with a Duration ends the generator there (synth.Generator.Until): at the end it
// answers the buyers its records left waiting (under an hour), so that no shop goes on
// paging for buyers nobody will answer. A run stopped by ctx leaves its open
// conversations as they are.
//
// Pacing is by event time, not by count: the generator's event clock (Generator.Now) is mapped
// onto the wall clock from the moment Loadgen starts, scaled by the generator's Rate over
// Rate, and each line is published when the wall clock reaches its mapped time.
//
// How ts tracks the wall clock: the default generator is synth.New with Rate = Rate and
// Start = Now() minus a warm-up (10 minutes of event time, at most a million lines), and the
// lines before Now() are generated and dropped, so publishing starts in the middle of ongoing
// chats at the full rate. From then on the scale is 1 and each record's ts is the wall clock
// of its publication: never ahead of it (a consumer rejects ts over 10 minutes ahead as
// future), behind it only by the publishing latency, but for the generator's order_created
// records filed after their payment, minutes to days late, as CONTRACT §1 allows. Records go out at Rate per second on
// average, with the generator's Poisson bursts. A caller's Gen is paced from where it stands,
// without warm-up; with Start = Now() and Rate = Rate it tracks the wall clock the same way,
// with another Rate its ts run faster or slower than the wall clock.
func Loadgen(ctx context.Context, opt LoadgenOptions) (int64, error) {
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	warmed := false
	gen := opt.Gen
	if gen == nil {
		rate := opt.Rate
		if rate <= 0 {
			rate = 50
		}
		t := now()
		warm := min(loadgenWarmup, time.Duration(loadgenWarmupLines/rate*float64(time.Second)))
		cfg := synth.Config{Seed: opt.Seed, Shops: opt.Shops, SlowShops: opt.SlowShops, Start: t.Add(-warm), Rate: rate,
			ShopPrefix: opt.ShopPrefix}
		if cfg.Seed == 0 {
			cfg.Seed = t.UnixNano()
		}
		if cfg.Shops <= 0 {
			cfg.Shops, cfg.SlowShops = loadgenShops, loadgenSlowShops
		}
		if cfg.ShopPrefix == "" {
			cfg.ShopPrefix = loadgenShopPrefix
		}
		if err := synth.CheckShopPrefix(cfg.ShopPrefix, cfg.Shops); err != nil {
			return 0, fmt.Errorf("shop prefix %w", err)
		}
		gen = synth.New(cfg)
		// Until the generator has caught up with the wall clock, which moves on while it runs.
		for gen.Skip(now()) {
		}
		warmed = true
	}
	if opt.Stats != nil {
		defer func() { *opt.Stats = gen.Stats() }()
	}
	cfg := gen.Config()
	rate := opt.Rate
	if rate <= 0 {
		rate = cfg.Rate
	}
	scale := cfg.Rate / rate // wall seconds per event second
	wall0 := now()
	ev0 := gen.Now().UnixNano()
	if warmed {
		ev0 = wall0.UnixNano() // the warm-up ran up to the wall clock: keep the two equal
	}
	due := func(ts int64) time.Time { return wall0.Add(time.Duration(float64(ts-ev0) * scale)) }
	if opt.Duration > 0 {
		// The generator ends there, with its closing replies at that very time.
		gen.Until(time.Unix(0, ev0+int64(float64(opt.Duration)/scale)))
	}

	p, err := newPublisher(opt.Options)
	if err != nil {
		return 0, err
	}
	defer p.w.Close()
	prog := newProgress(opt.Progress, -1, false)

	// Generating and writing overlap: one goroutine writes (in order, so each partition's
	// order survives) while this one generates the next batch; one process then keeps up
	// with tens of thousands of records a second.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []kafka.Message, 2)
	var werr error
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		for b := range batches {
			if werr != nil {
				continue
			}
			if werr = p.write(ctx, b); werr != nil {
				cancel()
			}
			prog.set(0, p.n)
		}
	}()
	finish := func(err error) (int64, error) {
		close(batches)
		<-wdone
		switch {
		case ctx.Err() != nil:
			err = nil // cancelled: the normal way to stop
		case werr != nil:
			err = werr
		}
		prog.finish(p.n, err)
		return p.n, err
	}

	batch := make([]kafka.Message, 0, p.chunk)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		select {
		case batches <- batch:
		case <-lctx.Done():
			return nil
		}
		batch = make([]kafka.Message, 0, p.chunk)
		return nil
	}
	var timer *time.Timer
	var dec event.Decoder
	for lctx.Err() == nil {
		line := gen.Next()
		if line == nil { // the generator ended at Until
			return finish(flush())
		}
		at := due(gen.Now().UnixNano())
		if wait := at.Sub(now()); wait > 0 {
			// Everything due is out before sleeping; while a write waits for acks, lines
			// fall due and the next batch grows, so high rates batch themselves.
			if err := flush(); err != nil {
				return finish(err)
			}
			if wait = at.Sub(now()); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
					defer timer.Stop()
				} else {
					timer.Reset(wait)
				}
				select {
				case <-lctx.Done():
					return finish(nil)
				case <-timer.C:
				}
			}
		}
		r, ok := generatedRecord(&dec, line)
		if !ok {
			var err error
			if r, err = jsonl.Parse(line); err != nil {
				return finish(err) // the generator's own line: a bug, not an input error
			}
		}
		batch = append(batch, p.message(r))
		if len(batch) >= p.chunk {
			if err := flush(); err != nil {
				return finish(err)
			}
		}
	}
	return finish(nil)
}

// generatedRecord routes a generator line without parsing it twice: the generator writes
// "topic" first, and a line that is a valid event is keyed by its shop and buyer, as
// jsonl.Parse would key it. Anything else (the raw_b64 lines that carry broken records)
// reports false and goes through jsonl.Parse.
func generatedRecord(dec *event.Decoder, line []byte) (jsonl.Record, bool) {
	const msgs, orders = `{"topic":"messages",`, `{"topic":"orders",`
	var t event.Topic
	switch {
	case bytes.HasPrefix(line, []byte(msgs)):
		t = event.Messages
	case bytes.HasPrefix(line, []byte(orders)):
		t = event.Orders
	default:
		return jsonl.Record{}, false
	}
	if bytes.Contains(line, []byte(`"raw_b64"`)) || bytes.Contains(line, []byte(`"key"`)) {
		return jsonl.Record{}, false
	}
	e, r := dec.Decode(t, line)
	if r != event.OK {
		return jsonl.Record{}, false
	}
	return jsonl.Record{Topic: t, Key: []byte(e.Conversation()), Value: line}, true
}
