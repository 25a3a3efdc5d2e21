package event

// The fastjson-based JSON layer this package used before the single-pass scanner, kept
// (renamed) as the oracle of FuzzDecodeMatchesOracle: the scanner must return the same
// (Event, Reason) for every input but the documented lone-surrogate case. The field rules
// that follow parsing (check) are the package's: they did not change with the scanner. But
// for scene, which is read on buyer messages only: the oracle applies that rule itself, so
// that the fuzzer compares two models of it.

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
	Scene                                         *fastjson.Value // nil: absent
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
	// scene is looked up last, after spam, as the scanner settles it last (fScene): fastjson
	// unescapes an object's keys on the first lookup that finds no plain key, which decides
	// which duplicate each later lookup finds.
	w.Scene = o.Get("scene")
	if !ok {
		return Event{}, Malformed
	}
	// The field rules after parsing are the package's own check: this oracle is for the JSON
	// layer the scanner replaced, and a second copy of the rules would only have to be kept
	// in step with the first. scene is left out of check's input: its rule is modelled here.
	e, r, _ := check(topic, &wire{
		EventID: w.EventID, ShopID: w.ShopID, BuyerID: w.BuyerID, Sender: w.Sender, AgentID: w.AgentID, TS: w.TS,
		Spam: w.Spam != nil && *w.Spam,
		Type: w.Type, OrderID: w.OrderID, Amount: w.Amount, RefundID: w.RefundID,
		RefundRequestedAt: w.RefundRequestedAt, CompletedBy: w.CompletedBy,
	})
	// scene is read on a message whose sender is exactly "buyer", and only there. A value that
	// is neither a string nor null makes such a record malformed, which outranks whatever
	// else it lacks; a string other than "presale" and "aftersale" is invalid_value, ranked
	// after the other fields' missing_field. On any other record (sender absent, invalid,
	// agent or auto; an order event) scene is not looked at: the reason is the other fields'.
	sc := w.Scene
	if topic != Messages || w.Sender != "buyer" || sc == nil || sc.Type() == fastjson.TypeNull {
		return e, r
	}
	if sc.Type() != fastjson.TypeString {
		return Event{}, Malformed
	}
	if r != OK {
		return e, r
	}
	switch string(sc.GetStringBytes()) {
	case "presale":
	case "aftersale":
		e.Scene = Aftersale
	default:
		return Event{}, InvalidValue
	}
	return e, r
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
