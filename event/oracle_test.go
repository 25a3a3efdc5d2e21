package event

// The fastjson-based decoder this package used before the single-pass scanner, kept verbatim
// (renamed) as the oracle of FuzzDecodeMatchesOracle: the scanner must return the same
// (Event, Reason) for every input but the documented lone-surrogate case. validID and
// ParseAmount are shared with the package, which did not change them.

import (
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// oracleDecode decodes value as the package did with fastjson.
func oracleDecode(topic Topic, value []byte) (Event, Reason) {
	var d oracleDecoder
	return d.decode(topic, value)
}

// oracleWire is the JSON shape of both event kinds. JSON null and absence both read as ""
// (missing); a value of the wrong JSON type makes the record malformed.
type oracleWire struct {
	EventID, ShopID, BuyerID, Sender, AgentID, TS string
	Spam                                          *bool
	Type, OrderID, Amount, RefundID               string
	RefundRequestedAt, CompletedBy                string
}

// oracleDecoder decodes records; it reuses its parser's memory, so each goroutine needs its own.
// fastjson is used rather than encoding/json because decoding is the largest per-record
// cost of the pipeline, and it matches keys exactly (encoding/json would take "EVENT_ID"
// for "event_id").
type oracleDecoder struct {
	p fastjson.Parser
}

// oracleStr reads an optional string field: ok is false for a value of another JSON type.
func oracleStr(o *fastjson.Object, key string) (string, bool) {
	v := o.Get(key)
	if v == nil {
		return "", true
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return "", true
	case fastjson.TypeString:
		return string(v.GetStringBytes()), true
	}
	return "", false
}

// Decode checks a record value of the given topic for the content reasons (oversize,
// malformed, missing_field, invalid_value) and returns the event when it has none. The time
// reasons need the stream time and the clock: see CheckTime.
func (d *oracleDecoder) decode(topic Topic, value []byte) (Event, Reason) {
	if len(value) > MaxRecordBytes {
		return Event{}, Oversize
	}
	// fastjson's parser is lenient (leading zeros, NaN, raw control characters, bad
	// escapes); the contract says JSON, so the value is validated strictly first.
	if !utf8.Valid(value) || !oraclePrecheck(value) || fastjson.ValidateBytes(value) != nil {
		return Event{}, Malformed
	}
	v, err := d.p.ParseBytes(value)
	if err != nil {
		return Event{}, Malformed
	}
	o, err := v.Object()
	if err != nil {
		return Event{}, Malformed
	}
	var w oracleWire
	ok := true
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"event_id", &w.EventID}, {"shop_id", &w.ShopID}, {"buyer_id", &w.BuyerID}, {"ts", &w.TS},
		{"sender", &w.Sender}, {"agent_id", &w.AgentID}, {"type", &w.Type}, {"order_id", &w.OrderID},
		{"amount", &w.Amount}, {"refund_id", &w.RefundID}, {"refund_requested_at", &w.RefundRequestedAt},
		{"completed_by", &w.CompletedBy},
	} {
		var good bool
		*f.dst, good = oracleStr(o, f.key)
		ok = ok && good
	}
	if sp := o.Get("spam"); sp != nil {
		switch sp.Type() {
		case fastjson.TypeTrue:
			t := true
			w.Spam = &t
		case fastjson.TypeFalse, fastjson.TypeNull:
		default:
			ok = false
		}
	}
	if !ok {
		return Event{}, Malformed
	}
	e := Event{Topic: topic, ID: w.EventID, Shop: w.ShopID, Buyer: w.BuyerID}
	if w.Spam != nil {
		e.Spam = *w.Spam
	}
	// missing_field outranks invalid_value, so every presence check runs first.
	if w.EventID == "" || w.ShopID == "" || w.BuyerID == "" || w.TS == "" {
		return Event{}, MissingField
	}
	if topic == Messages {
		if w.Sender == "" {
			return Event{}, MissingField
		}
		switch w.Sender {
		case "buyer":
			e.Sender = Buyer
		case "agent":
			e.Sender = Agent
		case "auto":
			e.Sender = Auto
		}
		if e.Sender != Buyer && e.Sender != 0 && w.AgentID == "" {
			return Event{}, MissingField
		}
	} else {
		if w.Type == "" || w.OrderID == "" {
			return Event{}, MissingField
		}
		switch w.Type {
		case "order_created":
			e.Kind = OrderCreated
		case "order_paid":
			e.Kind = OrderPaid
		case "refund_disputed":
			e.Kind = RefundDisputed
		case "refund_completed":
			e.Kind = RefundCompleted
		}
		switch e.Kind {
		case OrderCreated, OrderPaid:
			if w.Amount == "" {
				return Event{}, MissingField
			}
		case RefundDisputed:
			if w.RefundID == "" {
				return Event{}, MissingField
			}
		case RefundCompleted:
			if w.RefundID == "" || w.RefundRequestedAt == "" || w.CompletedBy == "" {
				return Event{}, MissingField
			}
		}
	}

	// invalid_value.
	if len(w.EventID) > 128 || len(w.BuyerID) > 128 || !validID(w.ShopID, 64, false) {
		return Event{}, InvalidValue
	}
	ts, ok := oracleParseTime(w.TS)
	if !ok {
		return Event{}, InvalidValue
	}
	e.TS = ts
	if topic == Messages {
		switch e.Sender {
		case 0:
			return Event{}, InvalidValue
		case Agent, Auto:
			if !validID(w.AgentID, 64, true) {
				return Event{}, InvalidValue
			}
			e.Agent = w.AgentID
		}
		return e, OK
	}
	if e.Kind == 0 || len(w.OrderID) > 128 {
		return Event{}, InvalidValue
	}
	e.OrderID = w.OrderID
	switch e.Kind {
	case OrderCreated, OrderPaid:
		fen, ok := ParseAmount(w.Amount)
		if !ok {
			return Event{}, InvalidValue
		}
		e.AmountFen = fen
	case RefundDisputed:
		if len(w.RefundID) > 128 {
			return Event{}, InvalidValue
		}
		e.RefundID = w.RefundID
	case RefundCompleted:
		if len(w.RefundID) > 128 {
			return Event{}, InvalidValue
		}
		e.RefundID = w.RefundID
		req, ok := oracleParseTime(w.RefundRequestedAt)
		if !ok || req > ts {
			return Event{}, InvalidValue
		}
		e.RequestedAt = req
		switch w.CompletedBy {
		case "merchant":
			e.ByMerchant = true
		case "platform":
		default:
			return Event{}, InvalidValue
		}
	}
	return e, OK
}

// oracleMaxDepth bounds nesting, as fastjson's parser does: its validator has no bound, and
// costs quadratic time on deep input.
const oracleMaxDepth = 300

// oraclePrecheck does in one pass what fastjson leaves unchecked: nesting within oracleMaxDepth, no raw
// control characters in strings, and only the escapes \" \\ \/ \b \f \n \r \t \uXXXX.
func oraclePrecheck(b []byte) bool {
	depth := 0
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !in {
			switch c {
			case '"':
				in = true
			case '[', '{':
				if depth++; depth > oracleMaxDepth {
					return false
				}
			case ']', '}':
				depth--
			}
			continue
		}
		switch {
		case c == '"':
			in = false
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(b) {
				return false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return false
				}
				for _, h := range b[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return !in
}

// oracleParseTime accepts RFC 3339 with a zone and up to nanosecond precision.
func oracleParseTime(s string) (int64, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	// Years outside what UnixNano can hold are not times any shop sends.
	if t.Year() < 1678 || t.Year() > 2261 {
		return 0, false
	}
	return t.UnixNano(), true
}
