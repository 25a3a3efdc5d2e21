package windows

import (
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
)

func (p *Partition) apply(e *event.Event) {
	shop := p.owners.id(e.Shop, "")
	p.addAt(shop, e.TS, p.lay.shopActivity, 1)
	if e.Topic == event.Messages {
		p.applyMessage(e, shop)
		return
	}
	p.applyOrder(e, shop)
}

func (p *Partition) applyMessage(e *event.Event, shop ownerID) {
	ts := e.TS
	switch e.Sender {
	case event.Auto:
		p.addAt(p.owners.id(e.Shop, e.Agent), ts, p.lay.agentActivity, 1)
		p.add(shop, ts, kpi.AutoMessages, 1)
	case event.Buyer:
		p.add(shop, ts, kpi.BuyerMessages, 1)
		c := p.conv(e)
		c.last = max(c.last, ts)
		date := p.localDate(e.Shop, ts)
		if !hasCohort(c, date) {
			co := cohort{date: date, t0: ts}
			for _, pd := range c.paids {
				if pd.ts >= ts && pd.ts <= ts+horizon48 {
					co.nPaid++
					co.fen += pd.fen
				}
			}
			c.cohorts = append(c.cohorts, co)
			p.add(shop, ts, kpi.Inquiries, 1)
		}
		if c.open && ts-c.start > horizon48 {
			c.open, c.msgs = false, nil // abandoned
		}
		if !c.open {
			c.open, c.start = true, ts
			p.open[c] = struct{}{}
		}
		c.msgs = append(c.msgs, ts)
	case event.Agent:
		p.applyReply(e, shop)
	}
}

// dayRange caches the local day last looked up: zone conversion costs more than the rest
// of applying a message.
type dayRange struct {
	loc      *time.Location
	from, to int64 // [from, to) in Unix ns
	date     int32
}

// localDate is the day number of ts in shop's zone: the directory's, else --timezone.
func (p *Partition) localDate(shop string, ts int64) int32 {
	loc := p.cfg.Shops.Get().Location(shop, p.cfg.Location)
	if d := &p.day; d.loc == loc && d.to != 0 && ts >= d.from && ts < d.to {
		return d.date
	}
	y, m, dd := time.Unix(0, ts).In(loc).Date()
	start := time.Date(y, m, dd, 0, 0, 0, 0, loc)
	p.day = dayRange{loc: loc, from: start.UnixNano(), to: start.AddDate(0, 0, 1).UnixNano(), date: dayNumber(y, m, dd)}
	return p.day.date
}

func hasCohort(c *conv, date int32) bool {
	for i := range c.cohorts {
		if c.cohorts[i].date == date {
			return true
		}
	}
	return false
}

