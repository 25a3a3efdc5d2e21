package windows

import (
	"hash/maphash"
	"strings"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/shops"
)

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
func (c Config) WaitingThresholds() []int64 {
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
	arena     []byte      // the changed buckets' encodings of the change set being committed
	lastMade  [2]blockKey // the bucket made last, per resolution: the next one's size
	dirtyC    []*conv     // each once (conv.dirty); a conversation deleted since has gone set
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

// Watermark is the partition's stream time for a topic role.
func (p *Partition) Watermark(t event.Topic) int64 { return p.wm[t] }

// newest is the largest ts applied to the partition, on either topic.
func (p *Partition) newest() int64 { return max(p.wm[event.Messages], p.wm[event.Orders]) }

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

// Waiting is one open episode, for the waiting API.
type Waiting struct {
	Shop, Buyer string
	Start       int64  // Unix ns of its first unanswered buyer message
	LastAgent   string // who last replied to this buyer, "" when none is remembered
	Scene       event.Scene
}

// Waiting calls fn for each open episode of shop ("" for all) that has waited at least
// minWait at as-of time a, among those counted by cskpi_waiting_conversations.
func (p *Partition) Waiting(a int64, shop string, minWait int64, fn func(Waiting)) {
	for c := range p.open {
		if !waitsAt(c, a) || a-c.start < minWait {
			continue
		}
		s, b, _ := strings.Cut(c.key, "/")
		if shop != "" && s != shop {
			continue
		}
		fn(Waiting{Shop: s, Buyer: b, Start: c.start, LastAgent: c.lastAgent, Scene: c.scene})
	}
}

// KnowsShop says whether the partition holds anything of shop.
func (p *Partition) KnowsShop(shop string) bool {
	_, ok := p.owners.shops[shop]
	return ok
}
