package reference

import (
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/shops"
)

// sumKey is one exported series before unit conversion.
type sumKey struct {
	id kpi.ID
	kpi.Labels
}

// tally holds, per series, the integer sum (count, ms or fen) of the items inside its window.
type tally struct {
	a    int64
	fams []kpi.Family
	sums map[sumKey]int64
}

// add attributes value v at ts to every window of family id that holds ts at A.
func (t *tally) add(id kpi.ID, l kpi.Labels, ts, v int64) {
	for _, w := range t.fams[id].Windows {
		if inWindow(w, ts, t.a) {
			l.Window = w
			t.sums[sumKey{id, l}] += v
		}
	}
}

type conv struct{ shop, buyer string }

// orderKey is one order: its shop and order_id (CONTRACT §2, 催付), whatever the buyer.
type orderKey struct{ shop, order string }

type agentKey struct{ shop, agent string }

// servedKey is one unit of 日接待量: an agent's buyer on one local date.
type servedKey struct {
	shop, agent, buyer string
	day                localDate
}

// buyerMsg is a buyer message of the open episode: its ts and its own scene.
type buyerMsg struct {
	ts    int64
	scene event.Scene
}

// shopScene is one shop's waiting gauges of one scene.
type shopScene struct {
	shop  string
	scene event.Scene
}

// cohort is one inquiry (shop, buyer, local date).
type cohort struct {
	shop, buyer string
	t0          int64
	replied     bool
	agent       string
}

// threshold is one le series: its label and the bound in ms it stands for.
type threshold struct {
	label string
	ms    int64
}

