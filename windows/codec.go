package windows

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
)

// The Redis values are compact binary so that a batch's script call stays small; field
// names stay readable for an operator with redis-cli.

const codecVersion = 1

var errCorrupt = errors.New("windows: corrupt state value")

type writer struct{ b []byte }

func (w *writer) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) str(s string)     { w.uvarint(uint64(len(s))); w.b = append(w.b, s...) }
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

func (r *reader) str() string {
	n := r.count()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
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

func encodeVector(v []int64) []byte {
	w := writer{b: make([]byte, 0, 2+len(v))}
	w.uvarint(uint64(len(v)))
	for _, x := range v {
		w.varint(x)
	}
	return w.b
}

func decodeVector(b []byte) ([]int64, error) {
	r := reader{b: b}
	n := r.count()
	v := make([]int64, n)
	for i := range v {
		v[i] = r.varint()
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errCorrupt
	}
	return v, nil
}

func encodeConv(c *conv) []byte {
	w := writer{b: make([]byte, 0, 32)}
	w.uvarint(codecVersion)
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
	w.uvarint(uint64(len(c.paids)))
	for _, pd := range c.paids {
		w.varint(pd.ts)
		w.varint(pd.fen)
	}
	w.uvarint(uint64(len(c.served)))
	for _, s := range c.served {
		w.str(s.agent)
		w.varint(int64(s.date))
		w.varint(s.ts)
	}
	return w.b
}

func decodeConv(b []byte) (*conv, error) {
	r := reader{b: b}
	if r.uvarint() != codecVersion {
		return nil, errCorrupt
	}
	c := &conv{}
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
		c.paids = append(c.paids, paid{r.varint(), r.varint()})
	}
	n = r.count()
	for i := 0; i < n && r.err == nil; i++ {
		var s served
		s.agent = r.str()
		s.date = int32(r.varint())
		s.ts = r.varint()
		c.served = append(c.served, s)
	}
	if r.err != nil || len(r.b) != 0 || (c.open && len(c.msgs) == 0) {
		return nil, errCorrupt
	}
	return c, nil
}

// bucketField is "m|<minute>|<shop>" or "h|<hour>|<shop>|<agent>"; shop and agent ids
// cannot contain '|'.
func bucketField(k bucketKey) string {
	var b strings.Builder
	b.Grow(24 + len(k.shop) + len(k.agent))
	b.WriteByte(k.res)
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(k.idx, 10))
	b.WriteByte('|')
	b.WriteString(k.shop)
	if k.agent != "" {
		b.WriteByte('|')
		b.WriteString(k.agent)
	}
	return b.String()
}

func parseBucketField(f string) (bucketKey, error) {
	parts := strings.Split(f, "|")
	if len(parts) < 3 || len(parts) > 4 || len(parts[0]) != 1 || (parts[0][0] != resMinute && parts[0][0] != resHour) {
		return bucketKey{}, errCorrupt
	}
	idx, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return bucketKey{}, errCorrupt
	}
	k := bucketKey{res: parts[0][0], idx: idx, shop: parts[2]}
	if len(parts) == 4 {
		k.agent = parts[3]
	}
	return k, nil
}
