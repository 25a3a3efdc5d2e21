package synth

import (
	"strconv"
	"time"

	"github.com/cskpi/cskpi/pipeline/event"
	"github.com/cskpi/cskpi/pipeline/jsonl"
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

// obj is an ordered JSON object under construction.
type obj []field

func (o obj) get(k string) (string, bool) {
	for _, f := range o {
		if f.k == k {
			return f.v, true
		}
	}
	return "", false
}

func (o obj) clone() obj { return append(obj(nil), o...) }

// set replaces (or appends) a string member.
func (o obj) set(k, v string) obj { return o.put(field{k: k, v: v}) }

// setLit replaces (or appends) a literal member.
func (o obj) setLit(k, v string) obj { return o.put(field{k: k, v: v, lit: true}) }

func (o obj) put(f field) obj {
	for i := range o {
		if o[i].k == f.k {
			o[i] = f
			return o
		}
	}
	return append(o, f)
}

func (o obj) del(k string) obj {
	for i := range o {
		if o[i].k == k {
			return append(o[:i:i], o[i+1:]...)
		}
	}
	return o
}

func (o obj) bytes() []byte {
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

// key is the conversation key an object routes by, taken before any field is bent so that a
// broken record still lands on its conversation's partition.
func (o obj) key() string {
	shop, _ := o.get("shop_id")
	buyer, _ := o.get("buyer_id")
	return shop + "/" + buyer
}

// topicOf reads the routing topic an object was built with.
func (o obj) topicOf() event.Topic {
	if t, _ := o.get("topic"); t == "orders" {
		return event.Orders
	}
	return event.Messages
}

// raw carries arbitrary bytes as a record of o's topic and conversation.
func (o obj) raw(value []byte) []byte { return jsonl.Raw(o.topicOf(), o.key(), value) }

// formatTime is appendTime without the quotes, for obj members.
func formatTime(ns int64, loc *time.Location) string {
	return time.Unix(0, ns).In(loc).Format(time.RFC3339Nano)
}