// computeAt evaluates every family at as-of time a over the applied events, given in
// consumption order.
func computeAt(applied []event.Event, a int64, defLoc *time.Location, thresholds, waits []time.Duration, dir *shops.Directory) []kpi.Series {
	t := &tally{a: a, fams: kpi.Families(), sums: map[sumKey]int64{}}
	// SEMANTICS compares samples with the le label itself (ms ≤ le × 1000), so two thresholds
	// with the same whole seconds are one series.
	var les []threshold
	for _, d := range thresholds {
		label := kpi.LeLabel(d.Milliseconds())
		dup := false
		for _, le := range les {
			dup = dup || le.label == label
		}
		if !dup {
			les = append(les, threshold{label, d.Milliseconds() / 1000 * 1000})
		}
	}

	// Activity decides which shops and agents exist at A.
	shops := map[string]bool{}
	agents := map[agentKey]bool{}
	for _, e := range applied {
		if !inWindow(kpi.W28d, e.TS, a) {
			continue
		}
		shops[e.Shop] = true
		if e.Topic == event.Messages && (e.Sender == event.Agent || e.Sender == event.Auto) {
			agents[agentKey{e.Shop, e.Agent}] = true
		}
	}

	// Items counted at their own ts.
	paidBy := map[conv][]event.Event{}
	var createdOrders []event.Event      // the applied order_created events
	paidOrders := map[orderKey][]int64{} // ts of each applied order_paid of an order
	msgsBy := map[conv][]event.Event{}
	for _, e := range applied {
		shop := kpi.Labels{Shop: e.Shop}
		if e.Topic == event.Messages {
			msgsBy[conv{e.Shop, e.Buyer}] = append(msgsBy[conv{e.Shop, e.Buyer}], e)
			switch e.Sender {
			case event.Buyer:
				// CONTRACT §2 Scene: "a buyer message has its own scene".
				t.add(kpi.BuyerMessages, kpi.Labels{Shop: e.Shop, Scene: e.Scene.String()}, e.TS, 1)
			case event.Agent:
				t.add(kpi.HumanMessages, shop, e.TS, 1)
				t.add(kpi.AgentMessages, kpi.Labels{Shop: e.Shop, Agent: e.Agent}, e.TS, 1)
			case event.Auto:
				t.add(kpi.AutoMessages, shop, e.TS, 1)
			}
			continue
		}
		switch e.Kind {
		case event.OrderCreated:
			t.add(kpi.OrdersCreated, shop, e.TS, 1)
			createdOrders = append(createdOrders, e)
		case event.OrderPaid:
			t.add(kpi.OrdersPaid, shop, e.TS, 1)
			t.add(kpi.PaidGMV, shop, e.TS, e.AmountFen)
			paidBy[conv{e.Shop, e.Buyer}] = append(paidBy[conv{e.Shop, e.Buyer}], e)
			k := orderKey{e.Shop, e.OrderID}
			paidOrders[k] = append(paidOrders[k], e.TS)
		case event.RefundDisputed:
			t.add(kpi.RefundsDisputed, shop, e.TS, 1)
		case event.RefundCompleted:
			t.add(kpi.RefundsCompleted, shop, e.TS, 1)
			if e.ByMerchant {
				t.add(kpi.RefundsByMerchant, shop, e.TS, 1)
			}
			t.add(kpi.RefundDurationSum, shop, e.TS, wholeMs(e.TS, e.RequestedAt))
		}
	}

	// Conversations replay their messages in consumption order: episodes, cohorts and
	// buyers served depend on it, and nothing else does.
	var cohorts []*cohort
	served := map[servedKey]bool{}
	active := map[agentKey]map[string]bool{} // buyers replied to in (A-15m, A]
	waitingCount := map[shopScene]int64{}
	oldestStart := map[shopScene]int64{}
	for c, msgs := range msgsBy {
		open := false
		var start int64
		// CONTRACT §2 Scene: "an episode has the scene of the buyer message that opened it,
		// and so do its response sample, its waiting age and its place in the waiting
		// counts."
		var scene event.Scene
		var episode []buyerMsg // the buyer messages of the open episode
		var mine []*cohort     // this conversation's cohorts, in creation order
		loc := dir.Location(c.shop, defLoc)
		shop := dir.Shop(c.shop)
		business := func(from, to int64) int64 { return shop.BusinessNs(from, to) / msNs }
		byDate := map[localDate]bool{} // the local dates that have a cohort
		for _, e := range msgs {
			switch e.Sender {
			case event.Buyer:
				if open && e.TS-start > abandonAfter {
					open, episode = false, nil
				}
				if !open {
					open, start, scene = true, e.TS, e.Scene
				}
				episode = append(episode, buyerMsg{e.TS, e.Scene})
				// CONTRACT §2 Scene: "Inquiry cohorts (询单) are pre-sale: only a presale buyer
				// message opens one, and t0 is the first presale buyer message of that local
				// date (a day with only after-sale messages is no inquiry)."
				if d := dateOf(e.TS, loc); e.Scene == event.Presale && !byDate[d] {
					byDate[d] = true
					co := &cohort{shop: c.shop, buyer: c.buyer, t0: e.TS}
					mine = append(mine, co)
					cohorts = append(cohorts, co)
				}
			case event.Agent:
				ag := kpi.Labels{Shop: c.shop, Agent: e.Agent}
				if a-activeFor < e.TS && e.TS <= a {
					k := agentKey{c.shop, e.Agent}
					if active[k] == nil {
						active[k] = map[string]bool{}
					}
					active[k][c.buyer] = true
				}
				if open {
					t.add(kpi.AgentBuyerMessagesAnswered, ag, e.TS, int64(len(episode)))
					if e.TS-start <= abandonAfter {
						// The sample has the episode's scene; the agent's families have none.
						sc := kpi.Labels{Shop: c.shop, Scene: scene.String()}
						ms := wholeMs(e.TS, start)
						t.add(kpi.ResponseBusinessTimeSum, sc, e.TS, business(start, e.TS))
						t.add(kpi.AgentResponseBusinessTimeSum, ag, e.TS, business(start, e.TS))
						t.add(kpi.Responses, sc, e.TS, 1)
						t.add(kpi.ResponseTimeSum, sc, e.TS, ms)
						t.add(kpi.AgentResponses, ag, e.TS, 1)
						t.add(kpi.AgentResponseTimeSum, ag, e.TS, ms)
						for _, le := range les {
							if ms <= le.ms {
								t.add(kpi.ResponsesWithin, kpi.Labels{Shop: c.shop, Scene: scene.String(), Le: le.label}, e.TS, 1)
							}
						}
					}
					// CONTRACT §2: "A buyer message is replied within 24 h when the reply
					// closing its episode comes at most 24 h after it", and "is replied within
					// 48 h (回复消息数) when the reply that closes its episode has reply.ts −
					// message.ts ≤ 48h". This reply closes the episode, abandoned or not.
					// Replied messages count by the message's own scene, at the message's ts,
					// so that in each scene they are a part of the buyer messages.
					for _, m := range episode {
						l := kpi.Labels{Shop: c.shop, Scene: m.scene.String()}
						if e.TS-m.ts <= replied24h {
							t.add(kpi.BuyerMessagesReplied, l, m.ts, 1)
						}
						if e.TS-m.ts <= replied48h {
							t.add(kpi.BuyerMessagesReplied48h, l, m.ts, 1)
						}
					}
					open, episode = false, nil
				}
				sk := servedKey{c.shop, e.Agent, c.buyer, dateOf(e.TS, loc)}
				if !served[sk] {
					served[sk] = true
					t.add(kpi.AgentBuyersServed, kpi.Labels{Shop: c.shop, Agent: e.Agent}, e.TS, 1)
				}
				for _, co := range mine {
					if !co.replied && e.TS <= co.t0+cohortHorizon {
						co.replied, co.agent = true, e.Agent
						fr := wholeMs(e.TS, co.t0)
						t.add(kpi.FirstResponses, kpi.Labels{Shop: c.shop}, e.TS, 1)
						t.add(kpi.FirstResponseTimeSum, kpi.Labels{Shop: c.shop}, e.TS, fr)
						t.add(kpi.FirstResponseBusinessTimeSum, kpi.Labels{Shop: c.shop}, e.TS, business(co.t0, e.TS))
						t.add(kpi.AgentFirstResponses, ag, e.TS, 1)
						t.add(kpi.AgentFirstResponseTimeSum, ag, e.TS, fr)
					}
				}
			}
		}
		if open && a-abandonAfter <= start && start <= a {
			k := shopScene{c.shop, scene}
			if waitingCount[k] == 0 || start < oldestStart[k] {
				oldestStart[k] = start
			}
			waitingCount[k]++
			for _, w := range waits {
				if a-start > int64(w) {
					t.sums[sumKey{kpi.WaitingOver, kpi.Labels{Shop: c.shop, Scene: scene.String(), Seconds: kpi.LeLabel(w.Milliseconds())}}]++
				}
			}
		}
	}

	// Cohorts are joined with payments only now, after every event is in, so the result does
	// not depend on whether a payment was consumed before or after the chat.
	for _, co := range cohorts {
		shop := kpi.Labels{Shop: co.shop}
		t.add(kpi.Inquiries, shop, co.t0, 1)
		if !co.replied {
			continue
		}
		agent := kpi.Labels{Shop: co.shop, Agent: co.agent}
		t.add(kpi.InquiriesReplied, shop, co.t0, 1)
		t.add(kpi.AgentInquiriesReplied, agent, co.t0, 1)
		var n, fen int64
		for _, p := range paidBy[conv{co.shop, co.buyer}] {
			if co.t0 <= p.TS && p.TS <= co.t0+cohortHorizon {
				n++
				fen += p.AmountFen
			}
		}
		if n > 0 {
			t.add(kpi.InquiriesGuided, shop, co.t0, 1)
			t.add(kpi.GuidedGMV, shop, co.t0, fen)
			t.add(kpi.AgentInquiriesGuided, agent, co.t0, 1)
			t.add(kpi.AgentGuidedGMV, agent, co.t0, fen)
		}
	}

	// CONTRACT §2, orders paid of those created (催付): "an order_created whose order (same
	// shop and order_id) has an order_paid with created.ts ≤ paid.ts ≤ created.ts + 24h,
	// counted once at created.ts however many payment events the order has."
	// Decisions where the text is silent: each applied order_created event is one item, as
	// it is one of cskpi_orders_created, so two creation events of one order (distinct
	// event_ids) count twice, each if it qualifies; and, joined here after every event is in,
	// a payment qualifies whatever its arrival order: consumed before the creation event,
	// days out of order, or one of several payments of the order.
	for _, cr := range createdOrders {
		for _, paidTS := range paidOrders[orderKey{cr.Shop, cr.OrderID}] {
			if cr.TS <= paidTS && paidTS <= cr.TS+paidWithin {
				t.add(kpi.OrdersCreatedPaid24h, kpi.Labels{Shop: cr.Shop}, cr.TS, 1)
				break
			}
		}
	}

	for k, buyers := range active {
		t.sums[sumKey{kpi.AgentBuyersActive, kpi.Labels{Shop: k.shop, Agent: k.agent}}] = int64(len(buyers))
	}
	// Per scene, the oldest open episode of that scene (CONTRACT §3); a scene with none
	// keeps 0, as its count does.
	for k, n := range waitingCount {
		l := kpi.Labels{Shop: k.shop, Scene: k.scene.String()}
		t.sums[sumKey{kpi.WaitingConversations, l}] = n
		t.sums[sumKey{kpi.WaitingOldest, l}] = wholeMs(a, oldestStart[k])
	}

	// Every exported shop and agent gets every series of its level, zeros included: one per
	// window, per scene (both, for the families with the scene label), per response or
	// waiting threshold, as the family has them.
	var out []kpi.Series
	for _, f := range kpi.Families() {
		var owners []kpi.Labels
		switch f.Level {
		case kpi.ShopOnly, kpi.ShopWindow:
			for shop := range shops {
				owners = append(owners, kpi.Labels{Shop: shop})
			}
		case kpi.AgentOnly, kpi.AgentWindow:
			for ag := range agents {
				owners = append(owners, kpi.Labels{Shop: ag.shop, Agent: ag.agent})
			}
		}
		for _, l := range labelsOf(f, owners, les, waits) {
			out = append(out, kpi.Series{Name: f.Name, Labels: l, Value: f.Unit.Export(t.sums[sumKey{f.ID, l}])})
		}
	}
	return out
}

