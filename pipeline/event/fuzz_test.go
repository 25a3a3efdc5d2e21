package event

import (
	"encoding/json"
	"testing"
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
	})
}
