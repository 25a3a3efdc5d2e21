package windows

import (
	"strings"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
)

// The KPI rules of CONTRACT §2: what an applied buyer message, human reply, auto message,
// order and refund do to a partition's conversations and counters. Check them against the
// contract here; the rest of the package is bookkeeping they do not see. Where each
// definition of §2 is applied:
//
//	buyer message, human reply, auto message   applyMessage (spam never gets here: Admit)
//	waiting episode, response sample           wait, closeEpisode
//	replied within 24 h, within 48 h           closeEpisode
//	scene                                      applyBuyer, wait, closeEpisode, waitsAt
//	orders paid of those created               orderCreated, orderPaid
//	inquiry cohort: t0, replied, guided        openCohort, replyCohorts, payCohorts, guided
//	first response                             replyCohorts
//	agent buyers served                        serve
//	orders and refunds                         applyOrder
//	business time                              businessMs
//	waiting age                                waitsAt
//	agent active buyers                        applyReply (recent replies), activeAt
//	buyer messages answered                    closeEpisode
//
// Windows: every item is attributed to one time, and add puts its counts in the minute and
// hour buckets holding that time: a message or an order at its ts, a response or first
// response sample at its reply's ts, a cohort, its reply and its payments at its t0, a buyer
// message's reply within 24 h at the message's ts. An outcome decided later therefore
// updates the bucket of the item's time. Which buckets a window sums is window.go's
// business, how buckets are kept bucket.go's.

// The horizons of §2.
const (
	// abandonAfter: an episode is abandoned 48 h after its start.
	abandonAfter = 48 * hourNs
	// repliedWithin and repliedWithin48h: a buyer message is replied within 24 h (48 h)
	// when the reply closing its episode comes at most 24 h (48 h) after it.
	repliedWithin    = 24 * hourNs
	repliedWithin48h = 48 * hourNs
	// paidWithin: an order placed is paid within 24 h when it has an order_paid with
	// created.ts ≤ paid.ts ≤ created.ts + 24 h.
	paidWithin = 24 * hourNs
	// cohortHorizon: a cohort is replied by a reply with reply.ts ≤ t0 + 48 h, and guided by
	// payments with t0 ≤ paid.ts ≤ t0 + 48 h.
	cohortHorizon = 48 * hourNs
	// activeWindow: an agent's active buyers are those replied to with A − 15 min < reply.ts ≤ A.
	activeWindow = 15 * minuteNs
)

// apply is what an applied event does. Every applied event is activity of its shop, which
// decides whether the shop is exported (§3); it is no KPI.
func (p *Partition) apply(e *event.Event) {
	shop := p.owners.id(e.Shop, "")
	p.addAt(shop, e.TS, p.lay.shopActivity, 1)
	if e.Topic == event.Messages {
		p.applyMessage(e, shop)
		return
	}
	p.applyOrder(e, shop)
}

// applyMessage: a buyer message is sender buyer, a human reply sender agent, neither spam;
// auto messages are counted but answer nothing. Spam never gets here.
func (p *Partition) applyMessage(e *event.Event, shop ownerID) {
	switch e.Sender {
	case event.Auto:
		p.addAt(p.owners.id(e.Shop, e.Agent), e.TS, p.lay.agentActivity, 1)
		p.add(shop, e.TS, kpi.AutoMessages, 1)
	case event.Buyer:
		p.applyBuyer(e, shop)
	case event.Agent:
		p.applyReply(e, shop)
	}
}

// applyBuyer is a buyer message: counted at its ts in its own scene, it opens or joins a
// waiting episode, and a pre-sale one may start an inquiry cohort: inquiries are pre-sale.
func (p *Partition) applyBuyer(e *event.Event, shop ownerID) {
	ts := e.TS
	p.addScene(shop, ts, kpi.BuyerMessages, e.Scene, 1)
	c := p.conv(e)
	c.last = max(c.last, ts)
	if e.Scene == event.Presale {
		p.openCohort(c, shop, p.localDate(e.Shop, ts), ts)
	}
	p.wait(c, ts, e.Scene)
}

