package windows

import (
	"sort"
	"strings"

	"github.com/cskpi/cskpi/windows/kpi"
)

// shopCounter and agentCounter map a family to its counter; -1 for families computed
// otherwise (responses_within, waiting).
func shopCounter(name string) int {
	switch name {
	case kpi.BuyerMessages:
		return cBuyerMsgs
	case kpi.BuyerMessagesReplied:
		return cReplied24h
	case kpi.HumanMessages:
		return cHuman
	case kpi.AutoMessages:
		return cAuto
	case kpi.Responses:
		return cResponses
	case kpi.ResponseTimeSum:
		return cRespMS
	case kpi.Inquiries:
		return cInquiries
	case kpi.InquiriesReplied:
		return cInqReplied
	case kpi.InquiriesGuided:
		return cInqGuided
	case kpi.GuidedGMV:
		return cGuidedFen
	case kpi.OrdersCreated:
		return cOrdersCreated
	case kpi.OrdersPaid:
		return cOrdersPaid
	case kpi.PaidGMV:
		return cPaidFen
	case kpi.RefundsDisputed:
		return cRefundsDisputed
	case kpi.RefundsCompleted:
		return cRefundsCompleted
	case kpi.RefundsByMerchant:
		return cRefundsMerchant
	case kpi.RefundDurationSum:
		return cRefundMS
	}
	return -1
}

func agentCounter(name string) int {
	switch name {
	case kpi.AgentResponses:
		return aResponses
	case kpi.AgentResponseTimeSum:
		return aRespMS
	case kpi.AgentMessages:
		return aMessages
	case kpi.AgentBuyersServed:
		return aServed
	case kpi.AgentInquiriesReplied:
		return aInqReplied
	case kpi.AgentInquiriesGuided:
		return aInqGuided
	case kpi.AgentGuidedGMV:
		return aGuidedFen
	}
	return -1
}

// value converts a counter to its exported unit.
func value(name string, v int64) float64 {
	switch {
	case strings.HasSuffix(name, "_seconds_sum"):
		return kpi.Seconds(v)
	case strings.HasSuffix(name, "_yuan"):
		return kpi.Yuan(v)
	}
	return float64(v)
}

type totals [nWindows][]int64

type waiting struct {
	n      int64
	oldest int64
}

// Totals accumulates window sums over partitions at one as-of time.
type Totals struct {
	a       int64
	spans   Spans
	cfg     Config
	sums    map[owner]*totals
	waiting map[string]*waiting

	foldedShops, foldedAgents int
}

// NewTotals starts an accumulation at as-of time a.
func NewTotals(cfg Config, a int64) *Totals {
	return &Totals{a: a, spans: SpansAt(a), cfg: cfg, sums: map[owner]*totals{}, waiting: map[string]*waiting{}}
}

// Add sums partition p into t. The caller holds p's lock: moving p's running totals to
// t's as-of time changes p.
func (t *Totals) Add(p *Partition) {
	p.advance(t.a)
	for id, src := range p.run.sums {
		if src == nil {
			continue
		}
		o := p.owners.owner(ownerID(id))
		tot := t.sums[o]
		if tot == nil {
			tot = &totals{}
			t.sums[o] = tot
		}
		for w, v := range src {
			if v != nil {
				addInto(tot, w, v, 1)
			}
		}
	}
	for key, c := range p.convs {
		if !c.open || c.start > t.a || t.a-c.start > horizon48 {
			continue
		}
		shop, _, _ := strings.Cut(key, "/")
		w := t.waiting[shop]
		if w == nil {
			w = &waiting{oldest: c.start}
			t.waiting[shop] = w
		}
		w.n++
		w.oldest = min(w.oldest, c.start)
	}
}

func (t *Totals) get(o owner, w, i int) int64 {
	tot := t.sums[o]
	if tot == nil || tot[w] == nil || i >= len(tot[w]) {
		return 0
	}
	return tot[w][i]
}

func windowIndex(name string) int {
	switch name {
	case kpi.W15m:
		return w15m
	case kpi.W24h:
		return w24h
	}
	return w28d
}

// Other is the shop or agent label that series beyond the cardinality caps fold into.
const Other = "_other"

// Folded reports how many shops and agents the last Series call folded into Other.
func (t *Totals) Folded() (shops, agents int) { return t.foldedShops, t.foldedAgents }

