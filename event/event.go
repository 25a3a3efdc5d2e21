package event

import (
	"strings"
	"time"
)

// Topic is the role of a topic; the actual names are configurable.
// Topic is the role of an input topic (its name is configuration).
type Topic uint8

const (
	Messages Topic = iota
	Orders
	NumTopics // the number of topic roles, for arrays indexed by Topic
)

// Letter is the role's one-letter name in stored keys: "m" or "o".
func (t Topic) Letter() string { return t.String()[:1] }

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

// Scene is where the buyer opened the chat (CONTRACT §1): after-sale when from an order, a
// refund or a dispute, pre-sale otherwise. It is read on buyer messages only.
type Scene uint8

const (
	Presale Scene = iota // the default: absent or null
	Aftersale
	NumScenes // the number of scenes, for arrays indexed by Scene
)

// String is the scene as the input and the scene label spell it.
func (s Scene) String() string {
	if s == Aftersale {
		return "aftersale"
	}
	return "presale"
}

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

// Reasons in the order CONTRACT §1 ranks them.
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
	Scene  Scene // of a buyer message; Presale on every other event

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

// wire holds the known fields of a record. JSON null and absence both read as "" (missing);
// a value of the wrong JSON type makes the record malformed. The strings are views of the
// record value and of the Decoder's scratch buffer (see scan), valid only during Decode.
//
// scene is the exception: it is read on buyer messages only, so its type is not a fault
// until check knows the sender, and "" is a value there (invalid), not an absence.
type wire struct {
	EventID, ShopID, BuyerID, Sender, AgentID, TS string
	Spam                                          bool
	Type, OrderID, Amount, RefundID               string
	RefundRequestedAt, CompletedBy                string
	Scene                                         string    // when SceneIs is sceneString
	SceneIs                                       sceneKind // what the scene field holds
}

// sceneKind is what a record's scene field holds, as far as check cares.
type sceneKind uint8

const (
	sceneNone   sceneKind = iota // absent or null: the default, Presale
	sceneString                  // a string, in wire.Scene
	sceneOther                   // a number, true, false, an object or an array
)

// Decoder decodes records. It reuses its scratch memory, so each goroutine needs its own.
//
// Decoding is the largest per-record cost of the pipeline, so a record is read in one pass
// by a scanner that knows the schema (scan.go): it validates the whole value as strict JSON
// (RFC 8259, UTF-8, nesting within maxDepth), notes where the known fields are, unescaping
// into buf only those that have escapes, and matches keys exactly (encoding/json would take
// "EVENT_ID" for "event_id"). An accepted record costs one allocation: the strings the Event
// keeps, copied out together. A rejected one costs none, but for a timestamp the fast path
// leaves to time.Parse and time.Parse rejects (its error is allocated).
type Decoder struct {
	buf []byte      // the unescaped values of the known fields that have escapes
	key []byte      // an object key that had escapes, unescaped
	occ occurrences // where the known fields of the record being decoded are
}

// Decode decodes with a fresh Decoder; hot paths keep their own, which reuses its buffers.
func Decode(topic Topic, value []byte) (Event, Reason) {
	var d Decoder
	return d.Decode(topic, value)
}

// Decode checks a record value of the given topic for the content reasons (oversize,
// malformed, missing_field, invalid_value) and returns the event when it has none. The time
// reasons need the stream time and the clock: see CheckTime.
func (d *Decoder) Decode(topic Topic, value []byte) (e Event, r Reason) {
	if len(value) > MaxRecordBytes {
		return Event{}, Oversize
	}
	var w wire
	if !d.scan(value, &w) {
		return Event{}, Malformed
	}
	if e, r, _ = check(topic, &w); r == OK {
		own(&e)
	}
	return e, r
}

// own copies the strings e keeps, which are views of the record value and the Decoder's
// buffer, into one new string: the only allocation of an accepted record.
func own(e *Event) {
	var b strings.Builder
	b.Grow(len(e.ID) + len(e.Shop) + len(e.Buyer) + len(e.Agent) + len(e.OrderID) + len(e.RefundID))
	for _, f := range [...]string{e.ID, e.Shop, e.Buyer, e.Agent, e.OrderID, e.RefundID} {
		b.WriteString(f)
	}
	s := b.String()
	for _, f := range [...]*string{&e.ID, &e.Shop, &e.Buyer, &e.Agent, &e.OrderID, &e.RefundID} {
		n := len(*f)
		*f, s = s[:n], s[n:]
	}
}

