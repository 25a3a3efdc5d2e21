package windows

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"github.com/cskpi/cskpi/event"
)

// The Redis values are compact binary so that a batch's script call stays small; field
// names stay readable for an operator with redis-cli.

// codecVersion is the conversation encoding this build writes. Each value starts with its
// version and every earlier one still decodes (docs/UPGRADING.md): 1 (layouts 1 and 2's
// first builds), 2 added the conversation's last message time, 3 its recent replies, 4 its
// last replying agent, 5 the scenes of the open episode and its messages, and the
// conversation's orders.
const codecVersion = 5

var (
	errCorrupt = errors.New("windows: corrupt state value")
	// errNewerCodec is a conversation encoded by a newer build.
	errNewerCodec = errors.New("windows: conversation encoded by a newer build")
)

type writer struct{ b []byte }

func (w *writer) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) str(s string)     { w.uvarint(uint64(len(s))); w.b = append(w.b, s...) }

// entry writes one vector of a bucket with its owner's names (shop and agent are a string
// or bytes: an entry copied from an encoding keeps its names as bytes).
func entry[S string | []byte](w *writer, shop, agent S, v []int64) {
	w.uvarint(uint64(len(shop)))
	w.b = append(w.b, shop...)
	w.uvarint(uint64(len(agent)))
	w.b = append(w.b, agent...)
	w.uvarint(uint64(len(v)))
	for _, x := range v {
		w.varint(x)
	}
}
func (w *writer) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length and checks it against what is left, so corrupt input cannot make
// us allocate without bound.
func (r *reader) count() int {
	v := r.uvarint()
	if v > uint64(len(r.b)) {
		r.err = errCorrupt
		return 0
	}
	return int(v)
}

func (r *reader) str() string { return string(r.bytes()) }

