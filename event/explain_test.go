package event_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/internal/testlog"
)

// TestExplainAgreesWithDecode: Explain, a second reading with encoding/json and a second
// statement of the rules, gives every record the reason Decode gives it: every record of
// test logs with every reject reason (plain and disordered), and every fuzz seed on both
// topics. A rejected record's fault names a field unless the record as a whole is at fault.
func TestExplainAgreesWithDecode(t *testing.T) {
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	type rec struct {
		topic event.Topic
		value []byte
	}
	var recs []rec
	for _, cfg := range []testlog.Config{
		{Seed: 5, Records: 4000, Start: now.Add(-20 * 24 * time.Hour), Now: now},
		{Seed: 6, Records: 4000, Start: now.Add(-20 * 24 * time.Hour), Now: now, Shops: 4, Disorder: true},
	} {
		for i, line := range testlog.Lines(cfg) {
			r, err := jsonl.Parse(line)
			if err != nil {
				t.Fatalf("log line %d: %v", i, err)
			}
			recs = append(recs, rec{r.Topic, r.Value})
		}
	}
	for _, s := range event.DecodeSeeds() {
		recs = append(recs, rec{event.Messages, []byte(s)}, rec{event.Orders, []byte(s)})
	}
	byReason := map[event.Reason]int{}
	for _, r := range recs {
		_, want := event.Decode(r.topic, r.value)
		f := event.Explain(r.topic, r.value)
		if f.Reason != want {
			t.Errorf("%s %q: Explain says %q (%s), Decode %q", r.topic, r.value, f.Reason, f, want)
			continue
		}
		byReason[want]++
		whole := want == event.Oversize || want == event.Malformed && f.Field == ""
		if want != event.OK && !whole && f.Field == "" {
			t.Errorf("%s %q: %s names no field", r.topic, r.value, f)
		}
		if want == event.OK && f != (event.Fault{}) {
			t.Errorf("%s %q: accepted, yet Explain says %+v", r.topic, r.value, f)
		}
	}
	for _, r := range []event.Reason{event.OK, event.Oversize, event.Malformed, event.MissingField, event.InvalidValue} {
		if byReason[r] == 0 {
			t.Errorf("no record of reason %q among the %d", r, len(recs))
		}
	}
	t.Logf("%d records agree: %v", len(recs), byReason)
}

