package event

import (
	"strings"
	"testing"
)

// TestScan: the corners of the single-pass scanner, each checked against the fastjson-based
// oracle too (but for the lone-surrogate cases, which differ on purpose).
func TestScan(t *testing.T) {
	const tail = `"shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`
	const full = `"event_id":"e",` + tail
	deep := func(open, mid, close string, n int) string {
		return `{"x":` + strings.Repeat(open, n) + mid + strings.Repeat(close, n) + `,` + full
	}
	for _, tc := range []struct {
		name   string
		in     string
		want   Reason
		id     string // the event id, when want is OK
		buyer  string
		spam   bool
		oracle bool // the fastjson-based decoder agrees
	}{
		{"plain", `{` + full, OK, "e", "b", false, true},
		{"empty object", `{}`, MissingField, "", "", false, true},
		{"whitespace everywhere", " \t\r\n{ \t\r\n\"event_id\" \t\r\n: \t\r\n\"e\" \t\r\n, \t\r\n" + tail + " \t\r\n", OK, "e", "b", false, true},
		{"form feed is not whitespace", "\f{" + full, Malformed, "", "", false, true},
		{"no-break space is not whitespace", "\u00a0{" + full, Malformed, "", "", false, true},
		{"byte order mark", "\ufeff{" + full, Malformed, "", "", false, true},
		{"trailing garbage", `{` + full + `x`, Malformed, "", "", false, true},
		{"two objects", `{` + full + `{}`, Malformed, "", "", false, true},
		{"trailing comma", `{"event_id":"e",` + tail[:len(tail)-1] + `,}`, Malformed, "", "", false, true},
		{"leading comma", `{,` + full, Malformed, "", "", false, true},
		{"double comma", `{"x":1,,` + full, Malformed, "", "", false, true},
		{"missing colon", `{"x" 1,` + full, Malformed, "", "", false, true},
		{"non-string key", `{x:1,` + full, Malformed, "", "", false, true},
		{"array trailing comma", `{"x":[1,],` + full, Malformed, "", "", false, true},
		{"array leading comma", `{"x":[,1],` + full, Malformed, "", "", false, true},
		{"mismatched brackets", `{"x":[1},` + full, Malformed, "", "", false, true},

		{"escaped key", `{"event\u005fid":"e",` + tail, OK, "e", "b", false, true},
		{"all-escaped key", `{"\u0065\u0076\u0065\u006e\u0074\u005f\u0069\u0064":"e",` + tail, OK, "e", "b", false, true},
		{"key case matters", `{"EVENT_ID":"e",` + tail, MissingField, "", "", false, true},
		{"key with an escaped slash", `{"event\/id":"x",` + full, OK, "e", "b", false, true},
		{"duplicate: first wins", `{"event_id":"a","event_id":"z",` + tail, OK, "a", "b", false, true},
		{"duplicate: later wrong type ignored", `{` + full[:len(full)-1] + `,"event_id":1}`, OK, "e", "b", false, true},
		{"duplicate: earlier wrong type is malformed", `{"event_id":1,` + full, Malformed, "", "", false, true},
		{"duplicate: escaped then raw, raw wins for the first lookup", `{"event\u005fid":"a","event_id":"z",` + tail, OK, "z", "b", false, true},
		{"duplicate: raw then escaped", `{"event_id":"a","event\u005fid":"z",` + tail, OK, "a", "b", false, true},
		{"duplicate: escaped then raw, every earlier lookup raw", `{"buyer\u005fid":"x","buyer_id":"y","event_id":"e","shop_id":"s","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, OK, "e", "y", false, true},
		{"duplicate: escaped then raw, raw wins", `{"event_id":"e","shop_id":"s","buyer_id":"b","ts":"2026-11-20T10:00:00Z","s\u0065nder":"buyer","sender":"bot"}`, InvalidValue, "", "", false, true},
		{"duplicate: escaped then raw after a lookup fell back", `{"event_id":"e","shop_id":"s","buyer_id":"b","t\u0073":"2026-11-20T10:00:00Z","s\u0065nder":"buyer","sender":"bot"}`, OK, "e", "b", false, true},
		{"duplicate: escaped then raw, later field with a raw lookup", `{"event\u005fid":1,"event_id":"e",` + tail, OK, "e", "b", false, true},
		{"duplicate spam: first wins", `{"spam":true,"spam":"x",` + full, OK, "e", "b", true, true},
		{"duplicate spam: escaped wrong type first", `{"sp\u0061m":"x","spam":true,` + full, Malformed, "", "", false, true},

		{"unknown nested values", `{"x":[1,{"a":[true,false,null,"s",-0.5e-3]},[],{}],"y":{"event_id":1},` + full, OK, "e", "b", false, true},
		{"array 299 deep with a scalar", deep("[", "1", "]", 298), OK, "e", "b", false, true},
		{"array 300 deep, empty", deep("[", "", "]", 299), OK, "e", "b", false, true},
		{"array 300 deep with a scalar", deep("[", "1", "]", 299), Malformed, "", "", false, true},
		{"array 301 deep", deep("[", "", "]", 300), Malformed, "", "", false, true},
		{"object 300 deep, empty", deep(`{"a":`, "{}", "}", 298), OK, "e", "b", false, true},
		{"object 300 deep with a scalar", deep(`{"a":`, `{"a":1}`, "}", 298), Malformed, "", "", false, true},
		{"brackets in strings do not nest", `{"x":"` + strings.Repeat("[{", 400) + `",` + full, OK, "e", "b", false, true},
		{"60 000 open brackets", `{"x":` + strings.Repeat("[", 60000), Malformed, "", "", false, true},

		{"number -0", `{"x":-0,` + full, OK, "e", "b", false, true},
		{"number 1e5", `{"x":1e5,` + full, OK, "e", "b", false, true},
		{"number 1E+5", `{"x":1E+5,` + full, OK, "e", "b", false, true},
		{"number -1.5e-10", `{"x":-1.5e-10,` + full, OK, "e", "b", false, true},
		{"number 01", `{"x":01,` + full, Malformed, "", "", false, true},
		{"number -01", `{"x":-01,` + full, Malformed, "", "", false, true},
		{"number 1.", `{"x":1.,` + full, Malformed, "", "", false, true},
		{"number .5", `{"x":.5,` + full, Malformed, "", "", false, true},
		{"number 1e", `{"x":1e,` + full, Malformed, "", "", false, true},
		{"number +1", `{"x":+1,` + full, Malformed, "", "", false, true},
		{"number -", `{"x":-,` + full, Malformed, "", "", false, true},
		{"number 0x1", `{"x":0x1,` + full, Malformed, "", "", false, true},
		{"number 1.5.3", `{"x":1.5.3,` + full, Malformed, "", "", false, true},
		{"NaN", `{"x":NaN,` + full, Malformed, "", "", false, true},
		{"Infinity", `{"x":-Infinity,` + full, Malformed, "", "", false, true},
		{"truncated literal", `{"x":tru,` + full, Malformed, "", "", false, true},
		{"literal with a tail", `{"x":truex,` + full, Malformed, "", "", false, true},
		{"capital literal", `{"spam":True,` + full, Malformed, "", "", false, true},

		{"escapes unescaped", `{"event_id":"e\"\\\/\b\f\n\r\t\u00e9\u4e2d",` + tail, OK, "e\"\\/\b\f\n\r\té中", "b", false, true},
		{"escaped NUL", `{"event_id":"\u0000",` + tail, OK, "\x00", "b", false, true},
		{"surrogate pair", `{"event_id":"\ud83d\ude00",` + tail, OK, "😀", "b", false, true},
		{"escaped backslash before u", `{"event_id":"\\ud800",` + tail, OK, `\ud800`, "b", false, true},
		{"lone high surrogate", `{"event_id":"a\ud800b",` + tail, OK, "a\uFFFDb", "b", false, false},
		{"lone low surrogate", `{"event_id":"\udc00",` + tail, OK, "\uFFFD", "b", false, false},
		{"high surrogate then a letter escape", `{"event_id":"\ud800\u0041",` + tail, OK, "\uFFFDA", "b", false, false},
		{"reversed pair", `{"event_id":"\udc00\ud800\udc00",` + tail, OK, "\uFFFD\U00010000", "b", false, false},
		{"raw U+FFFD", "{\"event_id\":\"\xef\xbf\xbd\"," + tail, OK, "\uFFFD", "b", false, true},
		{"UTF-8 encoded surrogate", "{\"event_id\":\"\xed\xa0\x80\"," + tail, Malformed, "", "", false, true},
		{"overlong UTF-8", "{\"event_id\":\"\xc0\xaf\"," + tail, Malformed, "", "", false, true},
		{"invalid UTF-8 in an unknown key", "{\"\xff\":1," + full, Malformed, "", "", false, true},
		{"raw tab in a string", "{\"x\":\"a\tb\"," + full, Malformed, "", "", false, true},
		{"raw DEL in a string", "{\"event_id\":\"\x7f\"," + tail, OK, "\x7f", "b", false, true},
		{"bad escape", `{"x":"\a",` + full, Malformed, "", "", false, true},
		{"short unicode escape", `{"x":"\u12",` + full, Malformed, "", "", false, true},
		{"non-hex unicode escape", `{"x":"\u12g4",` + full, Malformed, "", "", false, true},
		{"escape at the end", `{"x":"\`, Malformed, "", "", false, true},
		{"unterminated string", `{"x":"abc`, Malformed, "", "", false, true},

		{"escaped value of a closed set", `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"b\u0075yer","ts":"2026-11-20T10:00:00Z"}`, OK, "e", "b", false, true},
		{"escaped timestamp", `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00\u005a"}`, OK, "e", "b", false, true},
		{"spam true", `{"spam":true,` + full, OK, "e", "b", true, true},
		{"spam null", `{"spam":null,` + full, OK, "e", "b", false, true},
		{"spam string", `{"spam":"true",` + full, Malformed, "", "", false, true},
		{"spam number", `{"spam":1,` + full, Malformed, "", "", false, true},
		{"string field as object", `{"x":1,"ts":{},"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer"}`, Malformed, "", "", false, true},
		{"string field as array", `{"sender":[],"event_id":"e","shop_id":"s","buyer_id":"b","ts":"2026-11-20T10:00:00Z"}`, Malformed, "", "", false, true},
		{"string field as false", `{"agent_id":false,` + full, Malformed, "", "", false, true},
		{"order field on a message is still typed", `{"amount":1,` + full, Malformed, "", "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, r := Decode(Messages, []byte(tc.in))
			if r != tc.want {
				t.Fatalf("Decode = %q, want %q", r, tc.want)
			}
			if r == OK && (e.ID != tc.id || e.Buyer != tc.buyer || e.Spam != tc.spam) {
				t.Errorf("decoded id %q buyer %q spam %v, want %q %q %v", e.ID, e.Buyer, e.Spam, tc.id, tc.buyer, tc.spam)
			}
			oe, or := oracleDecode(Messages, []byte(tc.in))
			if (oe == e && or == r) != tc.oracle {
				t.Errorf("oracle gives %q %+v (agreement expected: %v)", or, oe, tc.oracle)
			}
		})
	}
}

// TestDecodeAllocs: one allocation for an accepted record, none for a rejected one but one
// with a timestamp the fast path does not read, which time.Parse rejects with an error value.
func TestDecodeAllocs(t *testing.T) {
	for _, tc := range []struct {
		topic  Topic
		in     string
		allocs float64
	}{
		{Messages, `{"topic":"messages","event_id":"e-1c2f00a9","shop_id":"shop-042","buyer_id":"tb_8821337","sender":"agent","agent_id":"shop-042:xiaomei","ts":"2026-11-20T10:00:07.250+08:00"}`, 1},
		{Orders, `{"event_id":"e","shop_id":"s","buyer_id":"b","type":"refund_completed","order_id":"o","refund_id":"r","refund_requested_at":"2026-11-19T10:00:00Z","completed_by":"merchant","ts":"2026-11-20T10:00:00.5Z"}`, 1},
		{Messages, `{"event\u005fid":"e\u00e9","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z","x":[1,{"a":null}]}`, 1},
		{Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer"}`, 0},
		{Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"bot","ts":"2026-11-20T10:00:00Z"}`, 0},
		{Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z",}`, 0},
		{Orders, `{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_paid","order_id":"o","amount":"1.005","ts":"2026-11-20T10:00:00Z"}`, 0},
		{Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","scene":"aftersale","ts":"2026-11-20T10:00:00Z"}`, 1},
		{Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","sc\u0065ne":"\u0061ftersale","ts":"2026-11-20T10:00:00Z"}`, 1},
		{Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"agent","agent_id":"a","scene":{"x":[5]},"ts":"2026-11-20T10:00:00Z"}`, 1},
		{Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","scene":5,"ts":"2026-11-20T10:00:00Z"}`, 0},
		{Messages, `{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","scene":"other","ts":"2026-11-20T10:00:00Z"}`, 0},
	} {
		var d Decoder
		value := []byte(tc.in)
		d.Decode(tc.topic, value) // sizes the scratch buffers
		if got := testing.AllocsPerRun(100, func() { d.Decode(tc.topic, value) }); got != tc.allocs {
			t.Errorf("%s: %v allocations, want %v", tc.in, got, tc.allocs)
		}
	}
}