// openCohort: an inquiry cohort (询单, a buyer-day) is the shop, buyer and local date of a
// pre-sale buyer message; t0 is the first pre-sale buyer message of that date. Payments applied before it
// (the orders topic may run ahead) with t0 ≤ paid.ts ≤ t0 + 48 h are its already; they
// guide it once it is replied.
func (p *Partition) openCohort(c *conv, shop ownerID, date int32, t0 int64) {
	if hasCohort(c, date) {
		return
	}
	co := cohort{date: date, t0: t0}
	for _, pd := range c.orders {
		if pd.paid && pd.ts >= t0 && pd.ts <= t0+cohortHorizon {
			co.nPaid++
			co.fen += pd.fen
		}
	}
	c.cohorts = append(c.cohorts, co)
	p.add(shop, t0, kpi.Inquiries, 1)
}

func hasCohort(c *conv, date int32) bool {
	for i := range c.cohorts {
		if c.cohorts[i].date == date {
			return true
		}
	}
	return false
}

// wait: a waiting episode is opened by a buyer message when the conversation has none
// open, starts at its first unanswered buyer message, and has that message's scene. A
// buyer message more than 48 h after the open episode's start abandons it and opens a new
// one.
func (p *Partition) wait(c *conv, ts int64, sc event.Scene) {
	if c.open && ts-c.start > abandonAfter {
		c.closeMsgs() // abandoned
	}
	if !c.open {
		c.open, c.start, c.scene = true, ts, sc
		p.open[c] = struct{}{}
	}
	c.addMsg(ts, sc)
}

// applyReply is a human reply: counted for its shop and its agent at its ts, it makes its
// buyer one of the agent's active buyers for 15 minutes, may serve a buyer, closes the open
// episode, and replies the cohorts waiting for it.
func (p *Partition) applyReply(e *event.Event, shop ownerID) {
	r := e.TS
	aid := p.owners.id(e.Shop, e.Agent)
	// The owner table's copy of the name: an event's strings may share one allocation
	// with the whole record, which the conversation must not keep alive.
	agent := p.owners.owner(aid).agent
	p.addAt(aid, r, p.lay.agentActivity, 1)
	p.add(shop, r, kpi.HumanMessages, 1)
	p.add(aid, r, kpi.AgentMessages, 1)
	c := p.conv(e)
	c.last = max(c.last, r)
	p.recent[c] = append(p.recent[c], reply{agent, r})
	c.lastAgent = agent
	p.serve(c, aid, agent, p.localDate(e.Shop, r), r)
	if c.open {
		p.closeEpisode(c, e.Shop, shop, aid, r)
	}
	p.replyCohorts(c, e.Shop, shop, aid, agent, r)
}

// serve: agent buyers served (日接待量) counts (agent, buyer, local date) of a human reply
// once, at its first reply of that date.
func (p *Partition) serve(c *conv, aid ownerID, agent string, date int32, r int64) {
	for _, s := range c.served {
		if s.agent == agent && s.date == date {
			return
		}
	}
	c.served = append(c.served, served{agent, date, r})
	p.add(aid, r, kpi.AgentBuyersServed, 1)
}

// closeEpisode: the human reply at r closes the open episode. Within 48 h of its start it
// yields a response sample r − start (never below 0), of the episode's scene, with its
// business value, attributed to the replying agent at r; after that it closes it without a
// sample. Either way it answers the episode's buyer messages (buyer messages answered, the
// replying agent's at r), and each of them, in its own scene, is replied within 24 h when
// r ≤ its ts + 24 h, and within 48 h when r ≤ its ts + 48 h.
func (p *Partition) closeEpisode(c *conv, shopName string, shop, aid ownerID, r int64) {
	if r-c.start <= abandonAfter {
		sc := c.scene
		ms := msBetween(c.start, r)
		p.addScene(shop, r, kpi.Responses, sc, 1)
		p.addScene(shop, r, kpi.ResponseTimeSum, sc, ms)
		for i, thr := range p.cfg.Thresholds {
			if ms <= thr {
				p.addAt(shop, r, p.lay.threshold(kpi.ResponsesWithin, sc, i), 1)
			}
		}
		p.add(aid, r, kpi.AgentResponses, 1)
		p.add(aid, r, kpi.AgentResponseTimeSum, ms)
		// Business sums are kept as their shortfall from the calendar sums: nothing to
		// add for a shop without business hours.
		short := ms - p.businessMs(shopName, c.start, r)
		p.addScene(shop, r, kpi.ResponseBusinessTimeSum, sc, short)
		p.add(aid, r, kpi.AgentResponseBusinessTimeSum, short)
	}
	p.add(aid, r, kpi.AgentBuyerMessagesAnswered, int64(len(c.msgs)))
	for i, m := range c.msgs {
		if r-m <= repliedWithin48h {
			sc := c.msgScene(i)
			if r-m <= repliedWithin {
				p.addScene(shop, m, kpi.BuyerMessagesReplied, sc, 1)
			}
			p.addScene(shop, m, kpi.BuyerMessagesReplied48h, sc, 1)
		}
	}
	c.closeMsgs()
	delete(p.open, c)
}

