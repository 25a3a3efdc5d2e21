package windows

import (
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

type owner struct{ shop, agent string }

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
}

// NewTotals starts an accumulation at as-of time a.
func NewTotals(cfg Config, a int64) *Totals {
	return &Totals{a: a, spans: SpansAt(a), cfg: cfg, sums: map[owner]*totals{}, waiting: map[string]*waiting{}}
}

// Add sums partition p into t. The caller holds p's lock.
func (t *Totals) Add(p *Partition) {
	for k, v := range p.buckets {
		var ws [2]int
		n := 0
		if k.res == resMinute {
			if t.spans.M15.Has(k.idx) {
				ws[n] = w15m
				n++
			}
			if t.spans.H24.Has(k.idx) {
				ws[n] = w24h
				n++
			}
		} else if t.spans.D28.Has(k.idx) {
			ws[n] = w28d
			n++
		}
		if n == 0 {
			continue
		}
		o := owner{k.shop, k.agent}
		tot := t.sums[o]
		if tot == nil {
			tot = &totals{}
			t.sums[o] = tot
		}
		for _, w := range ws[:n] {
			if tot[w] == nil {
				tot[w] = make([]int64, len(v))
			}
			for i, x := range v {
				tot[w][i] += x
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

// Series renders every family for every shop and agent that is live (activity in the 28d
// window), zeros included.
func (t *Totals) Series() []kpi.Series {
	var shops []string
	var agents []owner
	for o := range t.sums {
		if t.get(o, w28d, activityIndex(o)) == 0 {
			continue
		}
		if o.agent == "" {
			shops = append(shops, o.shop)
		} else {
			agents = append(agents, o)
		}
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
