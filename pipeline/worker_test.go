package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
)

type fakeDLQ struct{ msgs []kafka.Message }

func (d *fakeDLQ) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	d.msgs = append(d.msgs, msgs...)
	return nil
}

var testBase = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

// testEnv is what a service's workers share, with the event clock and a log that is
// discarded.
func testEnv(t *testing.T, store Store) (*env, *prometheus.Registry) {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	opt := &Options{
		Topics:     Topics{Messages: "m", Orders: "o", Deadletter: "dl"},
		Store:      store,
		Windows:    windows.Config{Location: loc, Thresholds: []int64{15000, 180000}},
		EventClock: true,
		Now:        func() time.Time { return testBase.Add(time.Hour) },
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	reg := prometheus.NewRegistry()
	m := newMetrics(reg, []string{"m", "o"}, func() float64 { return 0 }, func() float64 { return 0 })
	clock := &streamClock{gauge: m.streamTime}
	return &env{opt: opt, m: m, stream: clock, asOf: func() int64 { ts, _ := clock.Get(); return ts }}, reg
}

// testWorker is a worker of partition 0 over an empty mirror, with the event clock.
func testWorker(t *testing.T, store Store) (*worker, *prometheus.Registry) {
	t.Helper()
	e, reg := testEnv(t, store)
	w := newWorker(0, e)
	w.export(windows.NewPartition(0, e.opt.Windows))
	return w, reg
}

// records decodes lines as the readers do, at consecutive offsets of their topics.
func records(t *testing.T, lines ...string) []record {
	t.Helper()
	var out []record
	offsets := map[string]int64{}
	var dec event.Decoder
	for _, l := range lines {
		topic, role := "m", event.Messages
		if l[0] == 'o' {
			topic, role, l = "o", event.Orders, l[1:]
		}
		r := record{msg: kafka.Message{Topic: topic, Offset: offsets[topic], Value: []byte(l), Time: testBase}}
		offsets[topic]++
		r.ev, r.reason = dec.Decode(role, r.msg.Value)
		out = append(out, r)
	}
	return out
}

func buyerMsg(id string, d time.Duration) string {
	return fmt.Sprintf(`{"event_id":%q,"shop_id":"s1","buyer_id":"b1","sender":"buyer","ts":%q}`, id, testBase.Add(d).Format(time.RFC3339Nano))
}

func reply(id string, d time.Duration) string {
	return fmt.Sprintf(`{"event_id":%q,"shop_id":"s1","buyer_id":"b1","sender":"agent","agent_id":"a1","ts":%q}`, id, testBase.Add(d).Format(time.RFC3339Nano))
}

// series sums what a scrape would export of the worker.
func series(w *worker) map[string]float64 {
	ts, _ := w.env.stream.Get()
	tot := windows.NewTotals(w.env.opt.Windows, ts)
	w.addTo(tot)
	out := map[string]float64{}
	for _, s := range tot.Series() {
		out[s.Key()] = s.Value
	}
	return out
}

func TestWorkerAppliesCommitsAndDeadLetters(t *testing.T) {
	store := &fakeStore{}
	w, _ := testWorker(t, store)
	dlq := &fakeDLQ{}
	batch := records(t,
		buyerMsg("1", 0),
		buyerMsg("1", 0),   // a duplicate
		`{"event_id":"2"}`, // missing fields
		reply("3", 12*time.Second),
		`o{"event_id":"4","shop_id":"s1","buyer_id":"b1","type":"order_paid","order_id":"x","amount":"9.90","ts":"`+testBase.Add(time.Minute).Format(time.RFC3339)+`"}`,
	)
	if err := w.apply(context.Background(), batch, dlq); err != nil {
		t.Fatal(err)
	}
	if len(store.commits) != 1 {
		t.Fatalf("%d commits, want 1", len(store.commits))
	}
	meta := map[string]string{}
	for _, f := range store.commits[0].Meta {
		meta[f.Name] = string(f.Value)
	}
	if meta["off:m"] != "4" || meta["off:o"] != "1" || meta["seq"] != "1" {
		t.Errorf("committed meta %v, want off:m=4 off:o=1 seq=1", meta)
	}
	if got := w.committed(); got["m"] != 4 || got["o"] != 1 {
		t.Errorf("committed offsets %v", got)
	}
	if len(dlq.msgs) != 1 || string(dlq.msgs[0].Headers[0].Value) != string(event.MissingField) {
		t.Errorf("dead letters %v, want the record with missing fields", dlq.msgs)
	}
	for outcome, want := range map[string]float64{"applied": 2, "duplicate": 1, "rejected": 1} {
		if got := testutil.ToFloat64(w.env.m.events.WithLabelValues("m", outcome)); got != want {
			t.Errorf("events{topic=m,outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
	got := series(w)
	for k, want := range map[string]float64{
		kpi.Series{Name: kpi.BuyerMessages.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W15m, Scene: "presale"}}.Key():   1,
		kpi.Series{Name: kpi.ResponseTimeSum.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W15m, Scene: "presale"}}.Key(): 12,
		kpi.Series{Name: kpi.InquiriesGuided.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W24h}}.Key():                   1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}

// TestWorkerScrapeDoesNotWaitForCommit: while a batch's Redis commit is in flight, a scrape
// of the partition answers at once (it shows the batch).
func TestWorkerScrapeDoesNotWaitForCommit(t *testing.T) {
	store := &fakeStore{hold: true, entered: make(chan struct{}), release: make(chan struct{})}
	w, _ := testWorker(t, store)
	done := make(chan error, 1)
	go func() { done <- w.apply(context.Background(), records(t, buyerMsg("1", 0)), &fakeDLQ{}) }()
	<-store.entered
	w.env.stream.Raise(testBase.UnixNano())
	scraped := make(chan map[string]float64, 1)
	go func() { scraped <- series(w) }()
	select {
	case got := <-scraped:
		if k := (kpi.Series{Name: kpi.BuyerMessages.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W15m, Scene: "presale"}}).Key(); got[k] != 1 {
			t.Errorf("scrape during the commit: %s = %v, want 1", k, got[k])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a scrape waited for the Redis commit")
	}
	close(store.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWorkerFailedCommitUnexports: a batch Redis refused (fenced, or any error) leaves a
// mirror that Redis does not hold; it is not exported until the worker reloads.
func TestWorkerFailedCommitUnexports(t *testing.T) {
	for _, cause := range []error{windows.ErrFenced, errors.New("connection reset")} {
		t.Run(cause.Error(), func(t *testing.T) {
			store := &fakeStore{err: cause}
			w, reg := testWorker(t, store)
			err := w.apply(context.Background(), records(t, buyerMsg("1", 0)), &fakeDLQ{})
			if !errors.Is(err, cause) {
				t.Fatalf("apply: %v, want %v", err, cause)
			}
			if w.loaded.Load() || len(series(w)) != 0 {
				t.Error("a partition whose commit failed is still exported")
			}
			if n := testutil.CollectAndCount(reg, "cskpi_events_total"); n == 0 {
				t.Error("no outcome series")
			}
			if got := testutil.ToFloat64(w.env.m.events.WithLabelValues("m", "applied")); got != 0 {
				t.Errorf("applied = %v for a batch never committed", got)
			}
			if err := w.apply(context.Background(), records(t, buyerMsg("2", 0)), &fakeDLQ{}); err == nil {
				t.Error("an unexported partition applied a batch")
			}
		})
	}
}

// refusingStore refuses the partition's state while refusal is set, and then loads a
// partition that has state (Seq 3).
type refusingStore struct {
	fakeStore
	mu      sync.Mutex
	refusal error
	loads   int
}

func (s *refusingStore) Load(_ context.Context, p *windows.Partition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if s.refusal != nil {
		return s.refusal
	}
	p.Seq = 3
	return nil
}

func (s *refusingStore) set(err error) {
	s.mu.Lock()
	s.refusal = err
	s.mu.Unlock()
}

// TestWorkerHoldsRefusedState: state the build cannot read holds the partition (not
// exported, refused, the gauge set) with one ERROR however often it is re-read, and the
// partition is consumed once the state reads.
func TestWorkerHoldsRefusedState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &refusingStore{refusal: &windows.StateError{Partition: 0, Reason: windows.RefusedNewer, Detail: "stored layout 7"}}
		w, reg := testWorker(t, store)
		logs := &logRecords{}
		w.env.opt.Logger = slog.New(logs)
		w.export(nil)
		done := make(chan *windows.Partition)
		go func() {
			p, err := w.load(t.Context(), nil)
			if err != nil {
				t.Error(err)
			}
			done <- p
		}()
		time.Sleep(5 * refusedRecheck) // virtual time: five re-reads
		synctest.Wait()
		if !w.refused.Load() || w.loaded.Load() {
			t.Errorf("refused %v loaded %v, want a held partition", w.refused.Load(), w.loaded.Load())
		}
		if n := logs.count(slog.LevelError, "STORED STATE REFUSED"); n != 1 || store.loads < 5 {
			t.Errorf("%d ERROR lines over %d reads, want 1", n, store.loads)
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP cskpi_partition_state_refused 1 for a partition whose stored state this build cannot read (reason newer: written by a newer build; damaged: does not decode); it is held unconsumed and never written. See docs/UPGRADING.md.
# TYPE cskpi_partition_state_refused gauge
cskpi_partition_state_refused{partition="0",reason="newer"} 1
`), "cskpi_partition_state_refused"); err != nil {
			t.Error(err)
		}
		// Another cause is another line; the same again is not.
		store.set(&windows.StateError{Partition: 0, Reason: windows.RefusedDamaged, Detail: "bucket m|1 does not decode"})
		time.Sleep(3 * refusedRecheck)
		synctest.Wait()
		if n := logs.count(slog.LevelError, "STORED STATE REFUSED"); n != 2 {
			t.Errorf("%d ERROR lines after a second cause, want 2", n)
		}
		if got := testutil.ToFloat64(w.env.m.refused.WithLabelValues("0", "damaged")); got != 1 {
			t.Errorf("refused{reason=damaged} = %v", got)
		}
		store.set(nil)
		time.Sleep(refusedRecheck)
		p := <-done
		if p == nil || p.Seq != 3 || w.refused.Load() {
			t.Fatalf("after the state reads: partition %v, refused %v", p, w.refused.Load())
		}
		if n := testutil.CollectAndCount(w.env.m.refused); n != 0 {
			t.Errorf("%d refused series left, want none", n)
		}
		if n := logs.count(slog.LevelInfo, "readable again"); n != 1 {
			t.Errorf("%d 'readable again' lines, want 1", n)
		}
	})
}

// TestWorkerReportsAStallOnce: a failure that repeats for minutes is one WARN when it starts,
// one ERROR and the stalled gauge once it has lasted stallAfter, and one INFO when a batch
// commits again.
func TestWorkerReportsAStallOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _ := testWorker(t, &fakeStore{})
		logs := &logRecords{}
		w.env.opt.Logger = slog.New(logs)
		oom := atStage(stageCommit, errors.New("OOM command not allowed when used memory > 'maxmemory'"))
		for range 60 { // five minutes, every 5 s
			w.failed(oom)
			time.Sleep(5 * time.Second)
		}
		if w, e := logs.count(slog.LevelWarn, "failed"), logs.count(slog.LevelError, "PARTITION STALLED"); w != 1 || e != 1 {
			t.Errorf("%d WARN and %d ERROR lines over 60 failures, want 1 and 1", w, e)
		}
		if got := testutil.ToFloat64(w.env.m.stalled.WithLabelValues("0", "commit")); got != 1 {
			t.Errorf("stalled{stage=commit} = %v, want 1", got)
		}
		// Failing at another stage is another cause.
		w.failed(atStage(stageDeadletter, errors.New("message too large")))
		if n := testutil.CollectAndCount(w.env.m.stalled); n != 1 || logs.count(slog.LevelError, "PARTITION STALLED") != 2 {
			t.Errorf("%d stalled series and %d ERRORs after a new stage, want 1 and 2", n, logs.count(slog.LevelError, "PARTITION STALLED"))
		}
		w.recovered()
		if n := testutil.CollectAndCount(w.env.m.stalled); n != 0 || logs.count(slog.LevelInfo, "consuming again") != 1 {
			t.Errorf("after recovery: %d stalled series, %d INFO lines; want 0 and 1", n, logs.count(slog.LevelInfo, "consuming again"))
		}
		// A failure long after the last is a new streak: a WARN, no stall yet.
		time.Sleep(2 * stallAfter)
		w.failed(oom)
		if logs.count(slog.LevelWarn, "failed") != 2 || testutil.CollectAndCount(w.env.m.stalled) != 0 {
			t.Errorf("a new streak: %d WARNs, %d stalled series", logs.count(slog.LevelWarn, "failed"), testutil.CollectAndCount(w.env.m.stalled))
		}
	})
}

// TestSinceExported: the families an upgrade added to a partition's state are exported
// with the stream time they count from, the others with 0.
func TestSinceExported(t *testing.T) {
	w, _ := testWorker(t, &fakeStore{})
	p := windows.NewPartition(0, w.env.opt.Windows)
	upgraded := testBase.Add(time.Hour)
	// Layout 2 stored no first responses; its state is at stream time testBase+1h.
	if err := p.Restore(&windows.Stored{Meta: map[string]string{"v": "2", "thr": "15000,180000", "seq": "4",
		"wm:m": fmt.Sprint(upgraded.UnixNano())}}); err != nil {
		t.Fatal(err)
	}
	w.export(p)
	reg := prometheus.NewRegistry()
	reg.MustRegister(newSinceCollector(func() []*worker { return []*worker{w} }))
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if len(got) != len(kpi.Families()) {
		t.Errorf("%d families exported, want %d", len(got), len(kpi.Families()))
	}
	for name, want := range map[string]float64{
		kpi.FirstResponses.Name():               float64(upgraded.Unix()),
		kpi.AgentBuyerMessagesAnswered.Name():   float64(upgraded.Unix()),
		kpi.BuyerMessages.Name():                0,
		kpi.AgentResponseBusinessTimeSum.Name(): 0, // no business hours before layout 3: exact
	} {
		if got[name] != want {
			t.Errorf("%s since %v, want %v", name, got[name], want)
		}
	}
}

// TestReaderProblems: the two offset faults kafka-go's reader only logs (its format strings,
// reader.go of kafka-go v0.4) end where an operator sees them; other reader errors do not.
func TestReaderProblems(t *testing.T) {
	w, _ := testWorker(t, &fakeStore{})
	logs := &logRecords{}
	w.env.opt.Logger = slog.New(logs)
	skip := "the kafka reader is reading before the first offset for partition %d of %s, skipping from offset %d to %d (%d messages)"
	if err := w.readerProblem("m", skip, []any{0, "m", int64(10), int64(250), int64(240)}); err != nil {
		t.Errorf("a retention skip: %v, want no failure (the reader goes on)", err)
	}
	if got := testutil.ToFloat64(w.env.m.skipped.WithLabelValues("m")); got != 240 {
		t.Errorf("cskpi_records_skipped_total{topic=m} = %v, want 240", got)
	}
	if n := logs.count(slog.LevelError, "RECORDS LOST"); n != 1 {
		t.Errorf("%d RECORDS LOST lines, want 1", n)
	}
	past := "the kafka reader is reading passed the last offset for partition %d of %s at offset %d"
	err := w.readerProblem("m", past, []any{0, "m", int64(9000)})
	if stageOf(err) != stageFetch || !strings.Contains(err.Error(), "beyond the end") {
		t.Errorf("an offset past the log end: %v, want a fetch failure", err)
	}
	if err := w.readerProblem("m", "failed to dial: %v", []any{errors.New("connection refused")}); err != nil {
		t.Errorf("a connection error: %v, want none (the reader retries)", err)
	}
	if n := logs.count(slog.LevelError, ""); n != 1 {
		t.Errorf("%d ERROR lines in all, want 1", n)
	}
}
