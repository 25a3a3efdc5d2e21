package reference

import (
	"fmt"
	"io"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/shops"
)

// Options are the knobs of `cskpi recompute`; zero values take the service defaults.
type Options struct {
	Location   *time.Location  // --timezone; nil means Asia/Shanghai
	Thresholds []time.Duration // response thresholds; nil means 15s and 3m
	// Shops is the shop directory (nil: none): each shop's zone and business hours.
	Shops *shops.Directory
	// WaitThresholds are the waiting ages of cskpi_waiting_conversations_over; nil means
	// 15s, 3m and 1h.
	WaitThresholds []time.Duration
	Now            time.Time // wall clock used for the "future" check; zero means time.Now()
	At             time.Time // as-of time A; zero means the final stream time
	// Format names the topics that kcat envelopes in the file carry; zero: the defaults.
	Format jsonl.Format
}

// Result is everything the service would export after consuming the same records.
type Result struct {
	Series     []kpi.Series        // sorted with kpi.Sort
	Events     map[[2]string]int64 // (topic role, outcome) -> count; absent means 0
	Rejected   map[[2]string]int64 // (topic role, reason) -> count; absent means 0
	StreamTime int64               // Unix ns, largest applied ts (0 if none)
	At         int64               // the as-of time used, Unix ns
}

const (
	defaultZone = "Asia/Shanghai"

	msNs = int64(time.Millisecond)

	// dupMemory: an accepted id stays remembered until stream time passes max(ts, S₀) by
	// this, S₀ being the stream time when it was accepted (CONTRACT §1).
	dupMemory = int64(time.Hour)
	// abandonAfter: an episode older than this neither gets a sample nor keeps waiting.
	abandonAfter = int64(48 * time.Hour)
	// replied24h and replied48h are the horizons of a buyer message's reply: 24H回复 and
	// 回复消息数.
	replied24h = int64(24 * time.Hour)
	replied48h = int64(48 * time.Hour)
	// activeFor: a reply makes its buyer active for its agent this long (同时接待).
	activeFor = int64(15 * time.Minute)
	// cohortHorizon bounds both the reply and the payments of an inquiry cohort after t0.
	cohortHorizon = int64(48 * time.Hour)
	// paidWithin: an order created is paid (催付) when paid at most this long after.
	paidWithin = int64(24 * time.Hour)
)

// Compute reads an event file (the jsonl format) and computes the metrics.
func Compute(r io.Reader, opt Options) (Result, error) {
	c, err := newConsumer(opt)
	if err != nil {
		return Result{}, err
	}
	if err := opt.Format.Read(r, func(rec jsonl.Record) error { c.consume(rec); return nil }); err != nil {
		return Result{}, err
	}
	return c.result(opt), nil
}

// ComputeRecords is Compute over records already parsed, in consumption order.
func ComputeRecords(recs []jsonl.Record, opt Options) (Result, error) {
	c, err := newConsumer(opt)
	if err != nil {
		return Result{}, err
	}
	for _, rec := range recs {
		c.consume(rec)
	}
	return c.result(opt), nil
}

// The outcomes of CONTRACT §1, as cskpi_events_total{outcome} names them.
const (
	Applied   = "applied"
	Duplicate = "duplicate"
	Excluded  = "excluded"
	Rejected  = "rejected"
)

// Judge gives records their outcomes one by one, in consumption order, exactly as Compute
// does, and keeps nothing else: `cskpi check` reports them without computing the metrics.
type Judge struct{ c *consumer }

// NewJudge makes a Judge; of opt, only Now matters (the future check).
func NewJudge(opt Options) (*Judge, error) {
	c, err := newConsumer(opt)
	if err != nil {
		return nil, err
	}
	c.discard = true
	return &Judge{c}, nil
}

// Judge gives rec its outcome (Applied, Duplicate, Excluded or Rejected) and, when rejected,
// the reason; ev is the decoded event unless rejected.
func (j *Judge) Judge(rec jsonl.Record) (outcome string, reason event.Reason, ev event.Event) {
	return j.c.consume(rec)
}

// idKey identifies an event for duplicate detection: ids are unique per topic only.
type idKey struct {
	topic event.Topic
	id    string
}

