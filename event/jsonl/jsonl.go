package jsonl

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cskpi/cskpi/event"
)

// Record is one line of an event file: the bytes to publish, where, and under which key.
type Record struct {
	Topic event.Topic
	Key   []byte
	Value []byte
}

// CONTRACT §1's topic names, which a kcat envelope's "topic" is matched against unless the
// Format names others.
const (
	DefaultMessagesTopic = "cs.messages"
	DefaultOrdersTopic   = "cs.orders"
)

// Format reads event files. Its fields name the Kafka topics of the two roles, which only
// kcat envelopes carry (see Parse); "" means the default name. The zero Format is the
// format with CONTRACT §1's names.
type Format struct {
	Messages, Orders string
}

// head is what a line's routing needs; the value itself is published unchanged.
type head struct {
	Topic   string          `json:"topic"`
	Key     json.RawMessage `json:"key"` // raw, so that an envelope's key keeps its bytes
	RawB64  *string         `json:"raw_b64"`
	ShopID  any             `json:"shop_id"`
	BuyerID any             `json:"buyer_id"`
	Sender  any             `json:"sender"`

	// kcat -J's envelope around a consumed record; see Parse.
	Payload   json.RawMessage `json:"payload"`
	Partition json.RawMessage `json:"partition"`
	Offset    json.RawMessage `json:"offset"`
}

// MaxLine bounds a line; records beyond 64 KiB exist only to be rejected as oversize.
const MaxLine = 4 << 20

// Parse turns one line into a record, with the default topic names.
func Parse(line []byte) (Record, error) { return Format{}.Parse(line) }

// Read calls fn for each non-empty line of r, in order, with the default topic names.
func Read(r io.Reader, fn func(Record) error) error { return Format{}.Read(r, fn) }

// Parse turns one line into a record.
//
// A line is a JSON object. Its "topic" field ("messages" or "orders") names the topic; without
// it, a line with a "sender" field goes to messages, any other to orders. The line itself is
// the record value (the decoder ignores unknown fields such as "topic"), keyed by
// "<shop_id>/<buyer_id>". A line with "raw_b64" publishes those decoded bytes verbatim instead,
// keyed by its "key" field: that is how a file carries records that are not valid events.
//
// A line with the "payload", "partition" and "offset" fields is a kcat envelope, one line of
// `kcat -C -J` (topic, partition, offset, tstype, ts, broker, key, payload): the record is
// its payload, byte for byte, under its key (null: none), and its "topic" is a Kafka topic
// name, which must be f's messages or orders topic. Each line is judged on its own, so
// envelopes and event lines may be mixed in one file.
func (f Format) Parse(line []byte) (Record, error) {
	var h head
	if err := json.Unmarshal(line, &h); err != nil {
		return Record{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if h.Payload != nil && h.Partition != nil && h.Offset != nil {
		return f.envelope(&h)
	}
	var r Record
	switch h.Topic {
	case "messages":
		r.Topic = event.Messages
	case "orders":
		r.Topic = event.Orders
	case "":
		if h.Sender != nil {
			r.Topic = event.Messages
		} else {
			r.Topic = event.Orders
		}
	default:
		return Record{}, fmt.Errorf("unknown topic %q", h.Topic)
	}
	if h.RawB64 != nil {
		v, err := base64.StdEncoding.DecodeString(*h.RawB64)
		if err != nil {
			return Record{}, fmt.Errorf("raw_b64: %w", err)
		}
		r.Value = v
	} else {
		r.Value = append([]byte(nil), line...)
	}
	if key, ok := unquote(h.Key); ok {
		r.Key = key
	} else {
		shop, _ := h.ShopID.(string)
		buyer, _ := h.BuyerID.(string)
		r.Key = []byte(shop + "/" + buyer)
	}
	return r, nil
}

// envelope turns a kcat envelope into its record.
func (f Format) envelope(h *head) (Record, error) {
	var r Record
	switch msgs, orders := f.names(); h.Topic {
	case msgs:
		r.Topic = event.Messages
	case orders:
		r.Topic = event.Orders
	default:
		return Record{}, fmt.Errorf("kcat envelope of topic %q, which is neither the messages topic %q nor the orders topic %q", h.Topic, msgs, orders)
	}
	// kcat writes a tombstone's payload as null: a record without a value.
	if string(h.Payload) != "null" {
		v, ok := unquote(h.Payload)
		if !ok {
			return Record{}, errors.New("kcat envelope: payload is not a string")
		}
		r.Value = v
	}
	r.Key, _ = unquote(h.Key)
	return r, nil
}

func (f Format) names() (messages, orders string) {
	messages, orders = f.Messages, f.Orders
	if messages == "" {
		messages = DefaultMessagesTopic
	}
	if orders == "" {
		orders = DefaultOrdersTopic
	}
	return messages, orders
}

// Read calls fn for each non-empty line of r, in order, and stops at the first line that is
// not a record (naming it) or the first error of fn.
func (f Format) Read(r io.Reader, fn func(Record) error) error {
	return f.Scan(r, func(n int, rec Record, err error) error {
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		return fn(rec)
	})
}

// Scan calls fn for each non-empty line of r, in order, with its line number (from 1) and
// its record or why it is not one, and stops at the first error fn returns. Unlike Read it
// goes on past bad lines, for a caller that reports them all (`cskpi check`).
func (f Format) Scan(r io.Reader, fn func(n int, rec Record, err error) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		rec, err := f.Parse(line)
		if err := fn(n, rec, err); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}

// Raw makes the line that carries arbitrary bytes as a record.
func Raw(topic event.Topic, key string, value []byte) []byte {
	b, _ := json.Marshal(map[string]string{
		"topic":   topic.String(),
		"key":     key,
		"raw_b64": base64.StdEncoding.EncodeToString(value),
	})
	return b
}

// Envelope makes the line `kcat -C -J` writes for a record (partition, offset and timestamp
// 0): a dump that produce and recompute read back, for tests and tools. A nil key is null.
func Envelope(topic string, key, value []byte) []byte {
	b := []byte(`{"topic":`)
	b = quote(b, []byte(topic))
	b = append(b, `,"partition":0,"offset":0,"tstype":"create","ts":0,"broker":0,"key":`...)
	if key == nil {
		b = append(b, "null"...)
	} else {
		b = quote(b, key)
	}
	b = append(b, `,"payload":`...)
	if value == nil {
		b = append(b, "null"...)
	} else {
		b = quote(b, value)
	}
	return append(b, '}')
}

// quote appends s as a JSON string as kcat writes it: quotes, backslashes and control
// characters escaped, every other byte as it is.
func quote(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// unquote decodes a JSON string literal the way a record's bytes need: escapes are decoded
// and every other byte is kept as it is, invalid UTF-8 included. encoding/json would replace
// invalid UTF-8 with U+FFFD, and a payload kcat copied out of a topic (it escapes only
// quotes, backslashes and control characters) would no longer be the record the service
// judged. ok is false for anything but a string (absent, null, a number...).
func unquote(q []byte) (b []byte, ok bool) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return nil, false
	}
	return event.AppendUnescaped(make([]byte, 0, len(q)-2), q[1:len(q)-1])
}
