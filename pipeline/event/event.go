package event

import (
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Topic is the role of a topic; the actual names are configurable.
type Topic uint8

const (
	Messages Topic = iota
	Orders
)

func (t Topic) String() string {
	if t == Orders {
		return "orders"
	}
	return "messages"
}

// Sender of a message event.
type Sender uint8

const (
	Buyer Sender = iota + 1
	Agent
	Auto
)

// Kind of an order event.
type Kind uint8

const (
	OrderCreated Kind = iota + 1
	OrderPaid
	RefundDisputed
	RefundCompleted
)

// Reason is why a record was rejected; the empty Reason means valid.
type Reason string

const (
	OK           Reason = ""
	Oversize     Reason = "oversize"
	Malformed    Reason = "malformed"
	MissingField Reason = "missing_field"
	InvalidValue Reason = "invalid_value"
	TooOld       Reason = "too_old"
	Future       Reason = "future"
)

// Reasons in the order SPEC §1 ranks them.
var Reasons = []Reason{Oversize, Malformed, MissingField, InvalidValue, TooOld, Future}

const (
	// MaxRecordBytes is the largest accepted record value (64 KiB).
	MaxRecordBytes = 64 << 10
	// MaxAge is how far before stream time a ts may be: 28 days + 1 hour.
	MaxAge = 28*24*time.Hour + time.Hour
	// MaxAhead is how far after the wall clock a ts may be.
	MaxAhead = 10 * time.Minute
)

// Event is one validated record. Times are Unix nanoseconds, amounts integer fen.
type Event struct {
	Topic Topic
	ID    string
	Shop  string
	Buyer string
	TS    int64
	Spam  bool

	// Message events.
	Sender Sender
	Agent  string

	// Order events.
	Kind        Kind
	OrderID     string
	AmountFen   int64
	RefundID    string
	RequestedAt int64
	ByMerchant  bool
}

// Conversation is the Kafka key producers use: "<shop_id>/<buyer_id>".
func (e *Event) Conversation() string { return e.Shop + "/" + e.Buyer }

// wire is the JSON shape of both event kinds. JSON null and absence both read as ""
// (missing); a value of the wrong JSON type makes the record malformed.
type wire struct {
	EventID, ShopID, BuyerID, Sender, AgentID, TS string
	Spam                                          *bool
	Type, OrderID, Amount, RefundID               string
	RefundRequestedAt, CompletedBy                string
}

// Decoder decodes records; it reuses its parser's memory, so each goroutine needs its own.
// fastjson is used rather than encoding/json because decoding is the largest per-record
// cost of the pipeline, and it matches keys exactly (encoding/json would take "EVENT_ID"
// for "event_id").
type Decoder struct {
	p fastjson.Parser
}

// Decode decodes with a fresh Decoder; hot paths keep one.
func Decode(topic Topic, value []byte) (Event, Reason) {
	var d Decoder
	return d.Decode(topic, value)
}

// str reads an optional string field: ok is false for a value of another JSON type.
func str(o *fastjson.Object, key string) (string, bool) {
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
func (d *Decoder) Decode(topic Topic, value []byte) (Event, Reason) {
	if len(value) > MaxRecordBytes {
		return Event{}, Oversize
	}
	// fastjson's parser is lenient (leading zeros, NaN, raw control characters, bad
	// escapes); the contract says JSON, so the value is validated strictly first.
	if !utf8.Valid(value) || !precheck(value) || fastjson.ValidateBytes(value) != nil {
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
	var w wire
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
		*f.dst, good = str(o, f.key)
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
	ts, ok := parseTime(w.TS)
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
		req, ok := parseTime(w.RefundRequestedAt)
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

// CheckTime applies the two time reasons. stream is the stream time (Unix ns) known when the
// record is validated; haveStream is false before any record was applied.
func (e *Event) CheckTime(stream int64, haveStream bool, wallNow int64) Reason {
	if haveStream && e.TS < stream-int64(MaxAge) {
		return TooOld
	}
	if e.TS > wallNow+int64(MaxAhead) {
		return Future
	}
	return OK
}

// maxDepth bounds nesting, as fastjson's parser does: its validator has no bound, and
// costs quadratic time on deep input.
const maxDepth = 300

// precheck does in one pass what fastjson leaves unchecked: nesting within maxDepth, no raw
// control characters in strings, and only the escapes \" \\ \/ \b \f \n \r \t \uXXXX.
func precheck(b []byte) bool {
	depth := 0
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !in {
			switch c {
			case '"':
				in = true
			case '[', '{':
				if depth++; depth > maxDepth {
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

// validID: 1..max bytes of [A-Za-z0-9._-], plus ':' for agent ids.
func validID(s string, max int, colon bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		case c == ':' && colon:
		default:
			return false
		}
	}
	return true
}

// parseTime accepts RFC 3339 with a zone and up to nanosecond precision.
func parseTime(s string) (int64, bool) {
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

// ParseAmount turns a yuan decimal string (^\d{1,12}(\.\d{1,2})?$) into exact fen.
func ParseAmount(s string) (int64, bool) {
	var yuan, frac int64
	i, n := 0, len(s)
	for i < n && s[i] >= '0' && s[i] <= '9' {
		yuan = yuan*10 + int64(s[i]-'0')
		i++
	}
	if i == 0 || i > 12 {
		return 0, false
	}
	if i == n {
		return yuan * 100, true
	}
	if s[i] != '.' {
		return 0, false
	}
	i++
	digits := 0
	for i < n && s[i] >= '0' && s[i] <= '9' && digits < 2 {
		frac = frac*10 + int64(s[i]-'0')
		i++
		digits++
	}
	if digits == 0 || i != n {
		return 0, false
	}
	if digits == 1 {
		frac *= 10
	}
	return yuan*100 + frac, true
}

// FormatAmount is ParseAmount's inverse, for producers and tests.
func FormatAmount(fen int64) string {
	b := []byte{}
	b = append(b, []byte(itoa(fen/100))...)
	b = append(b, '.', byte('0'+fen%100/10), byte('0'+fen%10))
	return string(b)
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return string(buf[i:])
}
