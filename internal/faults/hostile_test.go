package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/internal/difftest"
)

// fuzzSeeds returns the seed values of FuzzDecode: the string literals of its seed list
// in event/fuzz_test.go, read from the source so that a seed added there is
// covered here, and the inputs of event/testdata/fuzz/FuzzDecode if any.
func fuzzSeeds(t *testing.T) [][]byte {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filepath.Join("..", "..", "event", "fuzz_test.go"), nil, 0)
	if err != nil {
		t.Fatalf("reading the fuzz seeds: %v", err)
	}
	var out [][]byte
	ast.Inspect(file, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "FuzzDecode" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			cl, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if at, ok := cl.Type.(*ast.ArrayType); !ok || fmt.Sprint(at.Elt) != "string" {
				return true
			}
			for _, e := range cl.Elts {
				if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						out = append(out, []byte(s))
					}
				}
			}
			return false
		})
		return false
	})
	if len(out) == 0 {
		t.Fatal("found no seeds in FuzzDecode")
	}
	// Corpus files: "go test fuzz v1", then one line per argument: uint8(n), []byte("...").
	files, _ := filepath.Glob(filepath.Join("..", "..", "event", "testdata", "fuzz", "FuzzDecode", "*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "[]byte("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(v, ")")); err == nil {
					out = append(out, []byte(s))
				}
			}
		}
	}
	return out
}

// readTopic reads every record of every partition of topic.
func readTopic(t *testing.T, brokers []string, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []kafka.Message
	for part := range partitions {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, part)
		if err != nil {
			t.Fatal(err)
		}
		end, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("reading %s/%d: %v", topic, part, err)
			}
			out = append(out, m)
			if m.Offset >= end-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// hostileLog is a seeded differential log and a time just before its stream time, for
// records meant to be valid.
func hostileLog(t *testing.T, seed int64) ([][]byte, string) {
	t.Helper()
	lines := difftest.TestLog(seed, 3000)
	ref, _ := difftest.Reference(t, lines)
	return lines, time.Unix(0, ref.StreamTime).Add(-30 * time.Minute).UTC().Format(time.RFC3339Nano)
}

// splice inserts each of bad at a random place of lines, and appends tail. Records that
// may be valid go in tail: spliced among the log they would move stream time about, and
// with it what the one-stream-time reference counts as a duplicate (docs/SEMANTICS.md).
func splice(seed int64, lines, bad, tail [][]byte) [][]byte {
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	for _, l := range bad {
		lines = slices.Insert(lines, rng.IntN(len(lines)+1), l)
	}
	return append(lines, tail...)
}

