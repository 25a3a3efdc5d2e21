package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Fault is what is wrong with a rejected record, in the record's own words: the reason, the
// key at fault and its value as the record spells it. It is what `cskpi check` shows and the
// dead-letter header cskpi-reject-detail carries.
type Fault struct {
	Reason Reason
	// Field is the key at fault as the contract names it ("agent_id"); "" when the record
	// as a whole is at fault (oversize, not UTF-8, not JSON, not an object, too deep).
	Field string
	// Value is the field's value as JSON text, as the record has it (a string quoted, an
	// object compacted), cut to maxFaultValue bytes; "" when the field is absent.
	Value string
	// Note is what else there is to say: what the field wants, or what is wrong with the
	// record as a whole.
	Note string
}

// String is the fault on one line: `missing_field: agent_id`,
// `invalid_value: scene "refund" (want presale or aftersale)`, `malformed: not JSON: …`;
// "" for OK.
func (f Fault) String() string {
	if f.Reason == OK {
		return ""
	}
	s := string(f.Reason)
	if f.Field != "" {
		s += ": " + f.Field
		if f.Value != "" {
			s += " " + f.Value
		}
		if f.Note != "" {
			s += " (" + f.Note + ")"
		}
		return s
	}
	if f.Note != "" {
		s += ": " + f.Note
	}
	return s
}

// maxFaultValue bounds the value a Fault quotes: enough to recognise it, short enough for a
// header and a line of check's report.
const maxFaultValue = 80

// Explain says why Decode rejects a record value of topic, naming the field and its value:
// the content reasons (oversize, malformed, missing_field, invalid_value) in CONTRACT §1's
// ranking; a Fault with Reason OK when Decode accepts it. The time reasons need the stream
// time and the clock: see Event.TimeFault.
//
// It is the slow path, for records already rejected (check's report, the dead-letter
// header): a second reading of the record with encoding/json, for the values as the record
// spells them and for the JSON faults the scanner does not locate; the field rules are
// check's own (event.go), which reports the field at fault. TestExplainAgreesWithDecode
// holds the two to the same reason on the test logs and the fuzz seeds.
func Explain(topic Topic, value []byte) Fault {
	if len(value) > MaxRecordBytes {
		return Fault{Reason: Oversize, Note: fmt.Sprintf("%d bytes, over %d", len(value), MaxRecordBytes)}
	}
	if !utf8.Valid(value) {
		i := 0
		for i < len(value) {
			r, size := utf8.DecodeRune(value[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		return malformed(fmt.Sprintf("not UTF-8 (byte %d)", i+1))
	}
	if err := json.Unmarshal(value, new(json.RawMessage)); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return malformed(fmt.Sprintf("not JSON: %s (byte %d)", se.Error(), se.Offset))
		}
		return malformed("not JSON: " + err.Error())
	}
	if tooDeep(value) {
		return malformed(fmt.Sprintf("nested deeper than %d levels", maxDepth))
	}
	if v := bytes.TrimLeft(value, " \t\r\n"); v[0] != '{' {
		return malformed("not a JSON object but " + jsonKind(v))
	}
	fields, err := topFields(value)
	if err != nil { // valid JSON read by the same package: cannot happen
		return malformed(err.Error())
	}
	return explainFields(topic, value, fields)
}

// TimeFault is the Fault of an event rejected for a time reason (too_old, future, from
// CheckTime): its ts, in UTC.
func (e *Event) TimeFault(r Reason) Fault {
	f := Fault{Reason: r, Field: "ts", Value: time.Unix(0, e.TS).UTC().Format(time.RFC3339Nano)}
	switch r {
	case TooOld:
		f.Note = "more than " + words(MaxAge) + " before the stream time"
	case Future:
		f.Note = "more than " + words(MaxAhead) + " after the clock"
	}
	return f
}

// words spells a duration of whole minutes for people: "28 days 1 hour", "10 minutes".
func words(d time.Duration) string {
	var parts []string
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}} {
		if n := int64(d / u.d); n > 0 {
			p := strconv.FormatInt(n, 10) + " " + u.name
			if n > 1 {
				p += "s"
			}
			parts = append(parts, p)
			d %= u.d
		}
	}
	return strings.Join(parts, " ")
}

func malformed(note string) Fault { return Fault{Reason: Malformed, Note: note} }

// occurrence is the value of a known field a record's object resolves to (see resolve).
type occurrence struct {
	present bool
	raw     string // the value's JSON text
}

// kind is the JSON type of the occurrence's value: '"' string, 'n' null, 't' true, 'f'
// false, '{' object, '[' array, '0' number; 0 when absent.
func (o occurrence) kind() byte {
	if !o.present {
		return 0
	}
	switch c := o.raw[0]; c {
	case '"', 'n', 't', 'f', '{', '[':
		return c
	}
	return '0'
}

// shown is the value as a Fault quotes it.
func (o occurrence) shown() string {
	if !o.present {
		return ""
	}
	s := o.raw
	if len(s) > maxFaultValue {
		k := maxFaultValue
		for k > 0 && !utf8.RuneStart(s[k]) {
			k--
		}
		s = s[:k] + "…"
	}
	return s
}