// replyCohorts: a cohort is replied by a human reply that arrives after its t0 message with
// r ≤ t0 + 48 h; its agent is the first such reply's. That reply is the cohort's first
// response: a sample r − t0 (never below 0), with its business value, attributed to its
// agent at r. A cohort replied after its payments came is guided at once.
func (p *Partition) replyCohorts(c *conv, shopName string, shop, aid ownerID, agent string, r int64) {
	for i := range c.cohorts {
		co := &c.cohorts[i]
		if co.replied || r > co.t0+cohortHorizon {
			continue
		}
		co.replied, co.agent = true, agent
		p.add(shop, co.t0, kpi.InquiriesReplied, 1)
		p.add(aid, co.t0, kpi.AgentInquiriesReplied, 1)
		fr := msBetween(co.t0, r)
		p.add(shop, r, kpi.FirstResponses, 1)
		p.add(shop, r, kpi.FirstResponseTimeSum, fr)
		p.add(shop, r, kpi.FirstResponseBusinessTimeSum, fr-p.businessMs(shopName, co.t0, r))
		p.add(aid, r, kpi.AgentFirstResponses, 1)
		p.add(aid, r, kpi.AgentFirstResponseTimeSum, fr)
		if co.nPaid > 0 {
			p.guided(shop, aid, co, co.fen, true)
		}
	}
}

