package event

import (
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	const okMsg = `{"event_id":"e1","shop_id":"s.1","buyer_id":"b/1","sender":"agent","agent_id":"s:a1","ts":"2026-11-20T10:00:00.123456789+08:00"}`
	for _, tc := range []struct {
		name  string
		topic Topic
		in    string
		want  Reason
	}{
		{"valid message", Messages, okMsg, OK},
		{"valid buyer without agent", Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, OK},
		{"unknown fields ignored", Messages, `{"x":[1,{}],"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, OK},
		{"oversize beats everything", Messages, "{" + strings.Repeat(" ", MaxRecordBytes) + "}", Oversize},
		{"not json", Messages, `hello`, Malformed},
		{"array", Messages, `[1]`, Malformed},
		{"invalid utf-8", Messages, "{\"event_id\":\"\xff\"}", Malformed},
		{"amount as number is malformed", Orders, `{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_paid","order_id":"o","amount":12.5,"ts":"2026-11-20T10:00:00Z"}`, Malformed},
		{"spam as string is malformed", Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z","spam":"yes"}`, Malformed},
		{"malformed beats missing", Messages, `{"event_id":1}`, Malformed},
		{"raw control character in a string", Messages, "{\"event_id\":\"e\x01\",\"shop_id\":\"s\",\"buyer_id\":\"b\",\"sender\":\"buyer\",\"ts\":\"2026-11-20T10:00:00Z\"}", Malformed},
		{"raw newline in a string", Messages, "{\"event_id\":\"e\",\"shop_id\":\"s\",\"buyer_id\":\"b\nx\",\"sender\":\"buyer\",\"ts\":\"2026-11-20T10:00:00Z\"}", Malformed},
		{"NUL in a string", Messages, "{\"event_id\":\"e\",\"shop_id\":\"s\",\"buyer_id\":\"b\x00\",\"sender\":\"buyer\",\"ts\":\"2026-11-20T10:00:00Z\"}", Malformed},
		{"unknown escape", Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b\x","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, Malformed},
		{"short unicode escape", Messages, `{"event_id":"e\u12","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, Malformed},
		{"valid escapes and whitespace", Messages, "{\n\t\"event_id\": \"e\\u00e9\\n\\\"\",\"shop_id\":\"s\",\"buyer_id\":\"b\",\"sender\":\"buyer\",\"ts\":\"2026-11-20T10:00:00Z\"}\r\n", OK},
		{"leading zero in an unknown number", Messages, `{"x":01,"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, Malformed},
		{"NaN", Messages, `{"x":NaN,"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, Malformed},
		{"nested beyond the depth limit", Messages, `{"x":` + strings.Repeat("[", 301) + strings.Repeat("]", 301) + `,"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, Malformed},
		{"nested within the depth limit", Messages, `{"x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `,"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, OK},
		{"60 000 levels deep (quadratic in fastjson's validator without the bound)", Messages, strings.Repeat("[", 60000), Malformed},
		{"truncated", Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"`, Malformed},
		{"null is missing", Messages, `{"event_id":null,"shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, MissingField},
		{"agent without agent_id", Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"agent","ts":"2026-11-20T10:00:00Z"}`, MissingField},
		{"missing beats invalid", Messages, `{"event_id":"e","shop_id":"bad shop","buyer_id":"b","sender":"agent","ts":"2026-11-20T10:00:00Z"}`, MissingField},
		{"paid without amount", Orders, `{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_paid","order_id":"o","ts":"2026-11-20T10:00:00Z"}`, MissingField},
		{"completed without completed_by", Orders, `{"event_id":"e","shop_id":"s","buyer_id":"b","type":"refund_completed","order_id":"o","refund_id":"r","refund_requested_at":"2026-11-19T10:00:00Z","ts":"2026-11-20T10:00:00Z"}`, MissingField},
		{"bad shop id", Messages, `{"event_id":"e","shop_id":"s/1","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, InvalidValue},
		{"bad sender", Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"bot","ts":"2026-11-20T10:00:00Z"}`, InvalidValue},
		{"ts without zone", Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00"}`, InvalidValue},
		{"amount with 3 decimals", Orders, `{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_paid","order_id":"o","amount":"1.005","ts":"2026-11-20T10:00:00Z"}`, InvalidValue},
		{"requested after ts", Orders, `{"event_id":"e","shop_id":"s","buyer_id":"b","type":"refund_completed","order_id":"o","refund_id":"r","refund_requested_at":"2026-11-21T10:00:00Z","completed_by":"merchant","ts":"2026-11-20T10:00:00Z"}`, InvalidValue},
		{"bad type", Orders, `{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_lost","order_id":"o","ts":"2026-11-20T10:00:00Z"}`, InvalidValue},
		{"event id too long", Messages, `{"event_id":"` + strings.Repeat("e", 129) + `","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, InvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := Decode(tc.topic, []byte(tc.in))
			if got != tc.want {
				t.Errorf("Decode = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	e, r := Decode(Orders, []byte(`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"refund_completed","order_id":"o","refund_id":"r","refund_requested_at":"2026-11-19T10:00:00Z","completed_by":"merchant","ts":"2026-11-20T10:00:00.5Z"}`))
	if r != OK {
		t.Fatal(r)
	}
	want := time.Date(2026, 11, 20, 10, 0, 0, 5e8, time.UTC).UnixNano()
	if e.TS != want || !e.ByMerchant || e.RequestedAt != time.Date(2026, 11, 19, 10, 0, 0, 0, time.UTC).UnixNano() {
		t.Errorf("decoded %+v", e)
	}
}

func TestAmount(t *testing.T) {
	for _, tc := range []struct {
		in  string
		fen int64
		ok  bool
	}{
		{"0", 0, true}, {"12", 1200, true}, {"12.5", 1250, true}, {"12.05", 1205, true},
		{"999999999999.99", 99999999999999, true}, {"1234567890123", 0, false},
		{"1.", 0, false}, {".5", 0, false}, {"-1", 0, false}, {"1e3", 0, false}, {"", 0, false}, {"1.234", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			fen, ok := ParseAmount(tc.in)
			if ok != tc.ok || fen != tc.fen {
				t.Errorf("ParseAmount(%q) = %d, %v", tc.in, fen, ok)
			}
			if ok {
				if back, _ := ParseAmount(FormatAmount(fen)); back != fen {
					t.Errorf("FormatAmount round trip %d -> %s", fen, FormatAmount(fen))
				}
			}
		})
	}
}

func TestCheckTime(t *testing.T) {
	s := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, tc := range []struct {
		name string
		ts   int64
		have bool
		want Reason
	}{
		{"exactly 28d+1h old is kept", s - int64(MaxAge), true, OK},
		{"one ns older is too old", s - int64(MaxAge) - 1, true, TooOld},
		{"no stream time yet", s - 100*int64(MaxAge), false, OK},
		{"exactly 10 min ahead of the wall clock", s + int64(MaxAhead), true, OK},
		{"one ns more is future", s + int64(MaxAhead) + 1, true, Future},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Event{TS: tc.ts}
			if got := e.CheckTime(s, tc.have, s); got != tc.want {
				t.Errorf("got %q want %q", got, tc.want)
			}
		})
	}
}

// TestDecodeScene: scene (CONTRACT §1) is read on buyer messages only, and ranked as check
// documents: a buyer's scene of the wrong type is malformed whatever else the record lacks;
// without a sender that is exactly "buyer" it is not read at all. Each case is checked
// against the oracle too.
func TestDecodeScene(t *testing.T) {
	const (
		ids   = `"event_id":"e","shop_id":"s","buyer_id":"b",`
		ts    = `"ts":"2026-11-20T10:00:00Z"`
		buyer = `{` + ids + `"sender":"buyer",` + ts
		agent = `{` + ids + `"sender":"agent","agent_id":"s:a",` + ts
		auto  = `{` + ids + `"sender":"auto","agent_id":"bot",` + ts
		order = `{` + ids + `"type":"order_paid","order_id":"o","amount":"1",` + ts
	)
	with := func(record, scene string) string { return record + `,"scene":` + scene + `}` }
	for _, tc := range []struct {
		name  string
		topic Topic
		in    string
		want  Reason
		scene Scene
	}{
		{"absent", Messages, buyer + `}`, OK, Presale},
		{"null", Messages, with(buyer, `null`), OK, Presale},
		{"presale", Messages, with(buyer, `"presale"`), OK, Presale},
		{"aftersale", Messages, with(buyer, `"aftersale"`), OK, Aftersale},
		{"first in the record", Messages, `{"scene":"aftersale",` + buyer[1:] + `}`, OK, Aftersale},
		{"escaped value", Messages, with(buyer, `"\u0061ftersale"`), OK, Aftersale},
		{"escaped key", Messages, `{"sc\u0065ne":"aftersale",` + buyer[1:] + `}`, OK, Aftersale},
		{"escaped sender is a buyer", Messages, `{` + ids + `"s\u0065nder":"b\u0075yer","scene":"aftersale",` + ts + `}`, OK, Aftersale},
		{"buyer with an agent_id", Messages, `{"agent_id":"s:a",` + with(buyer, `"aftersale"`)[1:], OK, Aftersale},

		{"capitalised", Messages, with(buyer, `"Aftersale"`), InvalidValue, Presale},
		{"empty string", Messages, with(buyer, `""`), InvalidValue, Presale},
		{"other string", Messages, with(buyer, `"other"`), InvalidValue, Presale},
		{"trailing space", Messages, with(buyer, `"aftersale "`), InvalidValue, Presale},
		{"string null", Messages, with(buyer, `"null"`), InvalidValue, Presale},

		{"number", Messages, with(buyer, `5`), Malformed, Presale},
		{"true", Messages, with(buyer, `true`), Malformed, Presale},
		{"false", Messages, with(buyer, `false`), Malformed, Presale},
		{"object", Messages, with(buyer, `{}`), Malformed, Presale},
		{"array", Messages, with(buyer, `[]`), Malformed, Presale},
		{"array of the value", Messages, with(buyer, `["aftersale"]`), Malformed, Presale},

		// Agent and auto messages: any value is ignored, as an unknown field's.
		{"agent: aftersale ignored", Messages, with(agent, `"aftersale"`), OK, Presale},
		{"agent: number ignored", Messages, with(agent, `5`), OK, Presale},
		{"agent: bad string ignored", Messages, with(agent, `"other"`), OK, Presale},
		{"agent: object ignored", Messages, with(agent, `{"a":[true]}`), OK, Presale},
		{"auto: aftersale ignored", Messages, with(auto, `"aftersale"`), OK, Presale},
		{"auto: number ignored", Messages, with(auto, `5`), OK, Presale},
		{"auto: array ignored", Messages, with(auto, `[]`), OK, Presale},
		{"agent: scene is still JSON", Messages, with(agent, `01`), Malformed, Presale},

		// Order events: an unknown field, even beside a sender "buyer".
		{"order: aftersale ignored", Orders, with(order, `"aftersale"`), OK, Presale},
		{"order: number ignored", Orders, with(order, `5`), OK, Presale},
		{"order: bad string ignored", Orders, with(order, `"other"`), OK, Presale},
		{"order: with sender buyer", Orders, `{"sender":"buyer",` + with(order, `5`)[1:], OK, Presale},
		{"order: scene is still JSON", Orders, with(order, `[1,]`), Malformed, Presale},

		// Ranking: the sender decides whether scene is read at all.
		{"sender absent, scene 5: not read", Messages, `{` + ids + `"scene":5,` + ts + `}`, MissingField, Presale},
		{"sender null, scene 5: not read", Messages, `{` + ids + `"sender":null,"scene":5,` + ts + `}`, MissingField, Presale},
		{"sender empty, scene 5: not read", Messages, `{` + ids + `"sender":"","scene":5,` + ts + `}`, MissingField, Presale},
		{"sender bot, scene 5: not read", Messages, `{` + ids + `"sender":"bot","scene":5,` + ts + `}`, InvalidValue, Presale},
		{"sender Buyer, scene 5: not read", Messages, `{` + ids + `"sender":"Buyer","scene":5,` + ts + `}`, InvalidValue, Presale},
		{"sender agent without agent_id, scene 5: not read", Messages, `{` + ids + `"sender":"agent","scene":5,` + ts + `}`, MissingField, Presale},
		{"sender a number, scene aftersale", Messages, `{` + ids + `"sender":5,"scene":"aftersale",` + ts + `}`, Malformed, Presale},
		{"buyer, scene 5, no buyer_id: malformed outranks missing", Messages, `{"event_id":"e","shop_id":"s","sender":"buyer","scene":5,` + ts + `}`, Malformed, Presale},
		{"buyer, scene 5, no ts: malformed outranks missing", Messages, `{` + ids + `"sender":"buyer","scene":5}`, Malformed, Presale},
		{"buyer, scene other, no buyer_id: missing outranks invalid", Messages, `{"event_id":"e","shop_id":"s","sender":"buyer","scene":"other",` + ts + `}`, MissingField, Presale},
		{"buyer, scene other, bad shop id: invalid either way", Messages, `{"event_id":"e","shop_id":"s/1","buyer_id":"b","sender":"buyer","scene":"other",` + ts + `}`, InvalidValue, Presale},
		{"buyer, scene aftersale, bad ts", Messages, `{` + ids + `"sender":"buyer","scene":"aftersale","ts":"2026-11-20T10:00:00"}`, InvalidValue, Presale},

		// Duplicates resolve as every known key's (scan.go, resolve): the first occurrence
		// counts and the others need only be JSON.
		{"duplicate: first wins", Messages, `{"scene":"aftersale","scene":"presale",` + buyer[1:] + `}`, OK, Aftersale},
		{"duplicate: later wrong type ignored", Messages, `{"scene":"aftersale",` + with(buyer, `5`)[1:], OK, Aftersale},
		{"duplicate: later bad string ignored", Messages, `{"scene":"aftersale",` + with(buyer, `"other"`)[1:], OK, Aftersale},
		{"duplicate: later null ignored", Messages, `{"scene":"aftersale",` + with(buyer, `null`)[1:], OK, Aftersale},
		{"duplicate: earlier null counts", Messages, `{"scene":null,` + with(buyer, `"aftersale"`)[1:], OK, Presale},
		{"duplicate: earlier wrong type is malformed", Messages, `{"scene":5,` + with(buyer, `"aftersale"`)[1:], Malformed, Presale},
		{"duplicate: earlier bad string is invalid", Messages, `{"scene":"other",` + with(buyer, `"aftersale"`)[1:], InvalidValue, Presale},
		{"duplicate on an agent message: ignored", Messages, `{"scene":5,` + with(agent, `"other"`)[1:], OK, Presale},
		// A buyer message lacks agent_id, so by the time scene is settled every key counts
		// unescaped and the escaped spelling, first in the record, wins (as for ts and sender
		// in TestScan's "after a lookup fell back").
		{"duplicate: escaped then plain", Messages, `{"sc\u0065ne":"presale",` + with(buyer, `"aftersale"`)[1:], OK, Presale},
		{"duplicate: plain then escaped", Messages, `{"scene":"aftersale",` + buyer[1:] + `,"sc\u0065ne":"presale"}`, OK, Aftersale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, r := Decode(tc.topic, []byte(tc.in))
			if r != tc.want || e.Scene != tc.scene {
				t.Errorf("Decode = %q scene %v, want %q %v", r, e.Scene, tc.want, tc.scene)
			}
			if oe, or := oracleDecode(tc.topic, []byte(tc.in)); oe != e || or != r {
				t.Errorf("oracle gives %q %+v, Decode %q %+v", or, oe, r, e)
			}
		})
	}
}