// labelsOf expands each owner (a shop or an agent) into the label sets family f exports for
// it: one per window it has, per scene when it has the scene label, per threshold when it
// has the le or the seconds label.
func labelsOf(f kpi.Family, owners []kpi.Labels, les []threshold, waits []time.Duration) []kpi.Labels {
	expand := func(in []kpi.Labels, n int, set func(l *kpi.Labels, i int)) []kpi.Labels {
		var out []kpi.Labels
		for _, l := range in {
			for i := range n {
				set(&l, i)
				out = append(out, l)
			}
		}
		return out
	}
	out := owners
	if len(f.Windows) > 0 {
		out = expand(out, len(f.Windows), func(l *kpi.Labels, i int) { l.Window = f.Windows[i] })
	}
	if f.Scene {
		scenes := kpi.Scenes()
		out = expand(out, len(scenes), func(l *kpi.Labels, i int) { l.Scene = scenes[i] })
	}
	switch f.Kind {
	case kpi.PerThreshold:
		out = expand(out, len(les), func(l *kpi.Labels, i int) { l.Le = les[i].label })
	case kpi.PerWaitThreshold:
		out = expand(out, len(waits), func(l *kpi.Labels, i int) { l.Seconds = kpi.LeLabel(waits[i].Milliseconds()) })
	}
	return out
}