// applyOrder: orders and refunds count at their own ts; refund_completed adds
// ts − refund_requested_at to the refund duration sum. A payment may guide cohorts.
func (p *Partition) applyOrder(e *event.Event, shop ownerID) {
	ts := e.TS
	switch e.Kind {
	case event.OrderCreated:
		p.add(shop, ts, kpi.OrdersCreated, 1)
		p.orderCreated(p.conv(e), shop, e.OrderID, ts)
	case event.OrderPaid:
		p.add(shop, ts, kpi.OrdersPaid, 1)
		p.add(shop, ts, kpi.PaidGMV, e.AmountFen)
		c := p.conv(e)
		p.payCohorts(e, c, shop)
		p.orderPaid(c, shop, e.OrderID, ts, e.AmountFen)
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

// payCohorts: a cohort is guided (引导成交) when replied and the buyer has an order_paid in
// the shop with t0 ≤ paid.ts ≤ t0 + 48 h; guided GMV sums those payments. A payment may count
// for two cohorts of the same buyer. The payment is remembered, with its order's events, for
// cohorts that start later (openCohort).
func (p *Partition) payCohorts(e *event.Event, c *conv, shop ownerID) {
	ts := e.TS
	for i := range c.cohorts {
		co := &c.cohorts[i]
		if ts < co.t0 || ts > co.t0+cohortHorizon {
			continue
		}
		co.nPaid++
		co.fen += e.AmountFen
		if co.replied {
			p.guided(shop, p.owners.id(e.Shop, co.agent), co, e.AmountFen, co.nPaid == 1)
		}
	}
}

// orderCreated: an order placed counts in orders paid of those created (催付), at its ts,
// when its order has an order_paid with created.ts ≤ paid.ts ≤ created.ts + 24 h; the
// payment may have been applied first. Each applied order_created is one item. (An order's
// events are the conversation's: producers key them by the buyer who placed it.)
func (p *Partition) orderCreated(c *conv, shop ownerID, id string, created int64) {
	if paidWithin24h(c.orders, id, created) {
		p.add(shop, created, kpi.OrdersCreatedPaid24h, 1)
	}
	c.orders = append(c.orders, orderEvent{id: p.orderID(c, id), ts: created})
}

// orderPaid counts the order placements of its order that this payment is the first to
// pay within 24 h: however many payment events an order has, it counts once.
func (p *Partition) orderPaid(c *conv, shop ownerID, id string, ts, fen int64) {
	for _, o := range c.orders {
		if !o.paid && o.id == id && o.ts <= ts && ts <= o.ts+paidWithin && !paidWithin24h(c.orders, id, o.ts) {
			p.add(shop, o.ts, kpi.OrdersCreatedPaid24h, 1)
		}
	}
	c.orders = append(c.orders, orderEvent{id: p.orderID(c, id), ts: ts, fen: fen, paid: true})
}

// paidWithin24h says whether orders holds a payment of order id in [created, created+24h].
func paidWithin24h(orders []orderEvent, id string, created int64) bool {
	for _, o := range orders {
		if o.paid && o.id == id && created <= o.ts && o.ts <= created+paidWithin {
			return true
		}
	}
	return false
}

// orderID is the conversation's copy of an order id: an event's strings share the record's
// memory, which state kept for weeks must not hold on to.
func (p *Partition) orderID(c *conv, id string) string {
	for _, o := range c.orders {
		if o.id == id {
			return o.id
		}
	}
	return strings.Clone(id)
}

// guided books a replied cohort's paid amount at its t0, for the shop and the cohort's
// agent, and the cohort itself the first time.
func (p *Partition) guided(shop, agent ownerID, co *cohort, fen int64, first bool) {
	if first {
		p.add(shop, co.t0, kpi.InquiriesGuided, 1)
		p.add(agent, co.t0, kpi.AgentInquiriesGuided, 1)
	}
	p.add(shop, co.t0, kpi.GuidedGMV, fen)
	p.add(agent, co.t0, kpi.AgentGuidedGMV, fen)
}

// addScene puts delta into the counter of family id and scene sc (a family with the
// scene label) of owner o, in the buckets holding ts.
func (p *Partition) addScene(o ownerID, ts int64, id kpi.ID, sc event.Scene, delta int64) {
	p.addAt(o, ts, p.lay.at(id, sc), delta)
}

// waitsAt: the waiting age of an open episode started within 48 h of the as-of time a is
// a − start; older ones (abandoned) and later ones do not wait at a.
func waitsAt(c *conv, a int64) bool { return c.start <= a && a-c.start <= abandonAfter }

// activeAt: agent active buyers (同时接待) are the distinct buyers the agent sent a human
// reply to with a − 15 min < reply.ts ≤ a. Totals.Add counts each buyer once per agent.
func activeAt(r reply, a int64) bool { return r.ts > a-activeWindow && r.ts <= a }

// Time as the rules measure it.

// msBetween is a duration in whole milliseconds, floored, never below 0: every sample.
func msBetween(earlier, later int64) int64 {
	d := later - earlier
	if d <= 0 {
		return 0
	}
	return d / int64(time.Millisecond)
}

// businessMs: business time is the part of an interval inside the shop's business hours
// (§6), here of [from, to] in the directory in force, in whole ms, floored like every
// sample. A shop without hours is always open.
func (p *Partition) businessMs(shop string, from, to int64) int64 {
	s := p.cfg.Shops.Get().Shop(shop)
	if s.AlwaysOpen() {
		return msBetween(from, to)
	}
	return s.BusinessNs(from, to) / int64(time.Millisecond)
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

// dayRange caches the local day last looked up: zone conversion costs more than the rest
// of applying a message.
type dayRange struct {
	loc      *time.Location
	from, to int64 // [from, to) in Unix ns
	date     int32
}

// dayNumber is the days since 1970-01-01 of a calendar date.
func dayNumber(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}
