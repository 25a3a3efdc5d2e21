package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
)

// fakeStore keeps the change sets it is given. With hold set, Commit signals entered and
// waits for release before it answers: a commit in flight.
type fakeStore struct {
	mu      sync.Mutex
	commits []*windows.ChangeSet
	err     error
	hold    bool
	entered chan struct{}
	release chan struct{}
}

func (f *fakeStore) Load(context.Context, *windows.Partition) error { return nil }
func (f *fakeStore) StreamTime(context.Context) (int64, bool, error) {
	return 0, false, nil
}
func (f *fakeStore) LoadScripts(context.Context) error { return nil }
func (f *fakeStore) Claim(context.Context, string, []int, int, time.Duration) ([]bool, error) {
	return nil, nil
}

func (f *fakeStore) Commit(ctx context.Context, cs *windows.ChangeSet) error {
	if f.hold {
		f.entered <- struct{}{}
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.commits = append(f.commits, cs)
	return nil
}

type fakeDLQ struct{ msgs []kafka.Message }

func (d *fakeDLQ) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	d.msgs = append(d.msgs, msgs...)
	return nil
}

var testBase = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

// testWorker is a worker of partition 0 over an empty mirror, with the event clock.
func testWorker(t *testing.T, store Store) (*worker, *prometheus.Registry) {
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
	e := &env{opt: opt, m: m, stream: clock, asOf: func() int64 { ts, _ := clock.Get(); return ts }}
	w := newWorker(0, e)
	w.export(windows.NewPartition(0, opt.Windows))
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
		kpi.Series{Name: kpi.BuyerMessages.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W15m}}.Key():   1,
		kpi.Series{Name: kpi.ResponseTimeSum.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W15m}}.Key(): 12,
		kpi.Series{Name: kpi.InquiriesGuided.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W24h}}.Key(): 1,
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
		if k := (kpi.Series{Name: kpi.BuyerMessages.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W15m}}).Key(); got[k] != 1 {
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
