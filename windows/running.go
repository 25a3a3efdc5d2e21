package windows

import (
	"fmt"
	"slices"
)

// vecs is a decoded bucket: the counter vector of each shop and agent with activity in it.
type vecs map[ownerID][]int64

// bucket is one minute or hour bucket of a partition. A cold bucket is held only as the
// bytes Redis holds (varints, several times smaller than the vectors); a batch that changes
// it decodes it. The newest buckets, which nearly every batch changes, stay decoded and
// keep no encoding of their own: each commit encodes them into the partition's reusable
// arena, and a bucket is encoded for keeps only when it cools.
type bucket struct {
	dec   vecs   // nil while cold
	enc   []byte // what Redis holds, while cold (and until a change of a decoded one)
	dirty bool   // changed since the last commit
}

// vectors gives the decoded bucket, decoding a cold one in place.
func (p *Partition) vectors(k blockKey, b *bucket) vecs {
	if b.dec == nil {
		d := vecs{}
		p.eachVector(b, func(id ownerID, v []int64) { d[id] = slices.Clone(v) })
		b.dec = d
		p.decoded[k] = struct{}{}
	}
	return b.dec
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
	var err error
	p.scratch, err = walkBlock(b.enc, p.scratch, func(shop, agent []byte, v []int64) {
		fn(p.owners.idBytes(shop, agent), v)
	})
	if err != nil {
		// Every encoding in the mirror was written by encodeVecs or checked by Load.
		panic(fmt.Sprintf("windows: partition %d: bucket: %v", p.ID, err))
	}
}

// seal encodes a changed bucket for the commit into the arena; the bytes are valid until
// the next commit's change set is built.
func (p *Partition) seal(k blockKey) []byte {
	start := len(p.arena)
	p.arena = appendVecs(p.arena, &p.owners, p.blocks[k].dec)
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
		if b.enc == nil {
			b.enc = encodeVecs(&p.owners, b.dec)
		}
		b.dec = nil
		delete(p.decoded, k)
	}
}

// sweepOwners frees the numbers of owners that neither a decoded bucket nor a running
// total holds: they are numbered again if a bucket naming them is decoded.
func (p *Partition) sweepOwners() {
	used := make([]bool, len(p.owners.byID))
	for id, t := range p.run.sums {
		used[id] = t != nil
	}
	for k := range p.decoded {
		for id := range p.blocks[k].dec {
			used[id] = true
		}
	}
	p.invalidate()
	p.owners.sweep(used)
}

// running keeps each window's totals per owner for the spans of one as-of time, so that a
// scrape reads them instead of summing every bucket: bumps inside the spans add to
// them as they happen, and moving the as-of time adds the buckets entering a span and
// subtracts those leaving it. Invariant: sums[id][w] is the sum over the buckets that
// exist with an index in spans' window w.
type running struct {
	ok    bool
	spans Spans
	sums  []*totals // by ownerID; nil for none
}

func (s Spans) of(w int) Span {
	switch w {
	case w15m:
		return s.M15
	case w24h:
		return s.H24
	}
	return s.D28
}

func windowRes(w int) byte {
	if w == w28d {
		return resHour
	}
	return resMinute
}

// runTotals gives the running totals of id, creating them.
func (p *Partition) runTotals(id ownerID) *totals {
	if int(id) >= len(p.run.sums) {
		p.run.sums = append(p.run.sums, make([]*totals, int(id)+1-len(p.run.sums))...)
	}
	t := p.run.sums[id]
	if t == nil {
		t = &totals{}
		p.run.sums[id] = t
	}
	return t
}

func addInto(t *totals, w int, v []int64, sign int64) {
	if t[w] == nil {
		t[w] = make([]int64, len(v))
	}
	if len(t[w]) < len(v) {
		t[w] = append(t[w], make([]int64, len(v)-len(t[w]))...)
	}
	for i, x := range v {
		t[w][i] += sign * x
	}
}

// advance moves the running totals to the spans of as-of time a.
func (p *Partition) advance(a int64) {
	sp := SpansAt(a)
	if p.run.ok && sp == p.run.spans {
		return
	}
	p.invalidate()
	subtracted := false
	for w := range nWindows {
		to := sp.of(w)
		from := p.run.spans.of(w)
		if !p.run.ok || to.From < from.From || to.To < from.To || to.From > from.To {
			p.rebuild(w, to)
			subtracted = true
			continue
		}
		res := windowRes(w)
		for i := from.From; i < to.From; i++ {
			if b := p.blocks[blockKey{res, i}]; b != nil {
				p.eachVector(b, func(id ownerID, v []int64) { addInto(p.runTotals(id), w, v, -1) })
				subtracted = true
			}
		}
		for i := from.To + 1; i <= to.To; i++ {
			if b := p.blocks[blockKey{res, i}]; b != nil {
				p.eachVector(b, func(id ownerID, v []int64) { addInto(p.runTotals(id), w, v, 1) })
			}
		}
	}
	p.run.ok, p.run.spans = true, sp
	if subtracted {
		p.pruneRunning()
	}
}

// rebuild sums window w over span s from the buckets.
func (p *Partition) rebuild(w int, s Span) {
	for _, t := range p.run.sums {
		if t != nil {
			t[w] = nil
		}
	}
	res := windowRes(w)
	for k, b := range p.blocks {
		if k.res == res && s.Has(k.idx) {
			p.eachVector(b, func(id ownerID, v []int64) { addInto(p.runTotals(id), w, v, 1) })
		}
	}
}

// pruneRunning forgets owners with nothing left in any window, so a shop that went quiet
// leaves no series and no memory behind.
func (p *Partition) pruneRunning() {
	for id, t := range p.run.sums {
		if t != nil && allZero(t) {
			p.run.sums[id] = nil
		}
	}
}

func allZero(t *totals) bool {
	for _, v := range t {
		for _, x := range v {
			if x != 0 {
				return false
			}
		}
	}
	return true
}
