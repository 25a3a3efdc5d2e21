package windows

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
)

type totals [nWindows][]int64

// waiting is one scene's open episodes of a shop.
type waiting struct {
	n      int64
	oldest int64   // start of the oldest; meaningless while n is 0
	over   []int64 // per waiting threshold: episodes that waited longer
}

// shopWaiting is a shop's open episodes, by the scene of each episode.
type shopWaiting [event.NumScenes]waiting

// merge adds o into w.
func (w *shopWaiting) merge(o *shopWaiting) {
	for sc := range w {
		a, b := &w[sc], &o[sc]
		if b.n > 0 && (a.n == 0 || b.oldest < a.oldest) {
			a.oldest = b.oldest
		}
		a.n += b.n
		for i := range a.over {
			a.over[i] += b.over[i]
		}
	}
}

// Totals accumulates window sums over partitions at one as-of time.
type Totals struct {
	a       int64
	spans   Spans
	cfg     Config
	lay     layout
	sums    map[owner]*totals
	waiting map[string]*shopWaiting
	waits   []int64         // the waiting thresholds in ns
	active  map[owner]int64 // distinct buyers replied to in the last 15 minutes, per agent

	foldedShops, foldedAgents int
}

// NewTotals starts an accumulation at as-of time a.
func NewTotals(cfg Config, a int64) *Totals {
	t := &Totals{a: a, spans: SpansAt(a), cfg: cfg, lay: newLayout(cfg.Thresholds),
		sums: map[owner]*totals{}, waiting: map[string]*shopWaiting{}, active: map[owner]int64{}}
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
		sw := t.waiting[shop]
		if sw == nil {
			sw = &shopWaiting{}
			for sc := range sw {
				sw[sc].over = make([]int64, len(t.waits))
			}
			t.waiting[shop] = sw
		}
		w := &sw[c.scene]
		if w.n == 0 || c.start < w.oldest {
			w.oldest = c.start
		}
		w.n++
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

// at is counter i of window w; 0 for an owner without sums (nil).
func (tot *totals) at(w, i int) int64 {
	if tot == nil || i >= len(tot[w]) {
		return 0
	}
	return tot[w][i]
}

// liveOwner is an owner with activity in the 28d window, its sums found once: a scrape
// reads hundreds of series of each.
type liveOwner struct {
	owner
	tot *totals
	act int64
}

// Other is the shop or agent label that series beyond the cardinality caps fold into.
const Other = "_other"

// Folded reports how many shops and agents the last Series call folded into Other.
func (t *Totals) Folded() (shops, agents int) { return t.foldedShops, t.foldedAgents }

// live lists the owners with activity in the 28d window, most active first.
func (t *Totals) live() (shops, agents []liveOwner) {
	for o, tot := range t.sums {
		l := liveOwner{o, tot, tot.at(wLive, t.activityIndex(o))}
		switch {
		case l.act == 0:
		case o.agent == "":
			shops = append(shops, l)
		default:
			agents = append(agents, l)
		}
	}
	byActivity := func(a, b liveOwner) int {
		if a.act != b.act {
			return cmp.Compare(b.act, a.act)
		}
		if a.shop != b.shop {
			return strings.Compare(a.shop, b.shop)
		}
		return strings.Compare(a.agent, b.agent)
	}
	slices.SortFunc(shops, byActivity)
	slices.SortFunc(agents, byActivity)
	return shops, agents
}

// fold merges the owners beyond the caps into Other, so that sums over all series stay
// exact while the number of series stays bounded, and returns the live owners after it
// (listed again only when it moved any: a list of 100 000 shops is a sort).
func (t *Totals) fold() (shops, agents []liveOwner) {
	shops, agents = t.live()
	moved := false
	renamed := map[string]bool{} // shops folded into Other
	if max := t.cfg.MaxShops; max > 0 && len(shops) > max {
		for _, o := range shops[max-1:] {
			renamed[o.shop] = true
		}
		t.foldedShops = len(shops) - (max - 1)
	}
	moveTo := func(from, to owner) {
		if from == to {
			return
		}
		moved = true
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
			if o := t.waiting[Other]; o == nil {
				t.waiting[Other] = w
			} else {
				o.merge(w)
			}
		}
	}
	// Agents of folded shops fold with their shop, into one agent="_other": the shop cap
	// bounds the series of agents too (kept under their own names, the agents of 100 000
	// shops capped at 1 000 were still three million series). Then the agent cap applies
	// to the agents of the kept shops.
	t.foldedAgents = 0
	for _, o := range agents {
		if renamed[o.shop] {
			moveTo(o.owner, owner{Other, Other})
			t.foldedAgents++
		}
	}
	if max := t.cfg.MaxAgents; max > 0 {
		if moved {
			_, agents = t.live()
		}
		var named []liveOwner // the agents with names of their own
		for _, o := range agents {
			if o.agent != Other {
				named = append(named, o)
			}
		}
		// At most max agent labels, "_other" among them when it is there.
		if len(named) > max || (len(named) < len(agents) && len(named) > max-1) {
			for _, o := range named[max-1:] {
				moveTo(o.owner, owner{o.shop, Other})
			}
			t.foldedAgents += len(named) - (max - 1)
		}
	}
	if moved {
		return t.live()
	}
	return shops, agents
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
	shops, agents := t.fold()
	for _, f := range kpi.Families() {
		switch f.Level {
		case kpi.ShopOnly:
			for _, o := range shops {
				for sc := range scenes(f) {
					l := kpi.Labels{Shop: o.shop, Scene: sc.String()}
					var w waiting
					if sw := t.waiting[o.shop]; sw != nil {
						w = sw[sc]
					}
					if f.Kind != kpi.PerWaitThreshold {
						emit(kpi.Series{Name: f.Name, Labels: l, Value: t.gauge(f, &w)})
						continue
					}
					for i, thr := range t.cfg.WaitingThresholds() {
						var n int64
						if w.over != nil {
							n = w.over[i]
						}
						l.Seconds = kpi.LeLabel(thr)
						emit(kpi.Series{Name: f.Name, Labels: l, Value: float64(n)})
					}
				}
			}
		case kpi.AgentOnly:
			for _, o := range agents {
				emit(kpi.Series{Name: f.Name, Labels: kpi.Labels{Shop: o.shop, Agent: o.agent},
					Value: float64(t.active[o.owner])})
			}
		case kpi.ShopWindow:
			for _, o := range shops {
				for _, w := range familyWindows[f.ID] {
					for sc := range scenes(f) {
						l := kpi.Labels{Shop: o.shop, Window: windowTable[w].name}
						if f.Scene {
							l.Scene = sc.String()
						}
						if f.Le() {
							for i, thr := range t.cfg.Thresholds {
								l.Le = kpi.LeLabel(thr)
								emit(kpi.Series{Name: f.Name, Labels: l, Value: f.Unit.Export(o.tot.at(w, t.lay.threshold(f.ID, sc, i)))})
							}
							continue
						}
						emit(kpi.Series{Name: f.Name, Labels: l, Value: f.Unit.Export(t.counter(f, o.tot, w, sc))})
					}
				}
			}
		case kpi.AgentWindow:
			for _, o := range agents {
				for _, w := range familyWindows[f.ID] {
					emit(kpi.Series{Name: f.Name,
						Labels: kpi.Labels{Shop: o.shop, Agent: o.agent, Window: windowTable[w].name},
						Value:  f.Unit.Export(t.counter(f, o.tot, w, event.Presale))})
				}
			}
		}
	}
}

// counter is the integer value of a Counter or Shortfall family of o in window w and
// scene sc (Presale for a family without the label). A Shortfall's base has its scenes.
func (t *Totals) counter(f kpi.Family, tot *totals, w int, sc event.Scene) int64 {
	v := tot.at(w, t.lay.at(f.ID, sc))
	if f.Kind == kpi.Shortfall {
		return tot.at(w, t.lay.at(f.Base, sc)) - v
	}
	return v
}

// gauge is the value of a Gauge family of one scene's open episodes w of a shop at the
// as-of time.
func (t *Totals) gauge(f kpi.Family, w *waiting) float64 {
	switch {
	case w.n == 0:
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
