package event

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// FuzzDecode: no input may crash the decoder, every outcome is one of the reasons, and an
// accepted record satisfies the contract's field rules.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_paid","order_id":"o","amount":"12.50","ts":"2026-11-20T10:00:00+08:00"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"refund_completed","order_id":"o","refund_id":"r","refund_requested_at":"2026-11-19T10:00:00Z","completed_by":"platform","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":null}`, `[]`, `{`, "\x00", `{"spam":true}`, `{"amount":1}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","scene":"aftersale","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"agent","agent_id":"a","scene":"aftersale","ts":"2026-11-20T10:00:00Z"}`,
	} {
		f.Add(uint8(0), []byte(s))
		f.Add(uint8(1), []byte(s))
	}
	f.Fuzz(func(t *testing.T, topic uint8, value []byte) {
		tp := Topic(topic % 2)
		e, r := Decode(tp, value)
		known := r == OK
		for _, k := range Reasons {
			known = known || r == k
		}
		if !known {
			t.Fatalf("unknown reason %q", r)
		}
		if r != OK {
			return
		}
		if len(value) > MaxRecordBytes || !utf8.Valid(value) || !json.Valid(value) {
			t.Fatalf("accepted an oversize, non-UTF-8 or invalid JSON record")
		}
		if e.ID == "" || len(e.ID) > 128 || !validID(e.Shop, 64, false) || e.Buyer == "" || len(e.Buyer) > 128 {
			t.Fatalf("accepted bad ids: %+v", e)
		}
		if tp == Messages && e.Sender != Buyer && !validID(e.Agent, 64, true) {
			t.Fatalf("accepted a reply without a valid agent: %+v", e)
		}
		if tp == Orders && (e.Kind == 0 || e.AmountFen < 0 || e.RequestedAt > e.TS) {
			t.Fatalf("accepted a bad order: %+v", e)
		}
		if e.Scene >= NumScenes || e.Scene != Presale && (tp != Messages || e.Sender != Buyer) {
			t.Fatalf("a scene on an event that does not read one: %+v", e)
		}
	})
}

