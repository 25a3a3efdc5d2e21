package windows

import (
	"sort"
	"strings"
	"time"

	"github.com/cskpi/cskpi/windows/kpi"
)

type totals [nWindows][]int64

type waiting struct {
	n      int64
	oldest int64
	over   []int64 // per waiting threshold: episodes that waited longer
}

// Totals accumulates window sums over partitions at one as-of time.
type Totals struct {
	a       int64
	spans   Spans
	cfg     Config
	lay     layout
	sums    map[owner]*totals
	waiting map[string]*waiting
	waits   []int64         // the waiting thresholds in ns
	active  map[owner]int64 // distinct buyers replied to in the last 15 minutes, per agent

	foldedShops, foldedAgents int
}

// NewTotals starts an accumulation at as-of time a.
func NewTotals(cfg Config, a int64) *Totals {
	t := &Totals{a: a, spans: SpansAt(a), cfg: cfg, lay: newLayout(cfg.Thresholds),
		sums: map[owner]*totals{}, waiting: map[string]*waiting{}, active: map[owner]int64{}}
	for _, ms := range cfg.WaitingThresholds() {
		t.waits = append(t.waits, ms*int64(time.Millisecond))
	}
	return t
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
	for c := range p.open {
		if !waitsAt(c, t.a) {
			continue
		}
		shop, _, _ := strings.Cut(c.key, "/")
		w := t.waiting[shop]
		if w == nil {
			w = &waiting{oldest: c.start, over: make([]int64, len(t.waits))}
			t.waiting[shop] = w
		}
		w.n++
		w.oldest = min(w.oldest, c.start)
		for i, thr := range t.waits {
			if t.a-c.start > thr {
				w.over[i]++
			}
		}
	}
	for c, rs := range p.recent {
		shop, _, _ := strings.Cut(c.key, "/")
		for i, r := range rs {
			if !activeAt(r, t.a) || seenAgent(rs[:i], r.agent, t.a) {
				continue
			}
			t.active[owner{shop, r.agent}]++
		}
	}
}

// seenAgent reports whether earlier holds a reply of agent inside the active window at a,
// so that a buyer counts once per agent.
func seenAgent(earlier []reply, agent string, a int64) bool {
	for _, r := range earlier {
		if r.agent == agent && activeAt(r, a) {
			return true
		}
	}
	return false
}

func (t *Totals) get(o owner, w, i int) int64 {
	tot := t.sums[o]
	if tot == nil || tot[w] == nil || i >= len(tot[w]) {
		return 0
	}
	return tot[w][i]
}

// Other is the shop or agent label that series beyond the cardinality caps fold into.
const Other = "_other"

// Folded reports how many shops and agents the last Series call folded into Other.
func (t *Totals) Folded() (shops, agents int) { return t.foldedShops, t.foldedAgents }

// live lists the owners with activity in the 28d window, most active first.
func (t *Totals) live() (shops, agents []owner) {
	for o := range t.sums {
		if t.get(o, wLive, t.activityIndex(o)) == 0 {
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
			ai, aj := t.get(s[i], wLive, t.activityIndex(s[i])), t.get(s[j], wLive, t.activityIndex(s[j]))
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
		if n := t.active[from]; n > 0 {
			delete(t.active, from)
			t.active[to] += n
		}
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
				for i := range o.over {
					o.over[i] += w.over[i]
				}
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
	var out []kpi.Series
	t.Each(func(s kpi.Series) { out = append(out, s) })
	return out
}

// Each is Series one series at a time, without holding them all: a scrape of thousands of
// shops turns each into a metric as it comes.
func (t *Totals) Each(emit func(kpi.Series)) {
	t.fold()
	ownersShops, agents := t.live()
	shops := make([]string, len(ownersShops))
	for i, o := range ownersShops {
		shops[i] = o.shop
	}
	for _, f := range kpi.Families() {
		switch f.Level {
		case kpi.ShopOnly:
			for _, shop := range shops {
				if f.Kind != kpi.PerWaitThreshold {
					emit(kpi.Series{Name: f.Name, Labels: kpi.Labels{Shop: shop}, Value: t.gauge(f, shop)})
					continue
				}
				for i, thr := range t.cfg.WaitingThresholds() {
					var n int64
					if w := t.waiting[shop]; w != nil {
						n = w.over[i]
					}
					emit(kpi.Series{Name: f.Name, Labels: kpi.Labels{Shop: shop, Seconds: kpi.LeLabel(thr)}, Value: float64(n)})
				}
			}
		case kpi.AgentOnly:
			for _, o := range agents {
				emit(kpi.Series{Name: f.Name, Labels: kpi.Labels{Shop: o.shop, Agent: o.agent},
					Value: float64(t.active[o])})
			}
		case kpi.ShopWindow:
			for _, shop := range shops {
				o := owner{shop: shop}
				for _, w := range familyWindows[f.ID] {
					wn := windowTable[w].name
					if f.Le() {
						for i, thr := range t.cfg.Thresholds {
							emit(kpi.Series{Name: f.Name,
								Labels: kpi.Labels{Shop: shop, Window: wn, Le: kpi.LeLabel(thr)},
								Value:  f.Unit.Export(t.get(o, w, t.lay.slot[f.ID]+i))})
						}
						continue
					}
					emit(kpi.Series{Name: f.Name, Labels: kpi.Labels{Shop: shop, Window: wn},
						Value: f.Unit.Export(t.counter(f, o, w))})
				}
			}
		case kpi.AgentWindow:
			for _, o := range agents {
				for _, w := range familyWindows[f.ID] {
					emit(kpi.Series{Name: f.Name,
						Labels: kpi.Labels{Shop: o.shop, Agent: o.agent, Window: windowTable[w].name},
						Value:  f.Unit.Export(t.counter(f, o, w))})
				}
			}
		}
	}
}

// counter is the integer value of a Counter or Shortfall family of o in window w.
func (t *Totals) counter(f kpi.Family, o owner, w int) int64 {
	v := t.get(o, w, t.lay.slot[f.ID])
	if f.Kind == kpi.Shortfall {
		return t.get(o, w, t.lay.slot[f.Base]) - v
	}
	return v
}

// gauge is the value of a Gauge family of shop at the as-of time.
func (t *Totals) gauge(f kpi.Family, shop string) float64 {
	w := t.waiting[shop]
	switch {
	case w == nil:
		return 0
	case f.ID == kpi.WaitingConversations:
		return float64(w.n)
	case f.ID == kpi.WaitingOldest:
		return f.Unit.Export(msBetween(w.oldest, t.a))
	}
	panic("windows: no rule for gauge " + f.Name)
}

func (t *Totals) activityIndex(o owner) int {
	if o.agent == "" {
		return t.lay.shopActivity
	}
	return t.lay.agentActivity
}