func (p *Partition) applyReply(e *event.Event, shop ownerID) {
	agent, r := e.Agent, e.TS
	aid := p.owners.id(e.Shop, agent)
	p.addAt(aid, r, p.lay.agentActivity, 1)
	p.add(shop, r, kpi.HumanMessages, 1)
	p.add(aid, r, kpi.AgentMessages, 1)
	c := p.conv(e)
	c.last = max(c.last, r)
	agentName := p.owners.owner(aid).agent
	p.recent[c] = append(p.recent[c], reply{agentName, r})
	c.lastAgent = agentName

	date := p.localDate(e.Shop, r)
	first := true
	for _, s := range c.served {
		if s.agent == agent && s.date == date {
			first = false
			break
		}
	}
	if first {
		c.served = append(c.served, served{p.owners.owner(aid).agent, date, r})
		p.add(aid, r, kpi.AgentBuyersServed, 1)
	}

	if c.open {
		if r-c.start <= horizon48 {
			ms := msBetween(c.start, r)
			p.add(shop, r, kpi.Responses, 1)
			p.add(shop, r, kpi.ResponseTimeSum, ms)
			for i, thr := range p.cfg.Thresholds {
				if ms <= thr {
					p.addAt(shop, r, p.lay.slot[kpi.ResponsesWithin]+i, 1)
				}
			}
			p.add(aid, r, kpi.AgentResponses, 1)
			p.add(aid, r, kpi.AgentResponseTimeSum, ms)
			// Business sums are kept as their shortfall from the calendar sums: nothing to
			// add for a shop without business hours.
			short := ms - p.businessMs(e.Shop, c.start, r)
			p.add(shop, r, kpi.ResponseBusinessTimeSum, short)
			p.add(aid, r, kpi.AgentResponseBusinessTimeSum, short)
		}
		// Every buyer message of the episode the reply closes is answered, also when the
		// episode is past 48 hours and yields no sample.
		p.add(aid, r, kpi.AgentBuyerMessagesAnswered, int64(len(c.msgs)))
		for _, m := range c.msgs {
			if r-m <= day {
				p.add(shop, m, kpi.BuyerMessagesReplied, 1)
			}
		}
		c.open, c.msgs = false, nil
		delete(p.open, c)
	}

	for i := range c.cohorts {
		co := &c.cohorts[i]
		if co.replied || r > co.t0+horizon48 {
			continue
		}
		co.replied, co.agent = true, p.owners.owner(aid).agent
		p.add(shop, co.t0, kpi.InquiriesReplied, 1)
		p.add(aid, co.t0, kpi.AgentInquiriesReplied, 1)
		// The reply that marks the cohort replied is its first response, at reply.ts.
		fr := msBetween(co.t0, r)
		p.add(shop, r, kpi.FirstResponses, 1)
		p.add(shop, r, kpi.FirstResponseTimeSum, fr)
		p.add(shop, r, kpi.FirstResponseBusinessTimeSum, fr-p.businessMs(e.Shop, co.t0, r))
		p.add(aid, r, kpi.AgentFirstResponses, 1)
		p.add(aid, r, kpi.AgentFirstResponseTimeSum, fr)
		if co.nPaid > 0 {
			p.guided(shop, aid, co, co.fen, true)
		}
	}
}

// businessMs is the part of [from, to] inside shop's business hours in the directory in
// force, in whole ms, floored like every sample. A shop without hours is always open.
func (p *Partition) businessMs(shop string, from, to int64) int64 {
	s := p.cfg.Shops.Get().Shop(shop)
	if s.AlwaysOpen() {
		return msBetween(from, to)
	}
	return s.BusinessNs(from, to) / int64(time.Millisecond)
}

// guided books a replied cohort's paid amount, and the cohort itself the first time.
func (p *Partition) guided(shop, agent ownerID, co *cohort, fen int64, first bool) {
	if first {
		p.add(shop, co.t0, kpi.InquiriesGuided, 1)
		p.add(agent, co.t0, kpi.AgentInquiriesGuided, 1)
	}
	p.add(shop, co.t0, kpi.GuidedGMV, fen)
	p.add(agent, co.t0, kpi.AgentGuidedGMV, fen)
}

func (p *Partition) applyOrder(e *event.Event, shop ownerID) {
	ts := e.TS
	switch e.Kind {
	case event.OrderCreated:
		p.add(shop, ts, kpi.OrdersCreated, 1)
	case event.OrderPaid:
		p.add(shop, ts, kpi.OrdersPaid, 1)
		p.add(shop, ts, kpi.PaidGMV, e.AmountFen)
		c := p.conv(e)
		c.paids = append(c.paids, paid{ts, e.AmountFen})
		for i := range c.cohorts {
			co := &c.cohorts[i]
			if ts < co.t0 || ts > co.t0+horizon48 {
				continue
			}
			co.nPaid++
			co.fen += e.AmountFen
			if co.replied {
				p.guided(shop, p.owners.id(e.Shop, co.agent), co, e.AmountFen, co.nPaid == 1)
			}
		}
	case event.RefundDisputed:
		p.add(shop, ts, kpi.RefundsDisputed, 1)
	case event.RefundCompleted:
		p.add(shop, ts, kpi.RefundsCompleted, 1)
		if e.ByMerchant {
			p.add(shop, ts, kpi.RefundsByMerchant, 1)
		}
		p.add(shop, ts, kpi.RefundDurationSum, msBetween(e.RequestedAt, ts))
	}
}
