package produce

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/internal/testlog"
	"github.com/cskpi/cskpi/traffic/synth"
)

const partitions = 4

func cluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, DefaultMessagesTopic, DefaultOrdersTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

type readRecord struct {
	topic     string
	partition int
	key       string
	value     []byte
}

// readAll reads every record of a topic, partition by partition, up to the end offset each
// partition has now.
func readAll(t *testing.T, addrs []string, topic string) []readRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []readRecord
	for p := 0; p < partitions; p++ {
		conn, err := kafka.DialLeader(ctx, "tcp", addrs[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: addrs, Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 50 * time.Millisecond})
		for off := int64(0); off < last; off++ {
			m, err := r.ReadMessage(ctx) // the deadline of ctx bounds the wait
			if err != nil {
				r.Close()
				t.Fatalf("%s/%d at %d of %d: %v", topic, p, off, last, err)
			}
			out = append(out, readRecord{topic, m.Partition, string(m.Key), m.Value})
		}
		r.Close()
	}
	return out
}

func testLines(t *testing.T) [][]byte {
	now := time.Now()
	ls := testlog.Lines(testlog.Config{Seed: 3, Records: 3000, Start: now.Add(-20 * 24 * time.Hour), Shops: 3, Now: now})
	g := synth.New(synth.Config{Seed: 9, Shops: 5, SlowShops: 1})
	for i := 0; i < 3000; i++ {
		ls = append(ls, g.Next())
	}
	return ls
}

