package synth

import (
	"strconv"
	"time"

	"github.com/cskpi/cskpi/event"
)

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. The generator's strings are its own (ids, names),
// so only the characters JSON forbids raw need care; UTF-8 passes through untouched.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendTime writes a Unix-ns time as an RFC 3339 JSON string in loc. Shops on Chinese
// platforms stamp +08:00 and others UTC, so consumers see both spellings of one instant.
func appendTime(b []byte, ns int64, loc *time.Location) []byte {
	b = append(b, '"')
	b = time.Unix(0, ns).In(loc).AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendAmount writes integer fen as a yuan string with two decimals, the way shops send it.
func appendAmount(b []byte, fen int64) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, fen/100, 10)
	b = append(b, '.', byte('0'+fen%100/10), byte('0'+fen%10))
	return append(b, '"')
}

// field is one member of an object built on the rare paths (invalid records, the test log),
// where records are bent in ways the fast writers cannot express: a value may be any JSON
// literal, or absent.
type field struct {
	k, v string
	lit  bool // v is a JSON literal (number, null, true), not a string
}

// Record is an ordered JSON object under construction: a valid event to publish as it is,
// or to bend into a broken one (Break). The generator and the differential test log build
// records with it.
type Record []field

// NewRecord is a record of string members, given as key, value pairs.
func NewRecord(kv ...string) Record {
	o := make(Record, 0, len(kv)/2+4)
	for i := 0; i+1 < len(kv); i += 2 {
		o = append(o, field{k: kv[i], v: kv[i+1]})
	}
	return o
}

// Get is the value of member k, if o has it.
func (o Record) Get(k string) (string, bool) {
	for _, f := range o {
		if f.k == k {
			return f.v, true
		}
	}
	return "", false
}

// Clone is a copy of o that changes independently.
func (o Record) Clone() Record { return append(Record(nil), o...) }

// Set replaces (or appends) a string member.
func (o Record) Set(k, v string) Record { return o.put(field{k: k, v: v}) }

// SetLit replaces (or appends) a literal member.
func (o Record) SetLit(k, v string) Record { return o.put(field{k: k, v: v, lit: true}) }

func (o Record) put(f field) Record {
	for i := range o {
		if o[i].k == f.k {
			o[i] = f
			return o
		}
	}
	return append(o, f)
}

// SetScene writes the scene of a message (CONTRACT §1): "aftersale" for after-sale, and for
// pre-sale either nothing (the default) or, when explicit, "presale", as some platforms
// write it.
func (o Record) SetScene(s event.Scene, explicit bool) Record {
	if s == event.Presale && !explicit {
		return o.Del("scene")
	}
	return o.Set("scene", s.String())
}

// Del removes member k.
func (o Record) Del(k string) Record {
	for i := range o {
		if o[i].k == k {
			return append(o[:i:i], o[i+1:]...)
		}
	}
	return o
}

// Bytes is o as one JSON line.
func (o Record) Bytes() []byte {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	for i, f := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.k)
		b = append(b, ':')
		if f.lit {
			b = append(b, f.v...)
		} else {
			b = appendString(b, f.v)
		}
	}
	return append(b, '}')
}

// Key is the conversation key an object routes by, taken before any field is bent so that a
// broken record still lands on its conversation's partition.
func (o Record) Key() string {
	shop, _ := o.Get("shop_id")
	buyer, _ := o.Get("buyer_id")
	return shop + "/" + buyer
}

// TopicOf reads the routing topic an object was built with.
func (o Record) TopicOf() event.Topic {
	if t, _ := o.Get("topic"); t == "orders" {
		return event.Orders
	}
	return event.Messages
}

// formatTime is appendTime without the quotes, for Record members.
func formatTime(ns int64, loc *time.Location) string {
	return time.Unix(0, ns).In(loc).Format(time.RFC3339Nano)
}
