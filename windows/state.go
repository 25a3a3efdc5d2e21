package windows

import (
	"hash/maphash"
	"strings"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/shops"
)

// Resolution of a bucket.
const (
	resMinute byte = 'm'
	resHour   byte = 'h'
)

// blockKey names one bucket: a minute or an hour. A bucket holds the vectors of every shop
// and agent with activity in it, and is stored as one Redis hash field, so that a batch
// writes a handful of fields however many shops it touched.
type blockKey struct {
	res byte
	idx int64
}

// owner is a shop (agent == "") or an agent of a shop.
type owner struct{ shop, agent string }

// conv is the state of one conversation (shop, buyer) that can still change a result.
// Conversations are kept for weeks (docs/SEMANTICS.md), so every field costs: what only a
// few of them need (recent replies) lives in a side map of the partition.
type conv struct {
	key         string // "<shop>/<buyer>", its field in Redis
	dirty, gone bool   // changed by the current batch; deleted since
	queued      bool   // touched since the last expiry (Partition.touched)
	open        bool
	// last is the largest ts of the conversation's applied buyer and agent messages
	// (minInt64 before any). CONTRACT §1 orders a conversation's messages, so no later message
	// of it is earlier than last: state that only an earlier message could change may go.
	last    int64
	start   int64   // first unanswered buyer message of the open episode
	msgs    []int64 // ts of the open episode's buyer messages
	cohorts []cohort
	paids   []paid // applied order_paid, for cohorts consumed later
	served  []served
	// lastAgent is the agent of the conversation's latest human reply (the last applied:
	// a conversation's messages are in order), for /api/v1/waiting.
	lastAgent string
}

type reply struct {
	agent string
	ts    int64
}

type cohort struct {
	date    int32
	t0      int64
	replied bool
	agent   string
	nPaid   int32 // applied order_paid with t0 <= ts <= t0+48h
	fen     int64 // their sum
}

type paid struct{ ts, fen int64 }

type served struct {
	agent string
	date  int32
	ts    int64 // the first reply, for expiry
}

func (c *conv) empty() bool {
	return !c.open && len(c.cohorts) == 0 && len(c.paids) == 0 && len(c.served) == 0
}

// Config is what every partition of one service shares.
type Config struct {
	Location   *time.Location
	Thresholds []int64 // response thresholds in ms, ascending
	// Shops is the shop directory in force (nil: none): zones, business hours.
	Shops *shops.Holder
	// WaitThresholds are the waiting ages of cskpi_waiting_conversations_over in ms, whole
	// seconds; nil means the contract's default 15s, 3m, 1h.
	WaitThresholds []int64
	// MaxShops and MaxAgents cap the exported series (0: no cap); the least active shops
	// and agents beyond them are folded into shop="_other" and agent="_other".
	MaxShops, MaxAgents int
}

// waitThresholds are the configured waiting thresholds, or the contract's default.
func (c Config) waitThresholds() []int64 {
	if c.WaitThresholds == nil {
		return []int64{15_000, 180_000, 3_600_000}
	}
	return c.WaitThresholds
}