// consumer gives each record its outcome and keeps the applied events, nothing else.
type consumer struct {
	loc        *time.Location
	thresholds []time.Duration
	waits      []time.Duration
	now        int64

	stream     int64
	haveStream bool
	seen       map[idKey]int64 // accepted id -> max(ts, stream time when accepted)
	applied    []event.Event   // in consumption order
	discard    bool            // keep no applied event: a Judge's

	events   map[[2]string]int64
	rejected map[[2]string]int64
}

func newConsumer(opt Options) (*consumer, error) {
	loc := opt.Location
	if loc == nil {
		l, err := time.LoadLocation(defaultZone)
		if err != nil {
			return nil, fmt.Errorf("reference: timezone %s: %w", defaultZone, err)
		}
		loc = l
	}
	thresholds := opt.Thresholds
	if thresholds == nil {
		thresholds = []time.Duration{15 * time.Second, 3 * time.Minute}
	}
	waits := opt.WaitThresholds
	if waits == nil {
		waits = []time.Duration{15 * time.Second, 3 * time.Minute, time.Hour}
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	return &consumer{
		loc:        loc,
		thresholds: thresholds,
		waits:      waits,
		now:        now.UnixNano(),
		seen:       map[idKey]int64{},
		events:     map[[2]string]int64{},
		rejected:   map[[2]string]int64{},
	}, nil
}

func (c *consumer) consume(rec jsonl.Record) (outcome string, reason event.Reason, ev event.Event) {
	role := rec.Topic.String()
	ev, reason = event.Decode(rec.Topic, rec.Value)
	if reason == event.OK {
		reason = ev.CheckTime(c.stream, c.haveStream, c.now)
	}
	if reason != event.OK {
		c.events[[2]string{role, Rejected}]++
		c.rejected[[2]string{role, string(reason)}]++
		return Rejected, reason, event.Event{}
	}
	k := idKey{rec.Topic, ev.ID}
	if anchor, ok := c.seen[k]; ok && !(c.haveStream && c.stream > anchor+dupMemory) {
		c.events[[2]string{role, Duplicate}]++
		return Duplicate, event.OK, ev
	}
	anchor := ev.TS
	if c.haveStream {
		anchor = max(anchor, c.stream)
	}
	c.seen[k] = anchor
	if ev.Spam {
		c.events[[2]string{role, Excluded}]++
		return Excluded, event.OK, ev
	}
	c.events[[2]string{role, Applied}]++
	if !c.haveStream || ev.TS > c.stream {
		c.stream = ev.TS
	}
	c.haveStream = true
	if !c.discard {
		c.applied = append(c.applied, ev)
	}
	return Applied, event.OK, ev
}

func (c *consumer) result(opt Options) Result {
	a := c.stream
	if !opt.At.IsZero() {
		a = opt.At.UnixNano()
	}
	res := Result{
		Events:   c.events,
		Rejected: c.rejected,
		At:       a,
	}
	if c.haveStream {
		res.StreamTime = c.stream
	}
	res.Series = computeAt(c.applied, a, c.loc, c.thresholds, c.waits, opt.Shops)
	kpi.Sort(res.Series)
	return res
}

// floorDiv rounds toward minus infinity, so buckets before 1970 are aligned like the rest.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// wholeMs is a duration in whole milliseconds as SEMANTICS defines samples: floor, never < 0.
func wholeMs(later, earlier int64) int64 {
	d := later - earlier
	if d < 0 {
		return 0
	}
	return floorDiv(d, msNs)
}

// inWindow says whether an item attributed at ts counts in the window named w at as-of
// time a: whether the bucket holding ts is the one holding a or one of the Buckets-1
// before it. A name kpi.Windows() lacks is a bug of the family table, and panics.
func inWindow(w string, ts, a int64) bool {
	i, ok := kpi.WindowIndex(w)
	if !ok {
		panic("reference: no window " + w)
	}
	win := kpi.Windows()[i]
	size := int64(win.Bucket)
	b, ba := floorDiv(ts, size), floorDiv(a, size)
	return ba-(win.Buckets-1) <= b && b <= ba
}

// localDate is the calendar date of ts in the shop timezone.
type localDate struct {
	y int
	m time.Month
	d int
}

func dateOf(ts int64, loc *time.Location) localDate {
	y, m, d := time.Unix(0, ts).In(loc).Date()
	return localDate{y, m, d}
}
