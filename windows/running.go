package windows

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
		to := sp[w]
		from := p.run.spans[w]
		if !p.run.ok || to.From < from.From || to.To < from.To || to.From > from.To {
			p.rebuild(w, to)
			subtracted = true
			continue
		}
		res := windowTable[w].res
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
	res := windowTable[w].res
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