// bytes reads a length-prefixed byte string without copying it.
func (r *reader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) bool() bool {
	if len(r.b) == 0 {
		r.err = errCorrupt
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

func encodeConv(c *conv, replies []reply) []byte {
	w := writer{b: make([]byte, 0, 32)}
	w.uvarint(codecVersion)
	w.varint(c.last)
	w.convBody(c)
	w.replies(replies)
	w.str(c.lastAgent)
	w.scenesAndOrders(c)
	return w.b
}

// legacyPayments counts the payments without an order id (restored from codecs 1 to 4).
func legacyPayments(c *conv) int {
	n := 0
	for _, o := range c.orders {
		if o.id == "" {
			n++
		}
	}
	return n
}

// scenesAndOrders writes what codec 5 added: the open episode's scene and its after-sale
// messages (as bit words), then the order events.
func (w *writer) scenesAndOrders(c *conv) {
	if c.open {
		w.uvarint(uint64(c.scene))
		w.uvarint(uint64(len(c.afterBits())))
		for _, x := range c.afterBits() {
			w.uvarint(x)
		}
	}
	w.uvarint(uint64(len(c.orders) - legacyPayments(c)))
	for _, o := range c.orders {
		if o.id == "" {
			continue
		}
		w.str(o.id)
		w.varint(o.ts)
		w.bool(o.paid)
		if o.paid {
			w.varint(o.fen)
		}
	}
}

// convBody writes what every conversation codec holds, in its order: the open episode,
// the cohorts, the payments and the buyers served.
func (w *writer) convBody(c *conv) {
	w.bool(c.open)
	if c.open {
		w.varint(c.start)
		w.uvarint(uint64(len(c.msgs)))
		prev := c.start
		for _, m := range c.msgs {
			w.varint(m - prev)
			prev = m
		}
	}
	w.uvarint(uint64(len(c.cohorts)))
	for _, co := range c.cohorts {
		w.varint(int64(co.date))
		w.varint(co.t0)
		w.bool(co.replied)
		w.str(co.agent)
		w.varint(int64(co.nPaid))
		w.varint(co.fen)
	}
	// The payments without an order id (restored from codecs 1 to 4); codec 5 writes the
	// others with their order's events.
	w.uvarint(uint64(legacyPayments(c)))
	for _, o := range c.orders {
		if o.id == "" {
			w.varint(o.ts)
			w.varint(o.fen)
		}
	}
	w.uvarint(uint64(len(c.served)))
	for _, s := range c.served {
		w.str(s.agent)
		w.varint(int64(s.date))
		w.varint(s.ts)
	}
}

// replies writes a conversation's recent replies (codec 3 on).
func (w *writer) replies(rs []reply) {
	w.uvarint(uint64(len(rs)))
	for _, r := range rs {
		w.str(r.agent)
		w.varint(r.ts)
	}
}

func decodeConv(b []byte) (*conv, []reply, error) {
	r := reader{b: b}
	version := r.uvarint()
	switch {
	case r.err != nil || version == 0:
		return nil, nil, errCorrupt
	case version > codecVersion:
		return nil, nil, errNewerCodec
	}
	c := &conv{last: minInt64}
	if version >= 2 {
		c.last = r.varint()
	}
	c.open = r.bool()
	if c.open {
		c.start = r.varint()
		n := r.count()
		prev := c.start
		for i := 0; i < n && r.err == nil; i++ {
			prev += r.varint()
			c.msgs = append(c.msgs, prev)
		}
	}
	n := r.count()
	for i := 0; i < n && r.err == nil; i++ {
		var co cohort
		co.date = int32(r.varint())
		co.t0 = r.varint()
		co.replied = r.bool()
		co.agent = r.str()
		co.nPaid = int32(r.varint())
		co.fen = r.varint()
		c.cohorts = append(c.cohorts, co)
	}
	n = r.count()
	for i := 0; i < n && r.err == nil; i++ {
		c.orders = append(c.orders, orderEvent{ts: r.varint(), fen: r.varint(), paid: true})
	}
	n = r.count()
	for i := 0; i < n && r.err == nil; i++ {
		var s served
		s.agent = r.str()
		s.date = int32(r.varint())
		s.ts = r.varint()
		c.served = append(c.served, s)
	}
	var replies []reply
	if version >= 3 {
		n = r.count()
		for i := 0; i < n && r.err == nil; i++ {
			var rp reply
			rp.agent = r.str()
			rp.ts = r.varint()
			replies = append(replies, rp)
		}
	}
	if version >= 4 {
		c.lastAgent = r.str()
	}
	if version >= 5 {
		if c.open {
			sc := r.uvarint()
			if sc >= uint64(event.NumScenes) {
				r.err = errCorrupt
			}
			c.scene = event.Scene(sc)
			n = r.count()
			if n > (len(c.msgs)+63)/64 {
				r.err = errCorrupt
			}
			for i := 0; i < n && r.err == nil; i++ {
				if c.after == nil {
					c.after = new([]uint64)
				}
				*c.after = append(*c.after, r.uvarint())
			}
		}
		n = r.count()
		for i := 0; i < n && r.err == nil; i++ {
			var o orderEvent
			o.id = r.str()
			o.ts = r.varint()
			o.paid = r.bool()
			if o.paid {
				o.fen = r.varint()
			}
			if o.id == "" {
				r.err = errCorrupt
			}
			c.orders = append(c.orders, o)
		}
	}
	if r.err != nil || len(r.b) != 0 || (c.open && len(c.msgs) == 0) {
		return nil, nil, errCorrupt
	}
	if version < 2 {
		c.last = lastMessage(c)
	}
	return c, replies, nil
}

// lastMessage is what a conversation of codec 1, which did not keep its last message time,
// shows of it: the latest buyer message, cohort start and first reply it holds. The true
// time may be later; an earlier one only keeps state longer (expireConv), never drops what
// a later message could change.
func lastMessage(c *conv) int64 {
	last := int64(minInt64)
	for _, m := range c.msgs {
		last = max(last, m)
	}
	for _, co := range c.cohorts {
		last = max(last, co.t0)
	}
	for _, s := range c.served {
		last = max(last, s.ts)
	}
	return last
}

// appendID adds one (anchor, id) entry to a minute's id blob.
func appendID(b []byte, id string, anchor int64) []byte {
	b = binary.AppendVarint(b, anchor)
	b = binary.AppendUvarint(b, uint64(len(id)))
	return append(b, id...)
}

// forEachID walks an id blob; it stops at the first corrupt entry and reports it.
func forEachID(b []byte, fn func(id string, anchor int64)) error {
	r := reader{b: b}
	for len(r.b) > 0 {
		anchor := r.varint()
		id := r.str()
		if r.err != nil {
			return r.err
		}
		fn(id, anchor)
	}
	return nil
}

// A bucket is encoded as: count, then (shop, agent, vector)*.

// appendVecs appends the encoding of a decoded bucket to dst.
func appendVecs(dst []byte, t *owners, m vecs) []byte {
	w := writer{b: dst}
	w.uvarint(uint64(len(m)))
	for id, v := range m {
		o := t.owner(id)
		entry(&w, o.shop, o.agent, v)
	}
	return w.b
}

// mergeVecs is the encoding of a bucket encoded as enc plus the vectors of delta, without
// decoding it into a map: a late count to a cold bucket rewrites its encoding once, at
// commit. Owners of delta not in enc follow the others. scratch is as for walkBlock.
func mergeVecs(enc []byte, delta vecs, t *owners, scratch []int64) ([]byte, []int64, error) {
	body := writer{b: make([]byte, 0, len(enc)+32*len(delta))}
	n, merged := 0, 0
	var err error
	scratch, err = walkBlock(enc, scratch, func(shop, agent []byte, v []int64) {
		if id, ok := t.find(shop, agent); ok {
			if d := delta[id]; d != nil {
				for i := range min(len(v), len(d)) {
					v[i] += d[i]
				}
				merged++
				delta[id] = nil // seen: not appended again below
			}
		}
		entry(&body, shop, agent, v)
		n++
	})
	if err != nil {
		return nil, scratch, err
	}
	out := writer{b: make([]byte, 0, len(body.b)+binary.MaxVarintLen64+32*(len(delta)-merged))}
	out.uvarint(uint64(n + len(delta) - merged))
	out.b = append(out.b, body.b...)
	for id, v := range delta {
		if v == nil {
			continue
		}
		o := t.owner(id)
		entry(&out, o.shop, o.agent, v)
	}
	return out.b, scratch, nil
}

// walkBlock calls fn for each vector of an encoded bucket; shop, agent and v are valid
// only during the call. scratch is reused for v and returned for the next call. A corrupt
// encoding is reported after fn has seen the vectors before the damage.
func walkBlock(data []byte, scratch []int64, fn func(shop, agent []byte, v []int64)) ([]int64, error) {
	r := reader{b: data}
	n := r.count()
	for i := 0; i < n && r.err == nil; i++ {
		shop, agent := r.bytes(), r.bytes()
		m := r.count()
		v := scratch[:0]
		for j := 0; j < m && r.err == nil; j++ {
			v = append(v, r.varint())
		}
		scratch = v
		if r.err == nil {
			fn(shop, agent, v)
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return scratch, errCorrupt
	}
	return scratch, nil
}

// blockField is "m|<minute>" or "h|<hour>".
func blockField(k blockKey) string {
	return string(k.res) + "|" + strconv.FormatInt(k.idx, 10)
}

func parseBlockField(f string) (blockKey, error) {
	res, idx, ok := strings.Cut(f, "|")
	if !ok || len(res) != 1 || (res[0] != resMinute && res[0] != resHour) {
		return blockKey{}, errCorrupt
	}
	i, err := strconv.ParseInt(idx, 10, 64)
	if err != nil {
		return blockKey{}, errCorrupt
	}
	return blockKey{res[0], i}, nil
}

// idField is "<role>|<minute>": role "m" for messages, "o" for orders. Each batch writes
// its new ids of a minute under idBatchField.
func idField(t event.Topic, minute int64) string {
	return t.Letter() + "|" + strconv.FormatInt(minute, 10)
}

// idBatchField is "<role>|<minute>|<batch seq>": a batch's new ids of that minute.
func idBatchField(t event.Topic, minute, seq int64) string {
	return idField(t, minute) + "|" + strconv.FormatInt(seq, 10)
}

// parseIDField reads an idBatchField, or a field of a minute written whole (no batch number),
// which layout 1 still read.
func parseIDField(f string) (event.Topic, int64, error) {
	role, rest, _ := strings.Cut(f, "|")
	t := event.Messages
	switch role {
	case event.Messages.Letter():
	case event.Orders.Letter():
		t = event.Orders
	default:
		return 0, 0, errCorrupt
	}
	m, seq, ok := strings.Cut(rest, "|")
	if ok {
		if _, err := strconv.ParseInt(seq, 10, 64); err != nil {
			return 0, 0, errCorrupt
		}
	}
	minute, err := strconv.ParseInt(m, 10, 64)
	if err != nil {
		return 0, 0, errCorrupt
	}
	return t, minute, nil
}
