package windows

import (
	"fmt"

	"github.com/cskpi/cskpi/windows/kpi"
)

// Resolutions of the buckets: every count goes to the minute and to the hour holding its
// time (addAt), and a window sums the buckets of one of them (window.go).
const (
	resMinute byte = 'm'
	resHour   byte = 'h'
)

// blockKey names one bucket: a minute or an hour. A bucket holds the vectors of every shop
// and agent with activity in it, and is stored as one Redis hash field, so that a batch
// writes a handful of fields however many shops it touched.
type blockKey struct {
	res byte
	idx int64
}

// vecs is a decoded bucket: the counter vector of each shop and agent with activity in it.
type vecs map[ownerID][]int64

// bucket is one minute or hour bucket of a partition. Every bucket keeps its last encoding
// (enc), what the next commit starts from:
//
//   - A cold bucket is held only as enc (varints, several times smaller than the vectors).
//     A batch that changes it (a reply counted at the time of a message hours old) does not
//     decode it: its counts wait in delta, a vector per owner it changed, and the commit
//     merges them into enc in one pass (mergeVecs).
//   - The newest buckets, which nearly every batch changes, stay decoded (dec), with the
//     owners changed since enc was sealed (touched) and where each entry of enc ends: a
//     commit copies the entries of the others and encodes only the changed vectors. An
//     hour bucket of 1 000 shops holds thousands of vectors and a live batch changes a few
//     dozen; encoding all of them at every commit was a fifth of serve's CPU at 50 000
//     records/s. A bucket cools by dropping dec: enc is its committed state.
type bucket struct {
	dec   vecs   // nil while cold
	enc   []byte // the last encoding; nil for a decoded bucket not sealed yet
	delta vecs   // counts of a cold bucket not yet merged into enc
	dirty bool   // changed since the last commit

	// While decoded and sealed: where enc's entries start (after the count), its owners in
	// its order, where each one's entry ends, and the owners changed since.
	body    int
	order   []ownerID
	ends    []int32
	touched map[ownerID]struct{}
}

// touch records that o's vector of a decoded bucket changes.
func (b *bucket) touch(o ownerID) {
	if b.enc == nil {
		return // the first seal encodes every vector
	}
	if b.touched == nil {
		b.touched = map[ownerID]struct{}{}
	}
	b.touched[o] = struct{}{}
}

// appendSealed appends the encoding of decoded bucket b to dst and makes it b's enc: the
// unchanged owners' entries copied from the last one, in its order, the changed ones
// encoded again, the new ones after them. The first seal encodes every vector, and so does
// any seal that finds an owner neither in the last one nor touched (a guard: every change
// to dec goes through bump).
func (b *bucket) appendSealed(dst []byte, t *owners) []byte {
	start := len(dst)
	w := writer{b: dst}
	put := func(o ownerID) {
		ow := t.owner(o)
		entry(&w, ow.shop, ow.agent, b.dec[o])
	}
	w.uvarint(uint64(len(b.dec)))
	body := len(w.b) - start
	if b.enc != nil {
		old := b.enc
		from, prev := b.body, b.body // the run of unchanged entries not yet copied; the last entry's end
		for i, o := range b.order {
			end := int(b.ends[i])
			if _, changed := b.touched[o]; changed {
				w.b = append(w.b, old[from:prev]...)
				put(o)
				delete(b.touched, o)
				from = end
				b.ends[i] = int32(len(w.b) - start)
			} else {
				b.ends[i] = int32(len(w.b) - start + end - from)
			}
			prev = end
		}
		w.b = append(w.b, old[from:prev]...)
		for o := range b.touched { // owners new to the bucket
			put(o)
			b.order = append(b.order, o)
			b.ends = append(b.ends, int32(len(w.b)-start))
		}
		if len(b.order) == len(b.dec) {
			clear(b.touched)
			b.enc, b.body = append(old[:0], w.b[start:]...), body
			return w.b
		}
		w.b = w.b[:start+body]
	}
	b.order, b.ends = b.order[:0], b.ends[:0]
	for o := range b.dec {
		put(o)
		b.order = append(b.order, o)
		b.ends = append(b.ends, int32(len(w.b)-start))
	}
	clear(b.touched)
	b.enc, b.body = append(b.enc[:0], w.b[start:]...), body
	return w.b
}

// eachVector walks a bucket's vectors without keeping a cold bucket decoded; v is valid
// only during the call.
func (p *Partition) eachVector(b *bucket, fn func(id ownerID, v []int64)) {
	if b.dec != nil {
		for id, v := range b.dec {
			fn(id, v)
		}
		return
	}
	p.merge(b)
	var err error
	p.scratch, err = walkBlock(b.enc, p.scratch, func(shop, agent []byte, v []int64) {
		fn(p.owners.idBytes(shop, agent), v)
	})
	if err != nil {
		// Every encoding in the mirror was written by appendVecs or mergeVecs, or checked by Load.
		panic(fmt.Sprintf("windows: partition %d: bucket: %v", p.ID, err))
	}
}

// merge folds a cold bucket's delta into its encoding. The vectors of the delta go, so the
// owner cache, which may point into them, starts over.
func (p *Partition) merge(b *bucket) {
	if b.delta == nil {
		return
	}
	enc, scratch, err := mergeVecs(b.enc, b.delta, &p.owners, p.scratch)
	if err != nil {
		panic(fmt.Sprintf("windows: partition %d: bucket: %v", p.ID, err)) // as in eachVector
	}
	b.enc, b.delta, p.scratch = enc, nil, scratch
	p.invalidate()
}