// TestHostileInput: the decoder's fuzz seeds on both topics and a file of bad records —
// every rejection reason in its variants (the differential log's), records far over
// 64 KiB, JSON nested 20 000 deep, invalid UTF-8, NUL bytes raw and escaped, values that
// are not JSON, empty values, 10 000 distinct junk shop ids — spliced among valid records.
// The service does not crash; each record is counted under recompute's reason and copied
// to the dead-letter topic once, byte for byte, with its reason and source in headers; no
// junk shop becomes a series; the valid records around them give exactly recompute's
// series. As recompute shares the decoder, an independent oracle (encoding/json) checks
// that whatever is not JSON is rejected as malformed.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	base, ts := hostileLog(t, 73)
	msg := func(id, shop, buyer, extra string) string {
		return `{"event_id":"` + id + `","shop_id":"` + shop + `","buyer_id":"` + buyer + `","sender":"buyer","ts":"` + ts + `"` + extra + `}`
	}
	var bad, tail [][]byte
	kinds := map[string]int{}
	add := func(kind string, topic event.Topic, key string, v []byte) {
		kinds[kind]++
		l := jsonl.Raw(topic, key, v)
		// A record the decoder accepts (its time decides the rest) goes at the end.
		if _, r := event.Decode(topic, v); r == event.OK {
			tail = append(tail, l)
		} else {
			bad = append(bad, l)
		}
	}
	for _, s := range fuzzSeeds(t) {
		// One key for all: the seeds share event ids, and duplicates are per partition.
		add("fuzz seed", event.Messages, "s/b", s)
		add("fuzz seed", event.Orders, "s/b", s)
	}
	add("huge", event.Messages, "shop-001/huge", []byte(msg("huge-1", "shop-001", "huge", `,"note":"`+strings.Repeat("x", 100<<10)+`"`)))
	add("huge", event.Orders, "shop-002/huge", bytes.Repeat([]byte("{"), 900<<10))
	add("huge", event.Messages, "shop-003/huge", bytes.Repeat([]byte{0}, 70<<10))
	add("deep JSON", event.Messages, "shop-001/deep", []byte(strings.Repeat("[", 60000)))
	add("deep JSON", event.Messages, "shop-001/deep", []byte(msg("deep-1", "shop-001", "deep", `,"x":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000))))
	add("deep JSON", event.Messages, "shop-001/deep", []byte(msg("deep-2", "shop-001", "deep", `,"x":`+strings.Repeat(`{"a":`, 5000)+"1"+strings.Repeat("}", 5000))))
	add("deep JSON", event.Orders, "shop-002/deep", []byte(`{"event_id":"deep-3","shop_id":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`))
	add("invalid UTF-8", event.Messages, "shop-001/utf8", []byte(msg("utf8-1", "shop-001", "\xff\xfe", "")))
	add("invalid UTF-8", event.Messages, "shop-001/utf8", []byte(msg("utf8-2\xc3\x28", "shop-001", "utf8", "")))
	add("invalid UTF-8", event.Orders, "shop-002/utf8", []byte("\xfe\xff{\"event_id\":\"utf8-3\"}"))
	add("NUL", event.Messages, "shop-001/n\x00l", []byte(msg("nul-1", "shop-001", "n\x00l", ""))) // raw NUL in a string: not JSON
	add("NUL", event.Messages, "shop-001/nul", append([]byte(msg("nul-2", "shop-001", "nul", "")), 0))
	add("NUL", event.Messages, "shop-001/n\x00l", []byte(msg("nul-3", "shop-001", `n\u0000l`, ""))) // escaped: a valid buyer id
	add("NUL", event.Messages, "shop-001/nul", []byte(msg("nul-4", `shop\u0000001`, "nul", "")))
	// Not JSON (RFC 8259), each in an otherwise valid event of a conversation of its own.
	add("invalid JSON", event.Messages, "shop-002/bad-1", []byte(msg("badjson-1", "shop-002", "bad-1\nx", "")))
	add("invalid JSON", event.Messages, "shop-002/bad-2", []byte(msg("badjson-2", "shop-002", `bad-2\x`, "")))
	add("invalid JSON", event.Messages, "shop-002/bad-3", []byte(msg("badjson-3", "shop-002", "bad-3", `,"x":01`)))
	add("invalid JSON", event.Messages, "shop-002/bad-4", []byte(msg("badjson-4", "shop-002", "bad-4", `,"x":NaN`)))
	add("invalid JSON", event.Messages, "shop-002/bad-5", []byte(msg("badjson-5\x01", "shop-002", "bad-5", "")))
	add("invalid JSON", event.Messages, "shop-002/bad-6", []byte(msg("badjson-6", "shop-002", "bad-6", `,"x":[1,]`)))
	add("empty", event.Messages, "shop-001/empty", nil)
	add("empty", event.Orders, "", []byte("   "))
	for i := range 10000 {
		var shop string
		switch i % 5 {
		case 0:
			shop = fmt.Sprintf("junk shop %d", i)
		case 1:
			shop = fmt.Sprintf("店铺-%d", i)
		case 2:
			shop = strings.Repeat("s", 60) + strconv.Itoa(100000+i)
		case 3:
			shop = fmt.Sprintf("junk/%d", i)
		default:
			shop = fmt.Sprintf("junk%%%d", i)
		}
		add("junk shop id", event.Messages, shop+"/b", []byte(msg(fmt.Sprint("junk-", i), shop, "b", "")))
	}
	lines := splice(73, base, bad, tail)
	ref, want := difftest.Reference(t, lines)
	f := difftest.NewFixtureWith(t, difftest.Options{Lines: lines})
	p := startServe(t, f, "serve", "hostile")
	began := time.Now()
	health := difftest.AwaitMatchFunc(t, p.Scrape, want, len(lines), 120*time.Second)
	elapsed := time.Since(began)
	if !p.Alive() {
		t.Fatalf("serve exited: %v", p.ExitErr())
	}

	// Counted by recompute's reasons and outcomes.
	m, err := p.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	topicOf := map[string]string{"messages": topicM, "orders": topicO}
	var rejected int64
	for _, role := range []string{"messages", "orders"} {
		for _, r := range event.Reasons {
			wantN := ref.Rejected[[2]string{role, string(r)}]
			rejected += wantN
			if got := m[difftest.SampleKey("cskpi_events_rejected_total", "topic", topicOf[role], "reason", string(r))]; got != float64(wantN) {
				t.Errorf("cskpi_events_rejected_total{topic=%s,reason=%s} = %v, recompute %d", topicOf[role], r, got, wantN)
			}
		}
		for _, o := range []string{"applied", "duplicate", "excluded", "rejected"} {
			key := "cskpi_events_total{outcome=" + o + ",topic=" + topicOf[role] + "}"
			if got, wantN := health[key], ref.Events[[2]string{role, o}]; got != float64(wantN) {
				t.Errorf("%s = %v, recompute %d", key, got, wantN)
			}
		}
	}
	for k := range want {
		if strings.Contains(k, "junk") {
			t.Fatalf("recompute exports a junk shop: %s", k)
		}
	}

	// The dead-letter topic holds each rejected record once, byte for byte (oversize ones
	// truncated to the limit), with its reason and what is at fault.
	src := map[string]kafka.Message{}
	for _, topic := range []string{topicM, topicO} {
		for _, r := range readTopic(t, f.Kafka.Brokers, topic) {
			src[fmt.Sprint(topic, "/", r.Partition, "/", r.Offset)] = r
		}
	}
	dead := readTopic(t, f.Kafka.Brokers, topicDL)
	byReason := map[[2]string]int64{}
	seen := map[string]bool{}
	for _, d := range dead {
		reason, topic := header(d, "cskpi-reject-reason"), header(d, "cskpi-source-topic")
		at := topic + "/" + header(d, "cskpi-source-partition") + "/" + header(d, "cskpi-source-offset")
		orig, ok := src[at]
		switch {
		case !ok:
			t.Errorf("dead letter with source %q: no such record", at)
			continue
		case seen[at]:
			t.Errorf("dead letter %s copied twice", at)
		case len(orig.Value) > event.MaxRecordBytes:
			// An oversize record is copied truncated to the limit, its size in a header,
			// so that the copy always fits the broker.
			if !bytes.Equal(orig.Value[:event.MaxRecordBytes], d.Value) || header(d, "cskpi-original-size") != fmt.Sprint(len(orig.Value)) {
				t.Errorf("oversize dead letter %s: %d bytes, original-size %q; want the first %d of %d bytes",
					at, len(d.Value), header(d, "cskpi-original-size"), event.MaxRecordBytes, len(orig.Value))
			}
		case !bytes.Equal(orig.Value, d.Value) || !bytes.Equal(orig.Key, d.Key):
			t.Errorf("dead letter %s differs from the record (%d vs %d bytes)", at, len(d.Value), len(orig.Value))
		}
		seen[at] = true
		role := map[string]string{topicM: "messages", topicO: "orders"}[topic]
		tp := map[string]event.Topic{topicM: event.Messages, topicO: event.Orders}[topic]
		if _, r := event.Decode(tp, orig.Value); r != event.OK && string(r) != reason {
			t.Errorf("dead letter %s has reason %q, the decoder says %q", at, reason, r)
		}
		// Its detail names what is at fault: Explain's for a content reason, the ts for a
		// time reason.
		detail := header(d, "cskpi-reject-detail")
		if !strings.HasPrefix(detail, reason+": ") && detail != reason {
			t.Errorf("dead letter %s (%s): detail %q", at, reason, detail)
		} else if f := event.Explain(tp, orig.Value); f.Reason != event.OK && detail != f.String() {
			t.Errorf("dead letter %s: detail %q, Explain says %q", at, detail, f)
		} else if f.Reason == event.OK && !strings.HasPrefix(detail, reason+": ts ") {
			t.Errorf("dead letter %s (%s): detail %q names no ts", at, reason, detail)
		}
		byReason[[2]string{role, reason}]++
	}
	// An independent oracle: a record of at most 64 KiB that encoding/json does not take
	// for JSON, or that is not UTF-8, is malformed (CONTRACT §1, docs/SEMANTICS.md).
	var notJSON []string
	for at, r := range src {
		if len(r.Value) > event.MaxRecordBytes || (json.Valid(r.Value) && utf8.Valid(r.Value)) {
			continue
		}
		if !seen[at] {
			v := r.Value
			if len(v) > 80 {
				v = v[:80]
			}
			notJSON = append(notJSON, fmt.Sprintf("%s %q", at, v))
		}
	}
	if len(notJSON) > 0 {
		slices.Sort(notJSON)
		t.Errorf("%d records that are not JSON were not rejected as malformed (not dead-lettered); the decoder accepts them, and recompute with it:\n%s",
			len(notJSON), strings.Join(notJSON, "\n"))
	}
	for _, role := range []string{"messages", "orders"} {
		for _, r := range event.Reasons {
			if got, wantN := byReason[[2]string{role, string(r)}], ref.Rejected[[2]string{role, string(r)}]; got != wantN {
				t.Errorf("dead letters of %s with reason %s: %d, recompute rejects %d", role, r, got, wantN)
			}
		}
	}
	var summary []string
	for _, k := range []string{"fuzz seed", "huge", "deep JSON", "invalid UTF-8", "NUL", "invalid JSON", "empty", "junk shop id"} {
		summary = append(summary, fmt.Sprintf("%d %s", kinds[k], k))
	}
	var reasons []string
	for _, r := range event.Reasons {
		reasons = append(reasons, fmt.Sprintf("%s=%d", r, ref.Rejected[[2]string{"messages", string(r)}]+ref.Rejected[[2]string{"orders", string(r)}]))
	}
	t.Logf("%d records (%s spliced into a differential log, the %d the decoder accepts at its end): no crash; rejected %d (%s), each counted and dead-lettered once byte for byte (%d dead letters read back); all %d series equal recompute in %v",
		len(lines), strings.Join(summary, ", "), len(tail), rejected, strings.Join(reasons, " "), len(dead), len(want), elapsed.Round(time.Millisecond))
	p.Stop()
}

// TestHostileRecordAtBrokerLimit: a record the broker accepted but whose dead-letter copy
// (the same bytes plus four cskpi-* headers) is over the broker's message size limit.
// It is oversize, so it must be counted, dead-lettered or at least skipped, and the
// valid records after it in its partition applied: processing goes on (CONTRACT §1).
func TestHostileRecordAtBrokerLimit(t *testing.T) {
	t.Parallel()
	// kfake, like Kafka, refuses a record batch over message.max.bytes (1048588); the
	// largest value a producer gets through with this key is about 1048500 bytes, and the
	// copy's headers add about 100.
	const key = "shop-001/limit"
	big := bytes.Repeat([]byte("x"), 1048480-len(key))
	base, _ := hostileLog(t, 79)
	lines := splice(79, base, [][]byte{jsonl.Raw(event.Messages, key, big)}, nil)
	ref, want := difftest.Reference(t, lines)
	f := difftest.NewFixtureWith(t, difftest.Options{Lines: lines})
	p := startServe(t, f, "serve", "limit")
	began := time.Now()
	consumed := 0
	for deadline := began.Add(30 * time.Second); consumed != len(lines); time.Sleep(100 * time.Millisecond) {
		if b, err := p.Scrape(); err == nil {
			_, h := difftest.KPISeries(t, b)
			consumed = difftest.Consumed(h)
		}
		if time.Now().After(deadline) {
			var last string
			for _, l := range strings.Split(p.Log(), "\n") {
				if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
					last = l
				}
			}
			t.Fatalf("%d of %d records got an outcome in 30 s: the partition of the %d-byte record stopped; last warning:\n%s",
				consumed, len(lines), len(big), last)
		}
	}
	difftest.AwaitMatchFunc(t, p.Scrape, want, len(lines), 30*time.Second)
	got, _ := p.Metric("cskpi_events_rejected_total", "topic", topicM, "reason", "oversize")
	if wantN := ref.Rejected[[2]string{"messages", "oversize"}]; got != float64(wantN) {
		t.Errorf("oversize rejections on %s: %v, recompute %d", topicM, got, wantN)
	}
	t.Logf("a %d-byte record at the broker's limit: counted, and the %d series equal recompute in %v",
		len(big), len(want), time.Since(began).Round(time.Millisecond))
	p.Stop()
}