// decodeSeeds are record values that exercise the decoder's paths: realistic records, every
// rejection reason, and the corners of JSON.
func decodeSeeds() []string {
	const (
		msg   = `{"event_id":"e-1","shop_id":"shop-042","buyer_id":"tb_1","sender":"agent","agent_id":"shop-042:mei","ts":"2026-11-20T10:00:07.250+08:00"}`
		order = `{"event_id":"o-1","shop_id":"shop-042","buyer_id":"tb_1","type":"order_paid","order_id":"TB-981","amount":"129.90","ts":"2026-11-20T10:02:41.007+08:00"}`
		tail  = `"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`
	)
	seeds := []string{
		msg, order,
		`{"topic":"messages","event_id":"e-1c2f00a9","shop_id":"shop-042","buyer_id":"tb_8821337","sender":"agent","agent_id":"shop-042:xiaomei","ts":"2026-11-20T10:00:07.250+08:00"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"auto","agent_id":"bot:1","ts":"2026-11-20T10:00:00Z","spam":true}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z","spam":false}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z","spam":null}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z","spam":1}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_created","order_id":"o","amount":"0.5","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"refund_disputed","order_id":"o","refund_id":"r","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"refund_completed","order_id":"o","refund_id":"r","refund_requested_at":"2026-11-19T10:00:00Z","completed_by":"platform","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"refund_completed","order_id":"o","refund_id":"r","refund_requested_at":"2026-11-21T10:00:00Z","completed_by":"merchant","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_paid","order_id":"o","amount":12.5,"ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_lost","order_id":"o","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"bad shop","buyer_id":"b","sender":"agent","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"bot","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00"}`,
		`{"event_id":null}`, `{"event_id":1}`, `{"event_id":[]}`, `{"event_id":{}}`, `{"event_id":true}`,
		`[]`, `[1]`, `"s"`, `1`, `null`, `{`, `}`, `{}`, ` {} `, "", " ", "\x00", `hello`,
		"{" + tail + strings.Repeat(" ", MaxRecordBytes-len(tail)-1), // exactly the limit
		"{" + tail + strings.Repeat(" ", MaxRecordBytes-len(tail)),   // one byte over
		"{\"event_id\":\"\xff\"}", "{\"event_id\":\"e\x01\"}", "{\"x\":\"\xed\xa0\x80\"}", "{\"x\":\"\xef\xbf\xbd\"}",
		// Escaped keys and duplicates.
		`{"event\u005fid":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"a","event\u005fid":"b","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event\u005fid":"a","event_id":"b","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"shop\u005fid":"a","shop_id":"b","event_id":"e","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z","event_id":1}`,
		`{"event_id":1,"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"spam":true,"spam":"x",` + tail,
		`{"sp\u0061m":"x","spam":true,` + tail,
		`{"\u0065vent_id":"e","\u0073hop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"EVENT_ID":"e",` + tail,
		// Unknown values of every kind, nested.
		`{"x":[1,{"a":[true,false,null,"s",-0.5e-3]},[],{}],` + tail,
		`{"x":{"event_id":1},` + tail,
		`{"x":` + strings.Repeat("[", 299) + strings.Repeat("]", 299) + `,` + tail,
		`{"x":` + strings.Repeat("[", 299) + `1` + strings.Repeat("]", 299) + `,` + tail,
		`{"x":` + strings.Repeat("[", 298) + `1` + strings.Repeat("]", 298) + `,` + tail,
		`{"x":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `,` + tail,
		`{"x":` + strings.Repeat(`{"a":`, 298) + `1` + strings.Repeat("}", 298) + `,` + tail,
		`{"x":` + strings.Repeat(`{"a":`, 299) + `{}` + strings.Repeat("}", 299) + `,` + tail,
		`{"x":` + strings.Repeat(`{"a":`, 299) + `1` + strings.Repeat("}", 299) + `,` + tail,
		`{"x":"` + strings.Repeat("[", 400) + `",` + tail,
		// Numbers.
		`{"x":-0,` + tail, `{"x":1e5,` + tail, `{"x":1E+5,` + tail, `{"x":01,` + tail, `{"x":1.,` + tail,
		`{"x":.5,` + tail, `{"x":-,` + tail, `{"x":1e,` + tail, `{"x":+1,` + tail, `{"x":0x1,` + tail,
		`{"x":NaN,` + tail, `{"x":Infinity,` + tail, `{"x":-Infinity,` + tail, `{"x":1.5.3,` + tail,
		`{"x":tru,` + tail, `{"x":truex,` + tail, `{"x":nul,` + tail, `{"x":nan,` + tail,
		// Commas and whitespace.
		`{"x":1,,` + tail, `{,` + tail, `{"x":[1,],` + tail, `{"x":[,1],` + tail,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z",}`,
		"\r\n\t {\r\n\t \"event_id\"\r\n\t :\r\n\t \"e\"\r\n\t ,\r\n\t \"shop_id\":\"s\",\"buyer_id\":\"b\",\"sender\":\"buyer\",\"ts\":\"2026-11-20T10:00:00Z\" \r\n\t } \r\n\t ",
		"\f{" + tail, "\v{" + tail, "\u00a0{" + tail, "\ufeff{" + tail, "{" + tail + "x", "{" + tail + "{}",
		// String escapes.
		`{"event_id":"e\u00e9\n\"\\\/\b\f\r\t","shop_id":"s","buyer_id":"b\u4e2d\u6587","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e\x","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e\u12","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e\u12G4","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e\u0000","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e\ud83d\ude00","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"\ud800","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"\ud800\u0041","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"\\ud800","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`,
		`{"sender":"b\u0075yer","event_id":"e","shop_id":"s","buyer_id":"b","ts":"2026-11-20T10:00:00Z"}`,
		`{"ts":"2026-11-20T10:00:00\u005a","event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer"}`,
		// scene: read on buyer messages only, ranked after sender (see check).
		`{"sc\u0065ne":"presale","scene":"aftersale",` + tail,
		`{"scene":"aftersale","sc\u0065ne":"presale",` + tail,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_paid","order_id":"o","amount":"1","scene":5,"ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"order_paid","order_id":"o","amount":"1","sender":"buyer","scene":"x","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","scene":5,"ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":null,"scene":5,"ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"bot","scene":5,"ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"Buyer","scene":"x","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","sender":"buyer","scene":5,"ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","sender":"buyer","scene":"x","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","s\u0065nder":"b\u0075yer","sc\u0065ne":"\u0061ftersale","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"bad shop","buyer_id":"b","sender":"buyer","scene":"x","ts":"2026-11-20T10:00:00Z"}`,
		`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","scene":[1,{"a":"aftersale"}],"ts":"2026-11-20T10:00:00Z"}`,
		`{"scene":"aftersale","scene":5,` + tail, `{"scene":5,"scene":"aftersale",` + tail,
		`{"scene":"aftersale",` + tail[:len(tail)-1] + `,"scene":null}`,
	}
	// Every kind of scene value, on a buyer's, an agent's and an auto message.
	for _, sc := range []string{
		`null`, `"presale"`, `"aftersale"`, `"Aftersale"`, `""`, `"other"`, `"aftersale "`, `"\u0061ftersale"`,
		`5`, `true`, `false`, `{}`, `[]`, `{"scene":"aftersale"}`,
	} {
		seeds = append(seeds,
			`{"scene":`+sc+`,`+tail,
			`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"agent","agent_id":"a:1","scene":`+sc+`,"ts":"2026-11-20T10:00:00Z"}`,
			`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"auto","agent_id":"bot","ts":"2026-11-20T10:00:00Z","scene":`+sc+`}`)
	}
	// Timestamps.
	for _, ts := range []string{
		"2026-11-20T10:00:00.5+08:00", "2026-11-20T10:00:00.123456789-05:30", "2026-11-20T10:00:00.1234567891Z",
		"2026-11-20t10:00:00Z", "2026-11-20T10:00:00z", "2026-11-20T10:00:00,5Z", "2026-11-20T10:00:00.Z",
		"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		"2026-11-20T24:00:00Z", "2026-11-20T23:59:60Z", "2026-11-20T10:00:00+24:00", "2026-11-20T10:00:00+23:60",
		"0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1677-12-31T23:59:59Z", "1678-01-01T00:00:00+01:00",
		"2261-12-31T23:59:59.999999999-23:59", "2262-01-01T00:00:00Z", "2026-11-20T1:00:00Z", "2026-11-20T10:00:00-00:00",
		"2026-11-20 10:00:00Z", "2026-11-20T10:00:00+0800", "2026-04-31T10:00:00Z", "2026-00-10T10:00:00Z",
	} {
		seeds = append(seeds,
			`{"event_id":"e","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"`+ts+`"}`,
			`{"event_id":"e","shop_id":"s","buyer_id":"b","type":"refund_completed","order_id":"o","refund_id":"r","refund_requested_at":"`+ts+`","completed_by":"merchant","ts":"2026-11-20T10:00:00Z"}`)
	}
	return seeds
}

// hasSurrogateEscape reports whether b has a \u escape of a UTF-16 surrogate, which the
// decoder reads as encoding/json does and fastjson did not (see scan.go).
func hasSurrogateEscape(b []byte) bool {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if r, ok := hex4(b, i+2); ok && b[i+1] == 'u' && utf16.IsSurrogate(r) {
			return true
		}
		i++ // the escaped character
	}
	return false
}

var fuzzDecoder Decoder

// FuzzDecodeMatchesOracle: the scanner decides and decodes every record as the fastjson-based
// decoder did, but for values with surrogate escapes, where only the malformed verdict must
// agree. A reused Decoder must give the same, and an event it returned must not change when
// it decodes the next record.
func FuzzDecodeMatchesOracle(f *testing.F) {
	for _, s := range decodeSeeds() {
		f.Add(uint8(Messages), []byte(s))
		f.Add(uint8(Orders), []byte(s))
	}
	next := []byte(`{"event_id":"zzzzzzzzzzzzzzzz","shop_id":"zzzzzzzzzzzzzzzz","buyer_id":"zzzzzzzzzzzzzzzz","sender":"agent","agent_id":"zzzzzzzzzzzzzzzz","type":"order_paid","order_id":"zzzzzzzzzzzzzzzz","amount":"1","refund_id":"zzzzzzzzzzzzzzzz","ts":"2026-11-20T10:00:00Z"}`)
	f.Fuzz(func(t *testing.T, topic uint8, value []byte) {
		tp := Topic(topic % 2)
		we, wr := oracleDecode(tp, value)
		ge, gr := Decode(tp, value)
		de, dr := fuzzDecoder.Decode(tp, value)
		if ge != de || gr != dr {
			t.Fatalf("Decode and a reused Decoder differ: %+v %q vs %+v %q", ge, gr, de, dr)
		}
		fuzzDecoder.Decode(tp, next)
		if de != ge {
			t.Fatalf("the next Decode changed an event: %+v, was %+v", de, ge)
		}
		if hasSurrogateEscape(value) {
			if (gr == Malformed) != (wr == Malformed) || (gr == Oversize) != (wr == Oversize) {
				t.Fatalf("%s %q: got %q, oracle %q", tp, value, gr, wr)
			}
			return
		}
		if ge != we || gr != wr {
			t.Fatalf("%s %q:\n got %q %+v\nwant %q %+v", tp, value, gr, ge, wr, we)
		}
	})
}

// timeSeeds are timestamps around the corners of the fast path.
var timeSeeds = []string{
	"2026-11-20T10:00:00Z", "2026-11-20T10:00:07.250+08:00", "2026-11-20T10:00:00.123456789-05:30",
	"2026-11-20T10:00:00.1234567891Z", "2026-11-20T10:00:00.000000000000000000001Z", "2026-11-20T10:00:00.Z",
	"2026-11-20t10:00:00Z", "2026-11-20T10:00:00z", "2026-11-20T10:00:00,5Z", "2026-11-20T10:00:00,123456789+01:00",
	"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2000-02-29T12:00:00Z", "2100-02-29T12:00:00Z", "1900-02-29T00:00:00Z",
	"2026-11-20T24:00:00Z", "2026-11-20T23:59:60Z", "2026-11-20T23:60:00Z", "2026-11-20T10:00:00+24:00",
	"2026-11-20T10:00:00+23:60", "2026-11-20T10:00:00-23:59", "2026-11-20T10:00:00+99:99",
	"0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1677-12-31T23:59:59Z", "1678-01-01T00:00:00Z",
	"1678-01-01T00:00:00+23:59", "1677-12-31T23:59:59-00:01", "2261-12-31T23:59:59.999999999-23:59",
	"2262-01-01T00:00:00Z", "2261-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z",
	"2026-11-20T1:00:00Z", "2026-11-20T10:00:00-00:00", "2026-11-20 10:00:00Z", "2026-11-20T10:00:00+0800",
	"2026-11-20T10:00:00+08", "2026-11-20T10:00:00+08:00:00", "2026-11-20T10:00:00UTC", "+2026-11-20T10:00:00Z",
	"2026-1-20T10:00:00Z", "2026-04-31T10:00:00Z", "2026-00-10T10:00:00Z", "2026-13-10T10:00:00Z",
	"2026-11-00T10:00:00Z", "-001-11-20T10:00:00Z", "2026-11-20T10:00:00", "", "Z", "2026-11-20T10:00:00+08:0a",
	"2026-11-20T10:00:00Z ", " 2026-11-20T10:00:00Z", "2026-11-20T10:00:00.5", "2026-11-20T10:00:00.-5Z",
}

// FuzzParseTime: parseTime, fast path and all, is time.Parse with the year check.
func FuzzParseTime(f *testing.F) {
	for _, s := range timeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gok := parseTime(s)
		want, wok := oracleParseTime(s)
		if got != want || gok != wok {
			t.Fatalf("parseTime(%q) = %d, %v; time.Parse gives %d, %v", s, got, gok, want, wok)
		}
		if ns, ok := parseTimeFast(s); ok && (!wok || ns != want) {
			t.Fatalf("parseTimeFast(%q) = %d, time.Parse gives %d, %v", s, ns, want, wok)
		}
	})
}