// seal encodes a changed bucket for the commit: a decoded one into the arena (and its
// enc), the bytes valid until the next commit's change set is built; a cold one is its
// merged encoding.
func (p *Partition) seal(k blockKey) []byte {
	if b := p.blocks[k]; b.dec == nil {
		p.merge(b)
		return b.enc
	}
	start := len(p.arena)
	p.arena = p.blocks[k].appendSealed(p.arena, &p.owners)
	return p.arena[start:len(p.arena):len(p.arena)]
}

// hotMinutes is how far behind the partition's newest minute buckets stay decoded: replies
// and payments land in recent buckets (the buyer message a reply answers, the inquiry a
// payment follows), and decoding a bucket per batch costs more than holding a few.
const hotMinutes = 30

// cool drops the decoded form of committed buckets older than hotMinutes behind the
// newest minute, or than the newest two hours.
func (p *Partition) cool() {
	newest := p.newest()
	m, h := MinuteOf(newest)-hotMinutes, HourOf(newest)-1
	for k := range p.decoded {
		b := p.blocks[k]
		if b == nil {
			delete(p.decoded, k)
			continue
		}
		if b.dirty || (k.res == resMinute && k.idx >= m) || (k.res == resHour && k.idx >= h) {
			continue
		}
		// Not dirty: enc is its last seal, committed, and nothing touched it since. (A
		// decoded bucket is dirty until its first seal; the guard keeps its counts even so.)
		if b.enc == nil {
			b.enc = appendVecs(nil, &p.owners, b.dec)
		}
		b.dec, b.order, b.ends, b.touched = nil, nil, nil, nil
		delete(p.decoded, k)
	}
}

// cached is one entry of Partition.cache: the vector of an owner bumped last at one
// resolution, and the running totals it also goes to.
type cached struct {
	epoch uint64
	k     blockKey
	v     []int64
	// the running totals of o and the windows of them that hold k (uint8: an entry fits
	// a 64-byte cache line)
	t  *totals
	ws [nWindows]uint8
	nw uint8
}

// invalidate starts a new cache epoch.
func (p *Partition) invalidate() { p.epoch++ }

// add puts delta into family id's counter of owner o, in the minute and hour buckets
// holding ts.
func (p *Partition) add(o ownerID, ts int64, id kpi.ID, delta int64) {
	p.addAt(o, ts, p.lay.slot[id], delta)
}

// addAt puts delta into slot i of owner o's vectors in the buckets holding ts.
func (p *Partition) addAt(o ownerID, ts int64, i int, delta int64) {
	if delta == 0 {
		return
	}
	if m := MinuteOf(ts); m >= p.minMinute {
		p.bump(blockKey{resMinute, m}, o, i, delta)
	}
	if h := HourOf(ts); h >= p.minHour {
		p.bump(blockKey{resHour, h}, o, i, delta)
	}
}

func (p *Partition) bump(k blockKey, o ownerID, i int, delta int64) {
	slot := resSlot(k.res)
	if int(o) < len(p.cache[slot]) {
		if c := &p.cache[slot][o]; c.epoch == p.epoch && c.k == k {
			c.v[i] += delta
			for _, w := range c.ws[:c.nw] {
				c.t[w][i] += delta
			}
			return
		}
	}
	agent := p.owners.isAgent(o)
	b := p.blocks[k]
	if b == nil {
		// Sized like the bucket made last at its resolution (still decoded: it is a
		// minute or an hour older): the next has about as many owners, and growing a map
		// rehashes it each time.
		size := 0
		if last := p.blocks[p.lastMade[slot]]; last != nil {
			size = len(last.dec)
		}
		b = &bucket{dec: make(vecs, size)}
		p.lastMade[slot] = k
		p.blocks[k] = b
		p.decoded[k] = struct{}{}
	}
	d := b.dec
	if d == nil { // cold: the count waits for the commit's merge
		if b.delta == nil {
			b.delta = vecs{}
		}
		d = b.delta
	} else {
		b.touch(o)
	}
	b.dirty = true
	n := p.lay.shopLen
	if agent {
		n = p.lay.agentLen
	}
	v := d[o]
	if v == nil {
		v = make([]int64, n)
		d[o] = v
	}
	v[i] += delta
	p.dirtyB[k] = struct{}{}
	if n := len(p.owners.byID); len(p.cache[slot]) < n {
		p.cache[slot] = append(p.cache[slot], make([]cached, n-len(p.cache[slot]))...)
	}
	c := &p.cache[slot][o]
	*c = cached{epoch: p.epoch, k: k, v: v}
	if !p.run.ok {
		return
	}
	for w := range windowTable {
		if windowTable[w].res == k.res && p.run.spans[w].Has(k.idx) {
			c.ws[c.nw] = uint8(w)
			c.nw++
		}
	}
	if c.nw == 0 {
		return
	}
	c.t = p.runTotals(o)
	for _, w := range c.ws[:c.nw] {
		if c.t[w] == nil {
			c.t[w] = make([]int64, n)
		}
		c.t[w][i] += delta
	}
}

func resSlot(res byte) int {
	if res == resHour {
		return 1
	}
	return 0
}