// Partition is the in-memory mirror of one partition's state: the KPI rules (episodes,
// cohorts, buyers served) applied to buckets, and what changed since the last commit. It is
// not safe for concurrent use; its owner (the pipeline's partition worker) serializes
// applying batches and reading totals.
type Partition struct {
	ID  int
	cfg Config
	lay layout

	// Offsets holds, per topic name, the next offset to apply: the value stored in Redis.
	Offsets map[string]int64
	// Seq counts the batches committed; the store's fence compares it.
	Seq int64
	// wm is the partition's stream time per topic role (largest applied ts; 0 when none).
	// Event ids are remembered on it: a re-published copy keeps its key, so it arrives on
	// the same topic-partition, and this clock is the one its arrival order defines.
	wm [event.NumTopics]int64
	// st is the largest stream time this partition has validated a record or expired
	// state with (minInt64: none). It is committed with the state, and a batch never
	// validates with less, so a restart that has not yet read the shared stream time
	// cannot accept a record whose state an earlier life already dropped as too old.
	st int64

	owners  owners
	scratch []int64 // for decoding vectors
	blocks  map[blockKey]*bucket
	decoded map[blockKey]struct{} // the buckets held decoded
	run     running
	convs   map[string]*conv
	// open indexes the conversations with an open episode, for the waiting gauges: most
	// conversations are kept for weeks (docs/SEMANTICS.md), few are waiting.
	open map[*conv]struct{}
	// recent holds the human replies of the last 15 minutes of the as-of time, per
	// conversation, for cskpi_agent_buyers_active (同时接待).
	recent map[*conv][]reply
	// touched lists the conversations changed since the last expiry, which looks at them
	// at once; all conversations are walked only when the too-old horizon has moved by an
	// hour since the last walk (fullAt).
	touched []*conv
	fullAt  int64
	// ids holds, per topic role, the ts of each remembered event id, keyed by a 128-bit
	// seeded hash of the id: half the memory of string keys, nothing for the GC to scan,
	// and a collision is as likely as two random 128-bit numbers being equal.
	// The value is the id's anchor max(ts, S₀), S₀ being the topic-partition's stream time
	// when it was accepted: the id is a duplicate while that stream time is at most
	// anchor + 1 h (CONTRACT §1, decided in arrival order).
	ids   [event.NumTopics]map[idKey]int64
	seeds [event.NumTopics]maphash.Seed
	// idMinutes groups the same ids by minute of anchor, for expiry and for Redis: there, each
	// batch adds one field per minute it touched holding only its new ids (the minute's
	// earlier fields stay as they are), and expiry deletes a minute's fields together.
	idMinutes [event.NumTopics]map[int64]*idMinute

	// horizons below which buckets are gone; updates there are dropped.
	minMinute, minHour int64

	// since holds, for a family the loaded state lacked, the stream time from which it
	// counts (an upgrade added it). layoutDirty says the stored layout's description
	// (slot names, since) must go with the next commit: a new partition, or an upgrade.
	since       map[kpi.ID]int64
	layoutDirty bool

	// what the current batch changed, for the store.
	dirtyB    map[blockKey]struct{}
	arena     []byte  // the changed buckets' encodings of the change set being committed
	dirtyC    []*conv // each once (conv.dirty); a conversation deleted since has gone set
	dirtyI    [event.NumTopics]map[int64]struct{}
	deletedB  []blockKey
	deletedC  []string
	deletedI  []string // id fields
	idsCutoff [event.NumTopics]int64
	keyBuf    []byte

	// cache remembers, per resolution and owner, the vector bumped last: an owner's
	// counters mostly land in the same minute and hour within a batch, and the bucket
	// and vector lookups are the largest cost of applying an event. An entry is valid
	// only while its epoch is current; anything that may move a vector (a commit, expiry,
	// moving the running totals, freeing owner numbers) starts a new epoch.
	cache [2][]cached
	epoch uint64
	day   dayRange
}

// dayRange caches the local day last looked up: zone conversion costs more than the rest
// of applying a message.
type dayRange struct {
	loc      *time.Location
	from, to int64 // [from, to) in Unix ns
	date     int32
}

type cached struct {
	epoch uint64
	k     blockKey
	v     []int64
	// the running totals of o and the windows of them that hold k
	t  *totals
	ws [2]int
	nw int
}

