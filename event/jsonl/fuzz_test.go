package jsonl

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cskpi/cskpi/event"
)

// kcatQuote writes b as a JSON string the way kcat -J does (yajl without UTF-8
// validation): quotes, backslashes and control characters escaped, every other byte as it
// is; the solidus escaped when asked, as yajl can be built to.
func kcatQuote(b []byte, solidus bool) []byte {
	out := []byte{'"'}
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c == '/' && solidus:
			out = append(out, '\\', '/')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\t':
			out = append(out, '\\', 't')
		case c < 0x20:
			out = fmt.Appendf(out, `\u%04x`, c)
		default:
			out = append(out, c)
		}
	}
	return append(out, '"')
}

// FuzzKcatEnvelope: whatever bytes a record held, its kcat envelope gives them back exactly,
// payload and key, under the topic it names.
func FuzzKcatEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"event_id":"m-1","shop_id":"shop-001","buyer_id":"tb_1","sender":"buyer","ts":"2026-11-20T10:00:00+08:00"}`,
		"", "null", `"`, `\`, "\x00\x1f\x7f", "\xff\xfe", "\xed\xa0\x80", "好 😀", `\u0000`, "a/b", "\u2028",
	} {
		f.Add([]byte(s), []byte("shop-001/tb_1"), false, false, false)
		f.Add([]byte(s), []byte(s), true, true, true)
	}
	f.Fuzz(func(t *testing.T, payload, key []byte, nullKey, solidus, orders bool) {
		topic, role := DefaultMessagesTopic, event.Messages
		if orders {
			topic, role = DefaultOrdersTopic, event.Orders
		}
		k := []byte("null")
		if !nullKey {
			k = kcatQuote(key, solidus)
		}
		line := fmt.Appendf(nil, `{"topic":%q,"partition":3,"offset":12,"tstype":"create","ts":1795140000000,"broker":1,"key":%s,"payload":%s}`,
			topic, k, kcatQuote(payload, solidus))
		r, err := Parse(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if r.Topic != role || !bytes.Equal(r.Value, payload) {
			t.Fatalf("%q: got %v %q", line, r.Topic, r.Value)
		}
		if nullKey && r.Key != nil || !nullKey && !bytes.Equal(r.Key, key) {
			t.Fatalf("%q: key %q", line, r.Key)
		}
		if nullKey {
			key = nil
		} else if key == nil {
			key = []byte{} // an empty key, which Envelope writes as "", not a missing one
		}
		line = Envelope(topic, key, payload)
		if r2, err := Parse(line); err != nil || r2.Topic != role || !bytes.Equal(r2.Key, r.Key) || (r2.Key == nil) != (r.Key == nil) || !bytes.Equal(r2.Value, payload) {
			t.Fatalf("Envelope: %q: %v %q %q %v", line, r2.Topic, r2.Key, r2.Value, err)
		}
	})
}

// FuzzParse: no line crashes the parser, and a line it accepts has a topic role.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"topic":"messages","event_id":"m-1"}`, `{"sender":"buyer"}`, `{}`, `[]`, `nope`,
		`{"topic":"orders","key":"k","raw_b64":"bm90IGpzb24="}`,
		`{"topic":"cs.orders","partition":0,"offset":1,"key":null,"payload":"\ud800x\\"}`,
		`{"topic":"cs.orders","partition":0,"offset":1,"key":7,"payload":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := Parse(line)
		if err == nil && r.Topic != event.Messages && r.Topic != event.Orders {
			t.Fatalf("topic %v", r.Topic)
		}
	})
}