func TestFile(t *testing.T) {
	addrs := cluster(t)
	ls := testLines(t)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, append(bytes.Join(ls, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	n, err := File(context.Background(), path, Options{Brokers: addrs, Progress: &progress, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(ls)) {
		t.Fatalf("produced %d records, want %d", n, len(ls))
	}
	if !strings.HasPrefix(progress.String(), "produced 6000 records in ") || !strings.HasSuffix(progress.String(), " records/s)\n") {
		t.Errorf("progress output %q", progress.String())
	}
	checkPublished(t, addrs, ls)
}

func TestLines(t *testing.T) {
	addrs := cluster(t)
	ls := testLines(t)[:500]
	n, err := Lines(context.Background(), ls, Options{Brokers: addrs})
	if err != nil || n != 500 {
		t.Fatalf("Lines: %d, %v", n, err)
	}
	checkPublished(t, addrs, ls)

	if _, err := Lines(context.Background(), [][]byte{[]byte("not json")}, Options{Brokers: addrs}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad line: %v", err)
	}
	if _, err := File(context.Background(), filepath.Join(t.TempDir(), "missing"), Options{Brokers: addrs}); err == nil {
		t.Error("missing file: no error")
	}
}

// checkPublished compares what the brokers hold with the lines: same records per topic, each
// keyed by its conversation, each partition in file order, and a conversation on the same
// partition number in both topics.
func checkPublished(t *testing.T, addrs []string, ls [][]byte) {
	t.Helper()
	want := map[event.Topic][]jsonl.Record{}
	for _, l := range ls {
		r, err := jsonl.Parse(l)
		if err != nil {
			t.Fatal(err)
		}
		want[r.Topic] = append(want[r.Topic], r)
	}
	partOf := map[string]int{}
	for _, topic := range []event.Topic{event.Messages, event.Orders} {
		name := [...]string{DefaultMessagesTopic, DefaultOrdersTopic}[topic]
		got := readAll(t, addrs, name)
		if len(got) != len(want[topic]) {
			t.Fatalf("%s holds %d records, want %d", name, len(got), len(want[topic]))
		}
		// Per partition, the records are the file's records of that partition, in order.
		byPart := map[int][]readRecord{}
		for _, g := range got {
			byPart[g.partition] = append(byPart[g.partition], g)
			if p, ok := partOf[g.key]; ok && p != g.partition {
				t.Fatalf("conversation %q on partitions %d and %d", g.key, p, g.partition)
			}
			partOf[g.key] = g.partition
		}
		if len(byPart) < 2 {
			t.Errorf("%s: all records on %d partition(s)", name, len(byPart))
		}
		next := map[int]int{}
		for _, w := range want[topic] {
			p := partOf[string(w.Key)]
			i := next[p]
			next[p]++
			if i >= len(byPart[p]) || byPart[p][i].key != string(w.Key) || !bytes.Equal(byPart[p][i].value, w.Value) {
				t.Fatalf("%s/%d record %d is not the file's next record of that partition (key %q)", name, p, i, w.Key)
			}
		}
	}
	// The keys are the conversations the values name.
	for _, r := range want[event.Messages][:50] {
		e, reason := event.Decode(r.Topic, r.Value)
		if reason == event.OK && e.Conversation() != string(r.Key) {
			t.Fatalf("key %q for conversation %q", r.Key, e.Conversation())
		}
	}
}

func TestLoadgen(t *testing.T) {
	addrs := cluster(t)
	const rate, dur = 400.0, 1500 * time.Millisecond
	start := time.Now()
	var progress bytes.Buffer
	var st synth.Stats
	n, err := Loadgen(context.Background(), LoadgenOptions{Options: Options{Brokers: addrs, Progress: &progress}, Rate: rate, Duration: dur,
		Stats: &st})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if elapsed < dur || elapsed > dur+5*time.Second {
		t.Errorf("ran %v for a %v duration", elapsed, dur)
	}
	// At the rate asked for, and then the replies to the buyers left waiting at the end.
	if want := rate * dur.Seconds(); float64(n-int64(st.Answered)) < 0.5*want || float64(n-int64(st.Answered)) > 1.5*want {
		t.Errorf("produced %d records (%d of them replies at the end) in %v at %v/s", n, st.Answered, dur, rate)
	}
	if !strings.HasPrefix(progress.String(), "produced ") {
		t.Errorf("progress output %q", progress.String())
	}
	// Event time tracks the wall clock: no valid record is ahead of when it was read back, nor
	// behind the start by more than a re-published duplicate's few seconds, but for the
	// order_created records filed after their payment, which may be as old as the warm-up.
	var got int
	readDone := time.Now()
	// The shops are loadgen's own, and the run answered every buyer it left waiting: in
	// partition order, which is each conversation's, no episode stays open.
	waiting, seen := map[string]bool{}, map[string]bool{}
	for _, topic := range []string{DefaultMessagesTopic, DefaultOrdersTopic} {
		for _, r := range readAll(t, addrs, topic) {
			got++
			e, reason := event.Decode(event.Messages, r.value)
			if topic == DefaultOrdersTopic {
				e, reason = event.Decode(event.Orders, r.value)
			}
			if reason != event.OK || e.TS < start.Add(-24*time.Hour).UnixNano() || e.TS > start.Add(24*time.Hour).UnixNano() {
				continue // broken, too old or future on purpose
			}
			if !strings.HasPrefix(e.Shop, "load-") {
				t.Fatalf("shop %q: not one of loadgen's own", e.Shop)
			}
			if topic == DefaultMessagesTopic && !e.Spam && !seen[e.ID] {
				seen[e.ID] = true
				switch e.Sender {
				case event.Buyer:
					waiting[e.Conversation()] = true
				case event.Agent:
					delete(waiting, e.Conversation())
				}
			}
			ts, from := time.Unix(0, e.TS), start.Add(-10*time.Second)
			if e.Kind == event.OrderCreated {
				from = from.Add(-loadgenWarmup)
			}
			if ts.Before(from) || ts.After(readDone) {
				t.Fatalf("record ts %v outside [%v, %v]", ts, from, readDone)
			}
		}
	}
	if int64(got) != n {
		t.Errorf("brokers hold %d records, Loadgen reported %d", got, n)
	}
	if len(waiting) != 0 || st.Answered == 0 || st.LeftWaiting != 0 {
		t.Errorf("%d buyers left waiting; the run answered %d at its end and left %d", len(waiting), st.Answered, st.LeftWaiting)
	}
	t.Logf("%d records, %d of them replies at the end", n, st.Answered)
}

func TestLoadgenCancel(t *testing.T) {
	addrs := cluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	g := synth.New(synth.Config{Seed: 1, Start: time.Now(), Rate: 50})
	done := make(chan struct{})
	var n int64
	var err error
	go func() {
		defer close(done)
		n, err = Loadgen(ctx, LoadgenOptions{Options: Options{Brokers: addrs}, Gen: g})
	}()
	// Poll the broker until something was published, then stop.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for published(t, addrs, DefaultMessagesTopic) == 0 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("loadgen published nothing")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Loadgen did not stop on cancel")
	}
	if err != nil {
		t.Fatalf("cancelled Loadgen: %v", err)
	}
	if n == 0 {
		t.Error("nothing produced before cancel")
	}
}

// published counts the records a topic holds.
func published(t *testing.T, addrs []string, topic string) int64 {
	t.Helper()
	var n int64
	for p := 0; p < partitions; p++ {
		conn, err := kafka.DialLeader(context.Background(), "tcp", addrs[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		n += last
	}
	return n
}

// TestGeneratedRecord: the loadgen's shortcut routes every generator line exactly as
// jsonl.Parse does, and leaves the lines it cannot route to it.
func TestGeneratedRecord(t *testing.T) {
	g := synth.New(synth.Config{Seed: 5, Shops: 40, SlowShops: 2, Start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Rate: 100})
	var dec event.Decoder
	fast := 0
	for i := range 50000 {
		line := g.Next()
		want, err := jsonl.Parse(line)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		got, ok := generatedRecord(&dec, line)
		if !ok {
			continue
		}
		fast++
		if got.Topic != want.Topic || string(got.Key) != string(want.Key) || string(got.Value) != string(want.Value) {
			t.Fatalf("line %d routed as %v %q, jsonl.Parse says %v %q", i, got.Topic, got.Key, want.Topic, want.Key)
		}
	}
	if fast < 45000 {
		t.Errorf("only %d of 50000 lines took the shortcut", fast)
	}
}

// TestFileKcatDump republishes a `kcat -C -J` dump of the topics: the records that come out
// are the ones that went in, byte for byte, broken ones included.
func TestFileKcatDump(t *testing.T) {
	from, to := cluster(t), cluster(t)
	ls := testLines(t)[:1500]
	if _, err := Lines(context.Background(), ls, Options{Brokers: from}); err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	for _, topic := range []string{DefaultMessagesTopic, DefaultOrdersTopic} {
		for _, r := range readAll(t, from, topic) {
			dump.Write(jsonl.Envelope(topic, []byte(r.key), r.value))
			dump.WriteByte('\n')
		}
	}
	path := filepath.Join(t.TempDir(), "dump.jsonl")
	if err := os.WriteFile(path, dump.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := File(context.Background(), path, Options{Brokers: to}); err != nil || n != int64(len(ls)) {
		t.Fatalf("File: %d records, %v", n, err)
	}
	checkPublished(t, to, ls)
}