// check applies the missing_field and invalid_value rules to a record's fields, and the
// malformed rule to scene, the one field whose type matters only on some records. It also
// says which field is at fault (-1 for none), which Explain (explain.go) names: the rules
// are stated once, here.
func check(topic Topic, w *wire) (Event, Reason, int) {
	e := Event{Topic: topic, ID: w.EventID, Shop: w.ShopID, Buyer: w.BuyerID}
	e.Spam = w.Spam
	// scene (CONTRACT §1) is read on buyer messages only; on agent and auto messages any JSON
	// value is ignored, as on order events, where it is an unknown field. A message is a
	// buyer's when its sender is exactly "buyer" (after unescaping), whatever else the record
	// has or lacks, so a scene that is not a string or null makes a buyer message malformed
	// before any missing_field (malformed outranks it): sender "buyer", scene 5 and no
	// buyer_id is malformed. Without a valid sender the record has no buyer to read scene
	// for: sender absent (or null, or "") and scene 5 is missing_field, sender "bot" and
	// scene 5 invalid_value, as without the scene. The oracle (oracle_test.go) models the
	// same rule on its own.
	if w.SceneIs == sceneOther && topic == Messages && w.Sender == "buyer" {
		return Event{}, Malformed, fScene
	}
	// missing_field outranks invalid_value, so every presence check runs first.
	if w.EventID == "" || w.ShopID == "" || w.BuyerID == "" || w.TS == "" {
		return Event{}, MissingField, w.firstEmpty(fEventID, fShopID, fBuyerID, fTS)
	}
	if topic == Messages {
		if w.Sender == "" {
			return Event{}, MissingField, fSender
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
			return Event{}, MissingField, fAgentID
		}
	} else {
		if w.Type == "" || w.OrderID == "" {
			return Event{}, MissingField, w.firstEmpty(fType, fOrderID)
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
				return Event{}, MissingField, fAmount
			}
		case RefundDisputed:
			if w.RefundID == "" {
				return Event{}, MissingField, fRefundID
			}
		case RefundCompleted:
			if w.RefundID == "" || w.RefundRequestedAt == "" || w.CompletedBy == "" {
				return Event{}, MissingField, w.firstEmpty(fRefundID, fRefundRequestedAt, fCompletedBy)
			}
		}
	}

	// invalid_value.
	switch {
	case len(w.EventID) > 128:
		return Event{}, InvalidValue, fEventID
	case len(w.BuyerID) > 128:
		return Event{}, InvalidValue, fBuyerID
	case !validID(w.ShopID, 64, false):
		return Event{}, InvalidValue, fShopID
	}
	ts, ok := parseTime(w.TS)
	if !ok {
		return Event{}, InvalidValue, fTS
	}
	e.TS = ts
	if topic == Messages {
		switch e.Sender {
		case 0:
			return Event{}, InvalidValue, fSender
		case Buyer:
			// A string other than the two is invalid, "" and other cases included.
			if w.SceneIs == sceneString {
				switch w.Scene {
				case "presale":
				case "aftersale":
					e.Scene = Aftersale
				default:
					return Event{}, InvalidValue, fScene
				}
			}
		case Agent, Auto:
			if !validID(w.AgentID, 64, true) {
				return Event{}, InvalidValue, fAgentID
			}
			e.Agent = w.AgentID
		}
		return e, OK, -1
	}
	if e.Kind == 0 {
		return Event{}, InvalidValue, fType
	}
	if len(w.OrderID) > 128 {
		return Event{}, InvalidValue, fOrderID
	}
	e.OrderID = w.OrderID
	switch e.Kind {
	case OrderCreated, OrderPaid:
		fen, ok := ParseAmount(w.Amount)
		if !ok {
			return Event{}, InvalidValue, fAmount
		}
		e.AmountFen = fen
	case RefundDisputed:
		if len(w.RefundID) > 128 {
			return Event{}, InvalidValue, fRefundID
		}
		e.RefundID = w.RefundID
	case RefundCompleted:
		if len(w.RefundID) > 128 {
			return Event{}, InvalidValue, fRefundID
		}
		e.RefundID = w.RefundID
		req, ok := parseTime(w.RefundRequestedAt)
		if !ok || req > ts {
			return Event{}, InvalidValue, fRefundRequestedAt
		}
		e.RequestedAt = req
		switch w.CompletedBy {
		case "merchant":
			e.ByMerchant = true
		case "platform":
		default:
			return Event{}, InvalidValue, fCompletedBy
		}
	}
	return e, OK, -1
}

// firstEmpty is the first of fs that the record lacks: the field a missing_field names.
func (w *wire) firstEmpty(fs ...int) int {
	for _, f := range fs {
		if w.field(f) == "" {
			return f
		}
	}
	return fs[0]
}

// field is the value of a known string field.
func (w *wire) field(f int) string {
	return [...]string{fEventID: w.EventID, fShopID: w.ShopID, fBuyerID: w.BuyerID, fTS: w.TS,
		fSender: w.Sender, fAgentID: w.AgentID, fType: w.Type, fOrderID: w.OrderID, fAmount: w.Amount,
		fRefundID: w.RefundID, fRefundRequestedAt: w.RefundRequestedAt, fCompletedBy: w.CompletedBy,
		fSpam: "", fScene: w.Scene}[f]
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

// parseTime accepts RFC 3339 with a zone and up to nanosecond precision: exactly what
// time.Parse(time.RFC3339Nano, s) accepts, in the years 1678..2261, as Unix nanoseconds.
// parseTimeFast reads the shapes producers send; whatever it does not fully recognise, valid
// or not, goes to time.Parse, so the fast path only ever decides a subset of time.Parse's
// own successes.
func parseTime(s string) (int64, bool) {
	if ns, ok := parseTimeFast(s); ok {
		return ns, true
	}
	return parseTimeStd(s)
}

// parseTimeStd is parseTime by time.Parse.
func parseTimeStd(s string) (int64, bool) {
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