// NewPartition makes an empty mirror.
func NewPartition(id int, cfg Config) *Partition {
	p := &Partition{ID: id, cfg: cfg, lay: newLayout(cfg.Thresholds), Offsets: map[string]int64{},
		seeds: [event.NumTopics]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	p.reset()
	return p
}

func (p *Partition) reset() {
	p.Offsets = map[string]int64{}
	p.Seq = 0
	p.wm = [event.NumTopics]int64{}
	p.st = minInt64
	p.blocks = map[blockKey]*bucket{}
	p.decoded = map[blockKey]struct{}{}
	p.run = running{}
	p.owners = newOwners()
	p.convs = map[string]*conv{}
	p.open = map[*conv]struct{}{}
	p.recent = map[*conv][]reply{}
	p.touched = nil
	p.fullAt = minInt64
	for t := range event.NumTopics {
		p.ids[t] = map[idKey]int64{}
		p.idMinutes[t] = map[int64]*idMinute{}
	}
	p.minMinute, p.minHour = minInt64, minInt64
	p.since = map[kpi.ID]int64{}
	p.layoutDirty = true
	p.clearDirty()
	p.idsCutoff = [2]int64{minInt64, minInt64}
}

const minInt64 = -1 << 63

func (p *Partition) clearDirty() {
	// A cached vector is only valid while its bucket is marked dirty.
	p.invalidate()
	p.dirtyB = map[blockKey]struct{}{}
	for _, c := range p.dirtyC {
		c.dirty = false
	}
	p.dirtyC = p.dirtyC[:0]
	for t := range event.NumTopics {
		p.dirtyI[t] = map[int64]struct{}{}
	}
	p.deletedB = nil
	p.deletedC = nil
	p.deletedI = nil
}

// Changed reports whether the mirror holds changes that are not committed.
func (p *Partition) Changed() bool {
	n := len(p.dirtyB) + len(p.dirtyC) + len(p.deletedB) + len(p.deletedC) + len(p.deletedI)
	for _, d := range p.dirtyI {
		n += len(d)
	}
	return n > 0
}

// invalidate starts a new cache epoch.
func (p *Partition) invalidate() { p.epoch++ }

// Watermark is the partition's stream time for a topic role.
func (p *Partition) Watermark(t event.Topic) int64 { return p.wm[t] }

// newest is the largest ts applied to the partition, on either topic.
func (p *Partition) newest() int64 { return max(p.wm[event.Messages], p.wm[event.Orders]) }

// add puts delta into family id's counter of owner o, in the minute and hour buckets
// holding ts.
func (p *Partition) add(o ownerID, ts int64, id kpi.ID, delta int64) {
	p.addAt(o, ts, p.lay.slot[id], delta)
}

// addAt puts delta into slot i of owner o's vectors in the buckets holding ts.
func (p *Partition) addAt(o ownerID, ts int64, i int, delta int64) {
	if delta == 0 {
		return
	}
	if m := MinuteOf(ts); m >= p.minMinute {
		p.bump(blockKey{resMinute, m}, o, i, delta)
	}
	if h := HourOf(ts); h >= p.minHour {
		p.bump(blockKey{resHour, h}, o, i, delta)
	}
}

func (p *Partition) bump(k blockKey, o ownerID, i int, delta int64) {
	slot := resSlot(k.res)
	if int(o) < len(p.cache[slot]) {
		if c := &p.cache[slot][o]; c.epoch == p.epoch && c.k == k {
			c.v[i] += delta
			for _, w := range c.ws[:c.nw] {
				c.t[w][i] += delta
			}
			return
		}
	}
	agent := p.owners.isAgent(o)
	b := p.blocks[k]
	if b == nil {
		b = &bucket{dec: vecs{}}
		p.blocks[k] = b
		p.decoded[k] = struct{}{}
	}
	d := p.vectors(k, b)
	b.enc, b.dirty = nil, true
	n := p.lay.shopLen
	if agent {
		n = p.lay.agentLen
	}
	v := d[o]
	if v == nil {
		v = make([]int64, n)
		d[o] = v
	}
	v[i] += delta
	p.dirtyB[k] = struct{}{}
	if n := len(p.owners.byID); len(p.cache[slot]) < n {
		p.cache[slot] = append(p.cache[slot], make([]cached, n-len(p.cache[slot]))...)
	}
	c := &p.cache[slot][o]
	*c = cached{epoch: p.epoch, k: k, v: v}
	if !p.run.ok {
		return
	}
	for w := range nWindows {
		if windowRes(w) == k.res && p.run.spans.of(w).Has(k.idx) {
			c.ws[c.nw] = w
			c.nw++
		}
	}
	if c.nw == 0 {
		return
	}
	c.t = p.runTotals(o)
	for _, w := range c.ws[:c.nw] {
		if c.t[w] == nil {
			c.t[w] = make([]int64, n)
		}
		c.t[w][i] += delta
	}
}

func resSlot(res byte) int {
	if res == resHour {
		return 1
	}
	return 0
}

type idKey [2]uint64

func (p *Partition) idKey(id string) idKey {
	return idKey{maphash.String(p.seeds[0], id), maphash.String(p.seeds[1], id)}
}

// idMinute is what the mirror keeps of the ids of one minute of ts.
type idMinute struct {
	keys   []idKey  // to forget them at expiry
	fields []string // the Redis fields holding them
	fresh  []byte   // those of the current batch, encoded for the next field
}

// remember records an accepted event id with its anchor.
func (p *Partition) remember(t event.Topic, id string, anchor int64) {
	k := p.idKey(id)
	p.ids[t][k] = anchor
	m := MinuteOf(anchor)
	im := p.idMinutes[t][m]
	if im == nil {
		im = &idMinute{}
		p.idMinutes[t][m] = im
	}
	im.keys = append(im.keys, k)
	im.fresh = appendID(im.fresh, id, anchor)
	p.dirtyI[t][m] = struct{}{}
}

// idsCommitted records that Redis holds the fresh ids of the batch committed as seq, each
// minute's under idBatchField.
func (p *Partition) idsCommitted(seq int64) {
	for t := range event.NumTopics {
		for m := range p.dirtyI[t] {
			im := p.idMinutes[t][m]
			im.fields = append(im.fields, idBatchField(t, m, seq))
			im.fresh = nil
		}
	}
}

// conv gives the conversation of e, creating it, marked changed. Its key is built in a
// reused buffer: the lookup allocates nothing, only a new conversation's key does.
func (p *Partition) conv(e *event.Event) *conv {
	p.keyBuf = append(append(append(p.keyBuf[:0], e.Shop...), '/'), e.Buyer...)
	c := p.convs[string(p.keyBuf)]
	if c == nil {
		c = &conv{key: string(p.keyBuf), last: minInt64}
		p.convs[c.key] = c
	}
	p.markConv(c)
	return c
}

func (p *Partition) markConv(c *conv) {
	if !c.dirty {
		c.dirty = true
		p.dirtyC = append(p.dirtyC, c)
	}
	if !c.queued {
		c.queued = true
		p.touched = append(p.touched, c)
	}
}

// Outcome of one record.
type Outcome uint8

const (
	Applied Outcome = iota
	Duplicate
	Excluded
	Rejected
)

func (o Outcome) String() string {
	switch o {
	case Duplicate:
		return "duplicate"
	case Excluded:
		return "excluded"
	case Rejected:
		return "rejected"
	}
	return "applied"
}

// Clock is what validation needs to know about time.
type Clock struct {
	Stream  int64 // the stream time known before this record (meaningless while HasTime is false)
	HasTime bool
	Wall    int64 // the wall clock, for "future"
}

// Clock is the clock a batch of this partition starts with: the shared stream time known
// to the caller, but never less than the partition has already used (see st).
func (p *Partition) Clock(stream int64, hasTime bool, wall int64) Clock {
	if p.st != minInt64 && (!hasTime || p.st > stream) {
		stream, hasTime = p.st, true
	}
	return Clock{Stream: stream, HasTime: hasTime, Wall: wall}
}

// used records that the partition validated or expired with clk.
func (p *Partition) used(clk *Clock) {
	if clk.HasTime && clk.Stream > p.st {
		p.st = clk.Stream
	}
}

// Admit decides the outcome of a decoded, content-valid event and applies it when it is
// applied. It advances clk.Stream for the next record of the batch.
func (p *Partition) Admit(e *event.Event, clk *Clock) (Outcome, event.Reason) {
	defer p.used(clk)
	if r := e.CheckTime(clk.Stream, clk.HasTime, clk.Wall); r != event.OK {
		return Rejected, r
	}
	ids := p.ids[e.Topic]
	wm := p.wm[e.Topic]
	// The remembered anchor is checked, not just presence, so the answer does not depend
	// on when expiry last ran.
	if anchor, seen := ids[p.idKey(e.ID)]; seen && anchor >= wm-dupMemory {
		return Duplicate, event.OK
	}
	p.remember(e.Topic, e.ID, max(e.TS, wm))
	if e.Spam {
		return Excluded, event.OK
	}
	p.apply(e)
	if e.TS > wm {
		p.wm[e.Topic] = e.TS
	}
	if !clk.HasTime || e.TS > clk.Stream {
		clk.Stream, clk.HasTime = e.TS, true
	}
	return Applied, event.OK
}

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

// Waiting is one open episode, for the waiting API.
type Waiting struct {
	Shop, Buyer string
	Start       int64  // Unix ns of its first unanswered buyer message
	LastAgent   string // who last replied to this buyer, "" when none is remembered
}

// Waiting calls fn for each open episode of shop ("" for all) that has waited at least
// minWait at as-of time a, among those counted by cskpi_waiting_conversations.
func (p *Partition) Waiting(a int64, shop string, minWait int64, fn func(Waiting)) {
	for c := range p.open {
		if c.start > a || a-c.start > horizon48 || a-c.start < minWait {
			continue
		}
		s, b, _ := strings.Cut(c.key, "/")
		if shop != "" && s != shop {
			continue
		}
		fn(Waiting{Shop: s, Buyer: b, Start: c.start, LastAgent: c.lastAgent})
	}
}

// KnowsShop says whether the partition holds anything of shop.
func (p *Partition) KnowsShop(shop string) bool {
	_, ok := p.owners.shops[shop]
	return ok
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

// Expire drops what can no longer change a result. a is the as-of time; clk carries the
// stream time (see Clock), and neither goes back. See docs/SEMANTICS.md, "State
// retention": the only bounds on what may still arrive are the too-old horizon of CONTRACT §1
// and the order of each conversation's messages, so state is kept until one of them
// rules out every record that could change it, however late the other topic runs.
func (p *Partition) Expire(a int64, clk Clock) {
	p.used(&clk)
	// The running totals must have let go of the buckets about to be deleted.
	p.advance(a)
	sp := SpansAt(a)
	if sp.H24.From > p.minMinute || sp.D28.From > p.minHour {
		p.minMinute, p.minHour = max(p.minMinute, sp.H24.From), max(p.minHour, sp.D28.From)
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
		// A reply after end neither yields a sample nor answers any message within 24 h,
		// and a buyer message after it abandons the episode: as if it were gone.
		if end := max(c.start+horizon48, c.msgs[len(c.msgs)-1]+day); nextMsg > end {
			c.open, c.msgs = false, nil
			delete(p.open, c)
			changed = true
		}
	}
	if keep(&c.cohorts, func(co cohort) bool {
		// A payment in [t0, t0+48h] can still come; a reply only while it can be in time.
		// (The cohort's local date ended before t0+48h, so no later message needs it.)
		return tooOld <= co.t0+horizon48 && (co.replied || nextMsg <= co.t0+horizon48)
	}) {
		changed = true
	}
	// A remembered payment waits for cohorts with t0 <= paid.ts, opened by later buyer messages.
	if keep(&c.paids, func(pd paid) bool { return nextMsg <= pd.ts }) {
		changed = true
	}
	// A marker stops a second count of its (agent, buyer, local date); every later reply
	// falls after that date once it is 26 h past the first (a local day lasts at most 25 h).
	if keep(&c.served, func(sv served) bool { return nextMsg <= sv.ts+26*hourNs }) {
		changed = true
	}
	return changed
}

// ExpireIDs forgets the event ids that can no longer make a record a duplicate. It is
// cheap (a look at each retained minute of ids), so it runs with every batch: at a high
// record rate ids are most of the state.
func (p *Partition) ExpireIDs() {
	for t := range p.ids {
		cut := p.wm[t] - dupMemory
		if cut <= p.idsCutoff[t] {
			continue
		}
		p.idsCutoff[t] = cut
		// A minute's ids all go once the whole minute is older than the cut. An id
		// remembered again later keeps its entry unless that, too, is older than the cut,
		// when it could no longer make a record a duplicate anyway (stream time only grows).
		for m, im := range p.idMinutes[t] {
			if (m+1)*minuteNs > cut {
				continue
			}
			for _, k := range im.keys {
				if anchor, ok := p.ids[t][k]; ok && anchor < cut {
					delete(p.ids[t], k)
				}
			}
			delete(p.idMinutes[t], m)
			delete(p.dirtyI[t], m)
			p.deletedI = append(p.deletedI, im.fields...)
		}
	}
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