// topFields reads the top-level object of a valid JSON value and resolves its known fields
// the way the scanner does (scan.go: resolve): a key spelled with escapes yields to the same
// key spelled plainly, until a field has no plain spelling; from then on the first match
// after unescaping wins.
func topFields(value []byte) ([nFields]occurrence, error) {
	type seen struct {
		first, late       occurrence
		firstEsc, hasLate bool
	}
	var all [nFields]seen
	dec := json.NewDecoder(bytes.NewReader(value))
	if _, err := dec.Token(); err != nil { // '{'
		return [nFields]occurrence{}, err
	}
	for dec.More() {
		from := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return [nFields]occurrence{}, err
		}
		key, _ := tok.(string)
		to := dec.InputOffset()
		spelt := value[from:to]
		spelt = spelt[bytes.IndexByte(spelt, '"')+1 : len(spelt)-1]
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return [nFields]occurrence{}, err
		}
		f := -1
		for i, name := range fieldNames {
			if key == name {
				f = i
			}
		}
		if f < 0 {
			continue
		}
		esc := string(spelt) != key
		o := occurrence{present: true, raw: compact(raw)}
		switch s := &all[f]; {
		case !s.first.present:
			s.first, s.firstEsc = o, esc
		case !esc && s.firstEsc && !s.hasLate:
			s.late, s.hasLate = o, true
		}
	}
	var out [nFields]occurrence
	unescaped := false
	for f := range nFields {
		s := &all[f]
		out[f] = s.first
		if !unescaped && s.first.present {
			switch {
			case !s.firstEsc:
			case s.hasLate:
				out[f] = s.late
			default:
				unescaped = true
			}
		} else if !unescaped {
			unescaped = true // absent: no plain spelling either
		}
	}
	return out, nil
}

// compact is a value's JSON text on one line.
func compact(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// tooDeep says whether a valid JSON value nests a value deeper than maxDepth, counting the
// top level as depth 1 and a scalar as a level of its own (scan.go).
func tooDeep(b []byte) bool {
	open := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			open++
			if open > maxDepth {
				return true
			}
			j := skipWS(b, i+1)
			if b[j] != ']' && b[j] != '}' && open+1 > maxDepth { // holds a value one deeper
				return true
			}
		case ']', '}':
			open--
		}
	}
	return false
}

// jsonKind names the JSON type of a value's text.
func jsonKind(v []byte) string {
	switch v[0] {
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "a number"
}

// explainFields names the field at fault: a known field of the wrong JSON type (the
// scanner's malformed, which the scanner does not locate), else the field check (event.go)
// reports, with what it wants.
func explainFields(topic Topic, value []byte, o [nFields]occurrence) Fault {
	fault := func(r Reason, f int, note string) Fault {
		return Fault{Reason: r, Field: fieldNames[f], Value: o[f].shown(), Note: note}
	}
	for f := range fSpam {
		switch o[f].kind() {
		case 0, '"', 'n':
		default:
			return fault(Malformed, f, jsonKind([]byte(o[f].raw))+"; want a string or null")
		}
	}
	switch o[fSpam].kind() {
	case 0, 't', 'f', 'n':
	default:
		return fault(Malformed, fSpam, "want true, false or null")
	}
	var d Decoder
	var w wire
	if !d.scan(value, &w) { // valid JSON with well-typed fields: cannot happen
		return malformed("rejected by the decoder")
	}
	_, r, f := check(topic, &w)
	switch {
	case r == OK:
		return Fault{}
	case r == Malformed: // scene on a buyer message
		return fault(r, f, jsonKind([]byte(o[f].raw))+"; want a string or null")
	case r == MissingField:
		return fault(r, f, "")
	}
	return fault(r, f, wants(f, w.field(f), o))
}

// wants is what an invalid value of field f should be.
func wants(f int, v string, o [nFields]occurrence) string {
	switch f {
	case fEventID, fBuyerID, fOrderID, fRefundID:
		return fmt.Sprintf("%d bytes, over %d", len(v), 128)
	case fShopID:
		return "want 1-64 bytes of [A-Za-z0-9._-]"
	case fAgentID:
		return "want 1-64 bytes of [A-Za-z0-9._:-]"
	case fTS:
		return "want RFC 3339 with a zone, such as 2026-11-20T10:00:00+08:00"
	case fSender:
		return "want buyer, agent or auto"
	case fScene:
		return "want presale or aftersale"
	case fType:
		return "want order_created, order_paid, refund_disputed or refund_completed"
	case fAmount:
		return `want yuan as a decimal string, such as "12.50"`
	case fRefundRequestedAt:
		if _, ok := parseTime(v); ok {
			return "after ts " + o[fTS].shown()
		}
		return "want RFC 3339 with a zone"
	case fCompletedBy:
		return "want merchant or platform"
	}
	return ""
}