// live lists the owners with activity in the 28d window, most active first.
func (t *Totals) live() (shops, agents []owner) {
	for o := range t.sums {
		if t.get(o, w28d, activityIndex(o)) == 0 {
			continue
		}
		if o.agent == "" {
			shops = append(shops, o)
		} else {
			agents = append(agents, o)
		}
	}
	byActivity := func(s []owner) {
		sort.Slice(s, func(i, j int) bool {
			ai, aj := t.get(s[i], w28d, activityIndex(s[i])), t.get(s[j], w28d, activityIndex(s[j]))
			if ai != aj {
				return ai > aj
			}
			if s[i].shop != s[j].shop {
				return s[i].shop < s[j].shop
			}
			return s[i].agent < s[j].agent
		})
	}
	byActivity(shops)
	byActivity(agents)
	return shops, agents
}

// fold merges the owners beyond the caps into Other, so that sums over all series stay
// exact while the number of series stays bounded.
func (t *Totals) fold() {
	shops, agents := t.live()
	renamed := map[string]bool{} // shops folded into Other
	if max := t.cfg.MaxShops; max > 0 && len(shops) > max {
		for _, o := range shops[max-1:] {
			renamed[o.shop] = true
		}
		t.foldedShops = len(shops) - (max - 1)
	}
	moveTo := func(from, to owner) {
		src := t.sums[from]
		delete(t.sums, from)
		dst := t.sums[to]
		if dst == nil {
			dst = &totals{}
			t.sums[to] = dst
		}
		for w := range src {
			if src[w] == nil {
				continue
			}
			if dst[w] == nil {
				dst[w] = make([]int64, len(src[w]))
			}
			for i, x := range src[w] {
				dst[w][i] += x
			}
		}
	}
	for shop := range renamed {
		moveTo(owner{shop: shop}, owner{shop: Other})
		if w := t.waiting[shop]; w != nil {
			delete(t.waiting, shop)
			o := t.waiting[Other]
			if o == nil {
				t.waiting[Other] = w
			} else {
				o.n += w.n
				o.oldest = min(o.oldest, w.oldest)
			}
		}
	}
	// Agents of folded shops move with their shop; then the agent cap applies.
	for _, o := range agents {
		if renamed[o.shop] {
			moveTo(o, owner{Other, o.agent})
		}
	}
	if max := t.cfg.MaxAgents; max > 0 {
		_, agents = t.live()
		if len(agents) > max {
			for _, o := range agents[max-1:] {
				moveTo(o, owner{o.shop, Other})
			}
			t.foldedAgents = len(agents) - (max - 1)
		}
	}
}

// Series renders every family for every shop and agent that is live (activity in the 28d
// window), zeros included, within the cardinality caps.
func (t *Totals) Series() []kpi.Series {
	t.fold()
	ownersShops, agents := t.live()
	shops := make([]string, len(ownersShops))
	for i, o := range ownersShops {
		shops[i] = o.shop
	}
	var out []kpi.Series
	for _, f := range kpi.Families() {
		switch f.Level {
		case kpi.ShopOnly:
			for _, shop := range shops {
				var v float64
				w := t.waiting[shop]
				switch {
				case w == nil:
				case f.Name == kpi.WaitingConversations:
					v = float64(w.n)
				default:
					v = kpi.Seconds(msBetween(w.oldest, t.a))
				}
				out = append(out, kpi.Series{Name: f.Name, Labels: kpi.Labels{Shop: shop}, Value: v})
			}
		case kpi.ShopWindow:
			for _, shop := range shops {
				o := owner{shop: shop}
				for _, wn := range f.Windows {
					w := windowIndex(wn)
					if f.Le {
						for i, thr := range t.cfg.Thresholds {
							out = append(out, kpi.Series{Name: f.Name,
								Labels: kpi.Labels{Shop: shop, Window: wn, Le: kpi.LeLabel(thr)},
								Value:  float64(t.get(o, w, nShopFixed+i))})
						}
						continue
					}
					out = append(out, kpi.Series{Name: f.Name, Labels: kpi.Labels{Shop: shop, Window: wn},
						Value: value(f.Name, t.get(o, w, shopCounter(f.Name)))})
				}
			}
		case kpi.AgentWindow:
			for _, o := range agents {
				for _, wn := range f.Windows {
					out = append(out, kpi.Series{Name: f.Name,
						Labels: kpi.Labels{Shop: o.shop, Agent: o.agent, Window: wn},
						Value:  value(f.Name, t.get(o, windowIndex(wn), agentCounter(f.Name)))})
				}
			}
		}
	}
	return out
}

func activityIndex(o owner) int {
	if o.agent == "" {
		return cActivity
	}
	return aActivity
}
