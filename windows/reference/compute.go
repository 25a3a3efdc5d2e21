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

type agentKey struct{ shop, agent string }

// servedKey is one unit of 日接待量: an agent's buyer on one local date.
type servedKey struct {
	shop, agent, buyer string
	day                localDate
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
	msgsBy := map[conv][]event.Event{}
	for _, e := range applied {
		shop := kpi.Labels{Shop: e.Shop}
		if e.Topic == event.Messages {
			msgsBy[conv{e.Shop, e.Buyer}] = append(msgsBy[conv{e.Shop, e.Buyer}], e)
			switch e.Sender {
			case event.Buyer:
				t.add(kpi.BuyerMessages, shop, e.TS, 1)
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
		case event.OrderPaid:
			t.add(kpi.OrdersPaid, shop, e.TS, 1)
			t.add(kpi.PaidGMV, shop, e.TS, e.AmountFen)
			paidBy[conv{e.Shop, e.Buyer}] = append(paidBy[conv{e.Shop, e.Buyer}], e)
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
	waitingCount := map[string]int64{}
	oldestStart := map[string]int64{}
	for c, msgs := range msgsBy {
		open := false
		var start int64
		var episode []int64 // ts of the buyer messages of the open episode
		var mine []*cohort  // this conversation's cohorts, in creation order
		loc := dir.Location(c.shop, defLoc)
		shop := dir.Shop(c.shop)
		business := func(from, to int64) int64 { return shop.BusinessNs(from, to) / msNs }
		byDate := map[localDate]bool{}
		for _, e := range msgs {
			switch e.Sender {
			case event.Buyer:
				if open && e.TS-start > abandonAfter {
					open, episode = false, nil
				}
				if !open {
					open, start = true, e.TS
				}
				episode = append(episode, e.TS)
				if d := dateOf(e.TS, loc); !byDate[d] {
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
						ms := wholeMs(e.TS, start)
						t.add(kpi.ResponseBusinessTimeSum, kpi.Labels{Shop: c.shop}, e.TS, business(start, e.TS))
						t.add(kpi.AgentResponseBusinessTimeSum, ag, e.TS, business(start, e.TS))
						t.add(kpi.Responses, kpi.Labels{Shop: c.shop}, e.TS, 1)
						t.add(kpi.ResponseTimeSum, kpi.Labels{Shop: c.shop}, e.TS, ms)
						t.add(kpi.AgentResponses, kpi.Labels{Shop: c.shop, Agent: e.Agent}, e.TS, 1)
						t.add(kpi.AgentResponseTimeSum, kpi.Labels{Shop: c.shop, Agent: e.Agent}, e.TS, ms)
						for _, le := range les {
							if ms <= le.ms {
								t.add(kpi.ResponsesWithin, kpi.Labels{Shop: c.shop, Le: le.label}, e.TS, 1)
							}
						}
					}
					for _, mts := range episode {
						if e.TS-mts <= repliedWithin {
							t.add(kpi.BuyerMessagesReplied, kpi.Labels{Shop: c.shop}, mts, 1)
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
			if waitingCount[c.shop] == 0 || start < oldestStart[c.shop] {
				oldestStart[c.shop] = start
			}
			waitingCount[c.shop]++
			for _, w := range waits {
				if a-start > int64(w) {
					t.sums[sumKey{kpi.WaitingOver, kpi.Labels{Shop: c.shop, Seconds: kpi.LeLabel(w.Milliseconds())}}]++
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

	for k, buyers := range active {
		t.sums[sumKey{kpi.AgentBuyersActive, kpi.Labels{Shop: k.shop, Agent: k.agent}}] = int64(len(buyers))
	}
	for shop, n := range waitingCount {
		t.sums[sumKey{kpi.WaitingConversations, kpi.Labels{Shop: shop}}] = n
		t.sums[sumKey{kpi.WaitingOldest, kpi.Labels{Shop: shop}}] = wholeMs(a, oldestStart[shop])
	}

	// Every exported shop and agent gets every series of its level, zeros included.
	var out []kpi.Series
	emit := func(f kpi.Family, l kpi.Labels) {
		out = append(out, kpi.Series{Name: f.Name, Labels: l, Value: f.Unit.Export(t.sums[sumKey{f.ID, l}])})
	}
	for _, f := range kpi.Families() {
		switch f.Level {
		case kpi.ShopOnly:
			for shop := range shops {
				if f.Kind != kpi.PerWaitThreshold {
					emit(f, kpi.Labels{Shop: shop})
					continue
				}
				for _, w := range waits {
					emit(f, kpi.Labels{Shop: shop, Seconds: kpi.LeLabel(w.Milliseconds())})
				}
			}
		case kpi.AgentOnly:
			for ag := range agents {
				emit(f, kpi.Labels{Shop: ag.shop, Agent: ag.agent})
			}
		case kpi.ShopWindow:
			for shop := range shops {
				for _, w := range f.Windows {
					if !f.Le() {
						emit(f, kpi.Labels{Shop: shop, Window: w})
						continue
					}
					for _, le := range les {
						emit(f, kpi.Labels{Shop: shop, Window: w, Le: le.label})
					}
				}
			}
		case kpi.AgentWindow:
			for ag := range agents {
				for _, w := range f.Windows {
					emit(f, kpi.Labels{Shop: ag.shop, Agent: ag.agent, Window: w})
				}
			}
		}
	}
	return out
}