// TestExplain: what check and the dead-letter header show for each kind of fault.
func TestExplain(t *testing.T) {
	const (
		msg = `"event_id":"m-1","shop_id":"shop-001","buyer_id":"tb_1","ts":"2026-11-20T10:00:00+08:00"`
		ord = `"event_id":"o-1","shop_id":"shop-001","buyer_id":"tb_1","order_id":"9001","ts":"2026-11-20T10:00:00+08:00"`
	)
	for _, tc := range []struct {
		topic event.Topic
		value string
		want  string
	}{
		{event.Messages, `{` + msg + `,"sender":"agent"}`, `missing_field: agent_id`},
		{event.Messages, `{` + msg + `,"sender":"agent","agent_id":null}`, `missing_field: agent_id null`},
		{event.Messages, `{` + msg + `,"sender":"auto","agent_id":""}`, `missing_field: agent_id ""`},
		{event.Messages, `{"event_id":"m-1","shop_id":"shop-001","sender":"buyer","ts":"2026-11-20T10:00:00+08:00"}`, `missing_field: buyer_id`},
		{event.Messages, `{` + msg + `}`, `missing_field: sender`},
		{event.Messages, `{` + msg + `,"sender":"buyer","scene":"refund"}`, `invalid_value: scene "refund" (want presale or aftersale)`},
		{event.Messages, `{` + msg + `,"sender":"buyer","scene":5}`, `malformed: scene 5 (a number; want a string or null)`},
		{event.Messages, `{` + msg + `,"sender":"agent","agent_id":"a","scene":5}`, ``},
		{event.Messages, `{` + msg + `,"sender":"bot"}`, `invalid_value: sender "bot" (want buyer, agent or auto)`},
		{event.Messages, `{` + msg + `,"sender":"agent","agent_id":"bad agent"}`, `invalid_value: agent_id "bad agent" (want 1-64 bytes of [A-Za-z0-9._:-])`},
		{event.Messages, `{"event_id":"m-1","shop_id":"shop 001","buyer_id":"tb_1","sender":"buyer","ts":"2026-11-20T10:00:00+08:00"}`,
			`invalid_value: shop_id "shop 001" (want 1-64 bytes of [A-Za-z0-9._-])`},
		{event.Messages, `{"event_id":"m-1","shop_id":"shop-001","buyer_id":"tb_1","sender":"buyer","ts":"2026-11-20 10:02:00"}`,
			`invalid_value: ts "2026-11-20 10:02:00" (want RFC 3339 with a zone, such as 2026-11-20T10:00:00+08:00)`},
		{event.Messages, `{"event_id":"` + strings.Repeat("e", 129) + `","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
			`invalid_value: event_id "` + strings.Repeat("e", 79) + `… (129 bytes, over 128)`},
		{event.Messages, `{` + msg + `,"sender":"buyer","spam":"yes"}`, `malformed: spam "yes" (want true, false or null)`},
		{event.Orders, `{` + ord + `,"type":"order_created","amount":89}`, `malformed: amount 89 (a number; want a string or null)`},
		{event.Orders, `{` + ord + `,"type":"order_paid","amount":"89.5.0"}`, `invalid_value: amount "89.5.0" (want yuan as a decimal string, such as "12.50")`},
		{event.Orders, `{` + ord + `,"type":"order_lost"}`, `invalid_value: type "order_lost" (want order_created, order_paid, refund_disputed or refund_completed)`},
		{event.Orders, `{` + ord + `,"type":"refund_completed","refund_id":"r","completed_by":"merchant"}`, `missing_field: refund_requested_at`},
		{event.Orders, `{` + ord + `,"type":"refund_completed","refund_id":"r","refund_requested_at":"2026-11-21T10:00:00+08:00","completed_by":"merchant"}`,
			`invalid_value: refund_requested_at "2026-11-21T10:00:00+08:00" (after ts "2026-11-20T10:00:00+08:00")`},
		{event.Orders, `{` + ord + `,"type":"refund_completed","refund_id":"r","refund_requested_at":"2026-11-19T10:00:00+08:00","completed_by":"buyer"}`,
			`invalid_value: completed_by "buyer" (want merchant or platform)`},
		// The key that counts is the one the decoder reads: a plain spelling over an escaped one.
		{event.Messages, `{"scene":"refund","sc\u0065ne":"presale",` + msg + `,"sender":"buyer"}`, `invalid_value: scene "refund" (want presale or aftersale)`},
		{event.Messages, `{` + msg + `,"sender":"buyer","scene":"\u0072efund"}`, `invalid_value: scene "\u0072efund" (want presale or aftersale)`},
		{event.Messages, `{` + msg + `,"sender":"buyer","x":{"a": [1, 2]},"scene":{"a": [1, 2]}}`, `malformed: scene {"a":[1,2]} (an object; want a string or null)`},
		{event.Messages, "\"\x00\xff binary\n\"", `malformed: not UTF-8 (byte 3)`},
		{event.Messages, `{"event_id":"m-1",}`, `malformed: not JSON: invalid character '}' looking for beginning of object key string (byte 19)`},
		{event.Messages, `[1]`, `malformed: not a JSON object but an array`},
		{event.Messages, `{"x":` + strings.Repeat("[", 299) + `1` + strings.Repeat("]", 299) + `}`, `malformed: nested deeper than 300 levels`},
		{event.Messages, `{"x":"` + strings.Repeat("x", event.MaxRecordBytes) + `"}`, `oversize: 65544 bytes, over 65536`},
	} {
		f := event.Explain(tc.topic, []byte(tc.value))
		if got := f.String(); got != tc.want {
			t.Errorf("%s %.120s:\n got %s\nwant %s", tc.topic, tc.value, got, tc.want)
		}
		if _, r := event.Decode(tc.topic, []byte(tc.value)); r != f.Reason {
			t.Errorf("%s %.120s: Decode says %q", tc.topic, tc.value, r)
		}
	}
	e, _ := event.Decode(event.Messages, []byte(`{"event_id":"m-9","shop_id":"shop-001","buyer_id":"tb_1","sender":"buyer","ts":"2026-10-01T10:00:00+08:00"}`))
	if got, want := e.TimeFault(event.TooOld).String(), `too_old: ts 2026-10-01T02:00:00Z (more than 28 days 1 hour before the stream time)`; got != want {
		t.Errorf("TimeFault:\n got %s\nwant %s", got, want)
	}
	if got, want := e.TimeFault(event.Future).String(), `future: ts 2026-10-01T02:00:00Z (more than 10 minutes after the clock)`; got != want {
		t.Errorf("TimeFault:\n got %s\nwant %s", got, want)
	}
}

// FuzzExplainMatchesDecode: on any input, Explain's reason is Decode's.
func FuzzExplainMatchesDecode(f *testing.F) {
	for _, s := range event.DecodeSeeds() {
		f.Add(uint8(event.Messages), []byte(s))
		f.Add(uint8(event.Orders), []byte(s))
	}
	f.Fuzz(func(t *testing.T, topic uint8, value []byte) {
		tp := event.Topic(topic % 2)
		_, want := event.Decode(tp, value)
		if got := event.Explain(tp, value); got.Reason != want {
			t.Fatalf("%s %q: Explain says %q (%s), Decode %q", tp, value, got.Reason, got, want)
		}
	})
}

// BenchmarkExplain: the cost of the slow path, which only rejected records pay: what a
// storm of rejects adds per record (the decoder's own cost is BenchmarkDecode's).
func BenchmarkExplain(b *testing.B) {
	v := []byte(`{"topic":"messages","event_id":"e-1c2f00a9","shop_id":"shop-042","buyer_id":"tb_8821337","sender":"agent","agent_id":"shop-042 xiaomei","ts":"2026-11-20T10:00:07.250+08:00"}`)
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if event.Explain(event.Messages, v).Reason != event.InvalidValue {
			b.Fatal("not invalid")
		}
	}
}
