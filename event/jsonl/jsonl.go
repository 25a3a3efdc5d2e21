package jsonl

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
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

// head is what a line's routing needs; the value itself is published unchanged.
type head struct {
	Topic   string  `json:"topic"`
	Key     *string `json:"key"`
	RawB64  *string `json:"raw_b64"`
	ShopID  any     `json:"shop_id"`
	BuyerID any     `json:"buyer_id"`
	Sender  any     `json:"sender"`
}

// MaxLine bounds a line; records beyond 64 KiB exist only to be rejected as oversize.
const MaxLine = 4 << 20

// Parse turns one line into a record.
//
// A line is a JSON object. Its "topic" field ("messages" or "orders") names the topic; without
// it, a line with a "sender" field goes to messages, any other to orders. The line itself is
// the record value (the decoder ignores unknown fields such as "topic"), keyed by
// "<shop_id>/<buyer_id>". A line with "raw_b64" publishes those decoded bytes verbatim instead,
// keyed by its "key" field: that is how a file carries records that are not valid events.
func Parse(line []byte) (Record, error) {
	var h head
	if err := json.Unmarshal(line, &h); err != nil {
		return Record{}, fmt.Errorf("not a JSON object: %w", err)
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
	switch {
	case h.Key != nil:
		r.Key = []byte(*h.Key)
	default:
		shop, _ := h.ShopID.(string)
		buyer, _ := h.BuyerID.(string)
		r.Key = []byte(shop + "/" + buyer)
	}
	return r, nil
}

// Read calls fn for each non-empty line of r, in order.
func Read(r io.Reader, fn func(Record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		rec, err := Parse(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return sc.Err()
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
