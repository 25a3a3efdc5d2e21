package windows

import (
	"slices"

	"github.com/cskpi/cskpi/event"
)

// Expire drops what can no longer change a result. a is the as-of time; clk carries the
// stream time (see Clock), and neither goes back. See docs/SEMANTICS.md, "State
// retention": the only bounds on what may still arrive are the too-old horizon of CONTRACT §1
// and the order of each conversation's messages, so state is kept until one of them
// rules out every record that could change it, however late the other topic runs.
func (p *Partition) Expire(a int64, clk Clock) {
	p.used(&clk)
	// The running totals must have let go of the buckets about to be deleted.
	p.advance(a)
	minute, hour := SpansAt(a).keptFrom()
	if minute > p.minMinute || hour > p.minHour {
		p.minMinute, p.minHour = max(p.minMinute, minute), max(p.minHour, hour)
		p.invalidate()
		for k := range p.blocks {
			if (k.res == resMinute && k.idx < p.minMinute) || (k.res == resHour && k.idx < p.minHour) {
				delete(p.blocks, k)
				delete(p.decoded, k)
				delete(p.dirtyB, k)
				p.deletedB = append(p.deletedB, k)
			}
		}
	}
	// Any record accepted from now on has ts >= tooOld.
	tooOld := int64(minInt64)
	if p.st != minInt64 {
		tooOld = p.st - int64(event.MaxAge)
	}
	if tooOld >= p.fullAt+hourNs || p.fullAt == minInt64 {
		p.fullAt = tooOld
		for _, c := range p.convs {
			p.expireOne(c, tooOld)
		}
	} else {
		for _, c := range p.touched {
			if !c.gone {
				p.expireOne(c, tooOld)
			}
		}
	}
	for _, c := range p.touched {
		c.queued = false
	}
	p.touched = p.touched[:0]
	// A reply 15 minutes older than the as-of time counts for no window any more (A never
	// goes back). Dropping it is not written to Redis by itself: a stale reply there counts
	// for nothing either, and goes with the conversation's next write.
	for c, rs := range p.recent {
		if keep(&rs, func(r reply) bool { return r.ts > a-activeWindow }) {
			if len(rs) == 0 {
				delete(p.recent, c)
				p.expireOne(c, tooOld)
				continue
			}
			p.recent[c] = rs
		}
	}
	p.ExpireIDs()
	p.sweepOwners()
}

// expireOne expires c, and deletes it once nothing of it is left (also when it emptied
// earlier, by its recent replies ageing out).
func (p *Partition) expireOne(c *conv, tooOld int64) {
	changed := p.expireConv(c, tooOld)
	if c.empty() && len(p.recent[c]) == 0 {
		delete(p.convs, c.key)
		c.gone = true
		p.deletedC = append(p.deletedC, c.key)
		return
	}
	if changed {
		p.markConv(c)
	}
}

// expireConv drops the parts of c that no acceptable record could change, and reports
// whether it dropped anything. A later order may have any ts >= tooOld; a later message of
// this conversation has ts >= max(c.last, tooOld).
func (p *Partition) expireConv(c *conv, tooOld int64) bool {
	nextMsg := max(c.last, tooOld)
	changed := false
	if c.open {
		// A reply after end neither yields a sample nor answers any message within 48 h
		// (its last message is at least its start), and a buyer message after it abandons
		// the episode: as if it were gone.
		if end := c.msgs[len(c.msgs)-1] + repliedWithin48h; nextMsg > end {
			c.closeMsgs()
			delete(p.open, c)
			changed = true
		}
	}
	if keep(&c.cohorts, func(co cohort) bool {
		// A payment in [t0, t0+48h] can still come; a reply only while it can be in time.
		// (The cohort's local date ended before t0+48h, so no later message needs it.)
		return tooOld <= co.t0+cohortHorizon && (co.replied || nextMsg <= co.t0+cohortHorizon)
	}) {
		changed = true
	}
	// An order's events go together, once no acceptable record could pair with any of them:
	// a creation pairs with payments up to 24 h after it, a payment with creations before it.
	// (A payment also waits for cohorts with t0 <= paid.ts that later buyer messages open;
	// it waits longer here, and is no use to a cohort opened after it, so that costs nothing.)
	if len(c.orders) > 0 {
		var gone []string
		for _, o := range c.orders {
			if orderNeeded(c.orders, o.id) < tooOld && !slices.Contains(gone, o.id) {
				gone = append(gone, o.id)
			}
		}
		if keep(&c.orders, func(o orderEvent) bool { return !slices.Contains(gone, o.id) }) {
			changed = true
		}
	}
	// A marker stops a second count of its (agent, buyer, local date); every later reply
	// falls after that date once it is 26 h past the first (a local day lasts at most 25 h).
	if keep(&c.served, func(sv served) bool { return nextMsg <= sv.ts+26*hourNs }) {
		changed = true
	}
	return changed
}

// orderNeeded is the latest ts an acceptable record may have and still pair with an event
// of order id: a payment up to 24 h after a creation, a creation at or before a payment.
// Until then a counted creation also stays, so that a second payment does not count it
// again.
func orderNeeded(orders []orderEvent, id string) int64 {
	need := int64(minInt64)
	for _, o := range orders {
		switch {
		case o.id != id:
		case o.paid:
			need = max(need, o.ts)
		default:
			need = max(need, o.ts+paidWithin)
		}
	}
	return need
}

// keep filters s in place and reports whether anything was dropped.
func keep[T any](s *[]T, ok func(T) bool) bool {
	out := (*s)[:0]
	for _, v := range *s {
		if ok(v) {
			out = append(out, v)
		}
	}
	dropped := len(out) != len(*s)
	clear((*s)[len(out):])
	*s = out
	if len(out) == 0 {
		*s = nil
	}
	return dropped
}
