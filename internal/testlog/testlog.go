package testlog

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/traffic/synth"
)

// Config shapes a differential-test log.
type Config struct {
	Seed int64
	// Records is the number of lines wanted. The fixed scenarios (boundary cases and broken
	// records, about 340 lines) are always written, so a smaller value gives just those.
	Records int
	// Start is the earliest valid ts. It must be at least 12 days before Now: every valid ts
	// lies in [Start, Start+9.5d], and only then is none of them in the future (nor "future"
	// depending on when the log is consumed), while the future records stay future for two days.
	Start time.Time
	Shops int // 2..4 (others are clamped); default 3
	// Now is the wall clock the future records are placed after (ts = Now + 48 h); zero means
	// time.Now(). Tests that compare two logs byte for byte set it.
	Now time.Time
	// Span is how far valid ts reach after Start; zero means 9.5 days. Start must then be
	// at least Span + 2.5 days before Now. A span beyond 30 days makes a consumer drop
	// state by the too-old horizon while the log is still being read.
	Span time.Duration
	// Disorder files the log out of ts order as far as CONTRACT §1 allows: half the orders of
	// the random chats up to two days after their ts, half the random chats'
	// conversations up to a day late as a whole (each keeping its own order, so
	// conversations interleave out of ts order), and adjacent re-published copies of
	// late events, as a retrying producer makes them.
	Disorder bool
}

const (
	day            = 24 * time.Hour
	tlSpan         = 9*day + 12*time.Hour // default: valid ts lie in [Start, Start+tlSpan]
	tlLead         = 2*day + 12*time.Hour // Start must be Span + tlLead before Now
	tlSessionsEnd  = 2*day + 12*time.Hour // random chats start in [Start, Start+Span-tlSessionsEnd]
	tlMaxOrderLate = 2 * day              // Disorder: an order is filed at most this after its ts
	tlMaxConvLate  = day                  // Disorder: a conversation is filed at most this late
	tlMaxDupLag    = 25 * time.Minute     // a copy follows its original's ts by at most this
	tlMaxEarly     = 15 * time.Minute     // an order_paid filed before its chat leads it by at most this
	tlDupShare     = 40                   // one random duplicate per this many records
	tlBuyers       = "b1 b2 买家小王 ae-US1000001"
)

// entry is one line of the test log with what placement needs to know about it.
type entry struct {
	pos     int64 // where it goes in the file: lines are sorted by pos, ties in creation order
	line    []byte
	o       synth.Record // nil for lines built raw
	ts      int64
	topic   event.Topic
	key     string
	applied bool // a valid original that will be applied: it sets the stream time
	spam    bool
}

type tlShop struct {
	id     string
	agents []string
}

type testLog struct {
	rng      *rand.Rand
	start    int64
	now      int64
	limit    int64
	zones    []*time.Location
	idPrefix string
	ids      int
	orders   int
	shops    []tlShop
	buyers   []string
	entries  []*entry
	span     int64
	disorder bool
	// convLate is, under Disorder, how late each random chat's conversation is filed.
	convLate map[string]int64
}

// Lines returns a seeded log that stresses correctness rather than looking like traffic:
// two to four shops and a handful of buyers, so conversations interleave; every rejection
// reason in several variants, the scene's among them; duplicates, spam, and the boundary
// cases of CONTRACT §2 (local midnight, the 24 h reply and 48 h cohort horizons, abandoned
// episodes, payments filed before the chat that led to them, refunds); after-sale chats, some
// after an order of their buyer, with every valid spelling of the scene on buyer messages
// and junk ones elsewhere; and the cases of cskpi_orders_created_paid_24h: a payment at
// created.ts + 24 h and 1 ns later, at created.ts and 1 ns before, twice (two event_ids),
// never, and read before its order_created (by days under Disorder).
//
// The log is built so that every consumption interleaving a Kafka consumer may see gives the
// same result: within a conversation, valid messages appear in ts order; a duplicate is an
// exact copy of an earlier line placed where the file's ts is at most 25 minutes past the
// original's; the few order_paid records filed ahead of their chat lead the file's ts by at
// most 20 minutes (so no copy outlives the one-hour duplicate memory under any stream time);
// a too_old record (ts 40 days before Start) follows a valid record of its own conversation and
// topic, which is therefore applied first under any interleaving; valid ts span under 10 days
// unless Span says otherwise. Under Disorder, lines are placed late (orders up to two days,
// whole conversations up to a day, each still in its own order) and a late record's copies
// come right after it, so that they are duplicates under any interleaving of the partitions
// and whichever stream time decides (the file's or the topic-partition's).
// Lines panics when Start is less than 12 days before Now: the log would not mean the same
// thing when consumed.
func Lines(cfg Config) [][]byte {
	now := cfg.Now
	if now.IsZero() {
		now = time.Now()
	}
	span := cfg.Span
	if span <= 0 {
		span = tlSpan
	}
	if now.Sub(cfg.Start) < span+tlLead {
		panic(fmt.Sprintf("testlog: Start %s is less than %v before %s", cfg.Start.Format(time.RFC3339), span+tlLead, now.Format(time.RFC3339)))
	}
	nShops := cfg.Shops
	switch {
	case nShops == 0:
		nShops = 3
	case nShops < 2:
		nShops = 2
	case nShops > 4:
		nShops = 4
	}
	mix := synth.Mix(uint64(cfg.Seed) ^ 0x7465_7374_6c6f_6721)
	t := &testLog{
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), mix)),
		start: cfg.Start.UnixNano(),
		now:   now.UnixNano(),
		zones: []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("EST", -5*3600)},
		// Distinct from the generator's ids, so a test may mix both.
		idPrefix: "t" + strconv.FormatUint(mix>>40, 16) + "-",
		span:     int64(span),
		disorder: cfg.Disorder,
		convLate: map[string]int64{},
	}
	t.limit = t.start + t.span
	for i := 0; i < nShops; i++ {
		s := tlShop{id: fmt.Sprintf("shop-%03d", i+1)}
		for a := 0; a < 3; a++ {
			if i%2 == 0 {
				s.agents = append(s.agents, "agent-0"+strconv.Itoa(a+1))
			} else {
				s.agents = append(s.agents, s.id+":"+[...]string{"alice", "bob", "xiaomei"}[a])
			}
		}
		t.shops = append(t.shops, s)
	}
	t.buyers = strings.Fields(tlBuyers)

	t.scenarios()
	anchors := t.applied()
	t.broken(anchors)
	t.fixedDups()

	dups := cfg.Records / tlDupShare
	want := cfg.Records - len(t.entries) - dups
	if want > 0 {
		n := len(t.entries)
		for len(t.entries)-n < want {
			t.session(t.start + t.rng.Int64N(t.span-int64(tlSessionsEnd)))
		}
		// Dropping the last chat's tail keeps the count exact and breaks no constraint: nothing
		// placed so far refers to it.
		t.entries = t.entries[:n+want]
	} else {
		dups = max(0, cfg.Records-len(t.entries))
	}
	var pool []*entry
	for _, e := range t.entries {
		if e.applied || e.spam {
			pool = append(pool, e)
		}
	}
	for i := 0; i < dups; i++ {
		e := pool[t.rng.IntN(len(pool))]
		lag := t.rng.Int64N(int64(tlMaxDupLag))
		if e.pos > e.ts {
			// A late record's copy comes right after it: the stream time of its topic-partition
			// may be far ahead of its ts, and only an adjacent copy is a duplicate under
			// every interleaving of the partitions.
			lag = 0
		}
		t.dup(e, lag)
	}

	slices.SortStableFunc(t.entries, func(a, b *entry) int {
		switch {
		case a.pos < b.pos:
			return -1
		case a.pos > b.pos:
			return 1
		}
		return 0
	})
	lines := make([][]byte, len(t.entries))
	for i, e := range t.entries {
		lines[i] = e.line
	}
	return lines
}

// applied lists the entries that will certainly be applied, in creation order.
func (t *testLog) applied() []*entry {
	var out []*entry
	for _, e := range t.entries {
		if e.applied {
			out = append(out, e)
		}
	}
	return out
}

func (t *testLog) id() string {
	t.ids++
	return t.idPrefix + strconv.Itoa(t.ids)
}

func (t *testLog) orderID() string {
	t.orders++
	return "o" + strconv.Itoa(100000+t.orders)
}

// ts spells a time in one of the zones and forms a producer may use, nanoseconds kept.
func (t *testLog) ts(ns int64) string {
	tm := time.Unix(0, ns)
	switch t.rng.IntN(10) {
	case 0:
		return tm.UTC().Format("2006-01-02T15:04:05.999999999") + "+00:00"
	case 1:
		return tm.In(t.zones[2]).Format(time.RFC3339Nano)
	case 2, 3, 4:
		return tm.In(t.zones[1]).Format(time.RFC3339Nano)
	default:
		return tm.UTC().Format(time.RFC3339Nano)
	}
}

func (t *testLog) msg(shop, buyer, sender, agent string, ts int64) synth.Record {
	o := synth.NewRecord("topic", "messages", "event_id", t.id(), "shop_id", shop, "buyer_id", buyer, "sender", sender)
	if agent != "" {
		o = o.Set("agent_id", agent)
	}
	return o.Set("ts", t.ts(ts))
}

func (t *testLog) order(shop, buyer, typ, orderID string, ts int64) synth.Record {
	return synth.NewRecord("topic", "orders", "event_id", t.id(), "shop_id", shop, "buyer_id", buyer,
		"type", typ, "order_id", orderID, "ts", t.ts(ts))
}

// amount draws a valid amount in the spellings the contract allows.
func (t *testLog) amount() string {
	yuan := 1 + t.rng.IntN(1500)
	switch t.rng.IntN(12) {
	case 0:
		return strconv.Itoa(yuan)
	case 1:
		return strconv.Itoa(yuan) + "." + strconv.Itoa(t.rng.IntN(10))
	case 2:
		return "0.01"
	case 3:
		return "999999999999.99"
	default:
		return event.FormatAmount(int64(yuan)*100 + int64(t.rng.IntN(100)))
	}
}

// add files a valid record at its own ts.
func (t *testLog) add(o synth.Record, ts int64) *entry { return t.addAt(o, ts, ts) }

// addAt files a valid record at pos, which differs from ts only for orders filed early.
func (t *testLog) addAt(o synth.Record, ts, pos int64) *entry {
	v, _ := o.Get("spam")
	spam := v == "true"
	e := &entry{pos: pos, line: o.Bytes(), o: o, ts: ts, topic: o.TopicOf(), key: o.Key(), applied: !spam, spam: spam}
	t.entries = append(t.entries, e)
	return e
}

// addLate files a valid record late after its ts and, under Disorder, sometimes a copy of
// a late record right after it, as a retrying producer re-publishes it.
func (t *testLog) addLate(o synth.Record, ts, late int64) *entry {
	e := t.addAt(o, ts, ts+late)
	if late > 0 && t.rng.IntN(8) == 0 {
		t.dup(e, 0)
	}
	return e
}

// lateness is how late conversation key is filed: under Disorder, half the conversations
// are filed up to a day late as a whole, which keeps each one's messages in order.
func (t *testLog) lateness(key string) int64 {
	if !t.disorder {
		return 0
	}
	late, ok := t.convLate[key]
	if !ok {
		if t.rng.IntN(2) == 0 {
			late = 1 + t.rng.Int64N(int64(tlMaxConvLate))
		}
		t.convLate[key] = late
	}
	return late
}

// orderLateness is how late an order is filed: under Disorder, half are up to two days late.
func (t *testLog) orderLateness() int64 {
	if !t.disorder || t.rng.IntN(2) == 0 {
		return 0
	}
	return 1 + t.rng.Int64N(int64(tlMaxOrderLate))
}

// addLine files a line that will not be applied (broken, too old, future).
func (t *testLog) addLine(line []byte, topic event.Topic, key string, pos int64) {
	t.entries = append(t.entries, &entry{pos: pos, line: line, topic: topic, key: key})
}

// dup files an exact copy of e, lag after e's ts (after its place, for a broken record).
func (t *testLog) dup(e *entry, lag int64) {
	t.entries = append(t.entries, &entry{pos: max(e.ts, e.pos) + lag + 1, line: e.line, topic: e.topic, key: e.key})
}

// midnight is the first local midnight in Asia/Shanghai (16:00:00Z) at least a day after Start.
func (t *testLog) midnight() int64 {
	m := time.Unix(0, t.start+int64(day)).UTC()
	mid := time.Date(m.Year(), m.Month(), m.Day(), 16, 0, 0, 0, time.UTC)
	if mid.UnixNano() < t.start+int64(day) {
		mid = mid.Add(day)
	}
	return mid.UnixNano()
}

// scenarios files the boundary cases, each on a conversation of its own so that no random
// chat blurs what it tests.
func (t *testLog) scenarios() {
	const ns = 1
	s0, s1 := t.shops[0], t.shops[1]
	a0, a1 := s0.agents[0], s1.agents[0]
	minute, sec, hour := int64(time.Minute), int64(time.Second), int64(time.Hour)
	h24, h48 := int64(24*time.Hour), int64(48*time.Hour)

	// Local midnight, and 1 ns either side: cohorts and buyers-served change date there.
	m := t.midnight()
	b := "edge-midnight"
	t.add(t.msg(s0.id, b, "buyer", "", m-ns), m-ns)
	t.add(t.order(s0.id, b, "order_paid", t.orderID(), m-ns).Set("amount", "89.00"), m-ns)
	t.add(t.msg(s0.id, b, "auto", "alime", m), m)
	t.add(t.msg(s0.id, b, "agent", a0, m), m)
	t.add(t.msg(s0.id, b, "buyer", "", m+ns), m+ns)
	t.add(t.msg(s0.id, b, "agent", a0, m+ns), m+ns)
	b = "edge-midnight-2"
	t.add(t.order(s0.id, b, "order_paid", t.orderID(), m).Set("amount", "249.50"), m)
	t.add(t.msg(s0.id, b, "buyer", "", m), m)
	t.add(t.msg(s0.id, b, "agent", s0.agents[1], m+ns), m+ns)
	t.add(t.order(s0.id, b, "order_created", t.orderID(), m+ns).Set("amount", "12.5"), m+ns)
	b = "edge-served"
	t.add(t.msg(s1.id, b, "buyer", "", m-10*sec), m-10*sec)
	for _, at := range []int64{m - ns, m, m + ns} {
		t.add(t.msg(s1.id, b, "agent", s1.agents[1], at), at)
	}
	b = "edge-midnight-orders"
	for _, at := range []int64{m - ns, m, m + ns} {
		t.add(t.order(s1.id, b, "order_created", t.orderID(), at).Set("amount", t.amount()), at)
	}
	t.add(t.order(s1.id, b, "refund_completed", t.orderID(), m).Set("refund_id", "r-midnight").
		Set("refund_requested_at", t.ts(m-ns)).Set("completed_by", "merchant"), m)
	t.add(t.order(s1.id, b, "refund_disputed", t.orderID(), m+ns).Set("refund_id", "r-midnight-2"), m+ns)

	// Replies exactly 24 h and 24 h + 1 ns after the buyer's message.
	at := m + 3*hour + 17*sec + 123456789
	for i, lag := range []int64{h24, h24 + ns} {
		b = "edge-24h-" + strconv.Itoa(i)
		t.add(t.msg(s1.id, b, "buyer", "", at), at)
		t.add(t.msg(s1.id, b, "agent", a1, at+lag), at+lag)
	}
	b = "edge-24h-2" // a two-message episode: only the later message is replied within 24 h
	t.add(t.msg(s1.id, b, "buyer", "", at), at)
	t.add(t.msg(s1.id, b, "buyer", "", at+hour), at+hour)
	t.add(t.msg(s1.id, b, "agent", a1, at+h24+ns), at+h24+ns)

	// Payments exactly t0 + 48 h and 1 ns later; exactly at t0 and 1 ns before.
	t0 := t.start + 2*h24 + 5*hour + 30*minute + 999999999
	for i, lag := range []int64{h48, h48 + ns} {
		b = "edge-48h-" + strconv.Itoa(i)
		id := t.orderID()
		t.add(t.msg(s0.id, b, "buyer", "", t0), t0)
		t.add(t.msg(s0.id, b, "agent", a0, t0+2*minute), t0+2*minute)
		t.add(t.order(s0.id, b, "order_created", id, t0+10*minute).Set("amount", "1999.00"), t0+10*minute)
		t.add(t.order(s0.id, b, "order_paid", id, t0+lag).Set("amount", "1999.00"), t0+lag)
	}
	for i, lag := range []int64{0, -ns} {
		b = "edge-paid-t0-" + strconv.Itoa(i)
		t.add(t.order(s0.id, b, "order_paid", t.orderID(), t0+lag).Set("amount", "59.90"), t0+lag)
		t.add(t.msg(s0.id, b, "buyer", "", t0), t0)
		t.add(t.msg(s0.id, b, "agent", a0, t0+30*sec), t0+30*sec)
	}

	// Replies 48 h after the episode start (a sample) and later (abandoned, no sample); buyer
	// messages exactly 48 h into an open episode (joins it) and later (abandons, opens anew).
	at = t.start + 3*h24 + 2*hour + 7*sec
	for i, lag := range []int64{h48, h48 + ns, h48 + 2*hour} {
		b = "edge-abandon-" + strconv.Itoa(i)
		t.add(t.msg(s1.id, b, "buyer", "", at), at)
		t.add(t.msg(s1.id, b, "agent", a1, at+lag), at+lag)
	}
	for i, lag := range []int64{h48, h48 + ns, h48 + hour} {
		b = "edge-reopen-" + strconv.Itoa(i)
		t.add(t.msg(s1.id, b, "buyer", "", at), at)
		t.add(t.msg(s1.id, b, "buyer", "", at+lag), at+lag)
		t.add(t.msg(s1.id, b, "agent", a1, at+lag+minute), at+lag+minute)
	}

	// Cross-topic disorder: the payment (and order) are filed before the chat leading to them.
	c0 := t.start + 4*h24 + hour + 1
	b = "edge-disorder-0"
	id := t.orderID()
	t.addAt(t.order(s0.id, b, "order_paid", id, c0+5*minute).Set("amount", "329.00"), c0+5*minute, c0-2*minute)
	t.addAt(t.order(s0.id, b, "order_created", id, c0+3*minute).Set("amount", "329.00"), c0+3*minute, c0-minute)
	t.add(t.msg(s0.id, b, "buyer", "", c0), c0)
	t.add(t.msg(s0.id, b, "agent", s0.agents[2], c0+20*sec), c0+20*sec)
	b = "edge-disorder-1"
	t.addAt(t.order(s1.id, b, "order_paid", t.orderID(), c0+10*minute+7).Set("amount", "88.88"), c0+10*minute+7, c0-sec)
	t.add(t.msg(s1.id, b, "buyer", "", c0+10*sec), c0+10*sec)
	t.add(t.msg(s1.id, b, "agent", a1, c0+40*sec), c0+40*sec)

	// Refunds: zero duration, platform-closed, disputed, requested days before.
	r0 := t.start + 5*h24 + 40*minute
	b = "edge-refund"
	id = t.orderID()
	t.add(t.order(s1.id, b, "order_created", id, r0-3*h24).Set("amount", "500.00"), r0-3*h24)
	t.add(t.order(s1.id, b, "order_paid", id, r0-3*h24+minute).Set("amount", "500.00"), r0-3*h24+minute)
	t.add(t.order(s1.id, b, "refund_completed", id, r0).Set("refund_id", "r-zero").
		Set("refund_requested_at", t.ts(r0)).Set("completed_by", "merchant"), r0)
	t.add(t.order(s1.id, b, "refund_disputed", id, r0+hour).Set("refund_id", "r-disputed"), r0+hour)
	t.add(t.order(s1.id, b, "refund_completed", id, r0+2*hour+ns).Set("refund_id", "r-disputed").
		Set("refund_requested_at", t.ts(r0-2*h24-1)).Set("completed_by", "platform"), r0+2*hour+ns)

	// Spam inside an open episode touches nothing; auto replies answer nothing; a buyer message
	// may carry an agent_id, which is ignored.
	sp := t.start + 5*h24 + 3*hour
	b = "edge-spam"
	t.add(t.msg(s0.id, b, "buyer", "", sp), sp)
	t.add(t.msg(s0.id, b, "buyer", "", sp+sec).SetLit("spam", "true"), sp+sec)
	t.add(t.msg(s0.id, b, "agent", a0, sp+2*sec).SetLit("spam", "true"), sp+2*sec)
	t.add(t.msg(s0.id, b, "auto", "alime", sp+3*sec), sp+3*sec)
	t.add(t.msg(s0.id, b, "buyer", "", sp+4*sec).SetLit("spam", "false"), sp+4*sec)
	t.add(t.msg(s0.id, b, "agent", a0, sp+minute), sp+minute)
	t.add(t.order(s0.id, b, "order_paid", t.orderID(), sp+2*minute).Set("amount", "10.00").SetLit("spam", "true"), sp+2*minute)
	t.add(t.msg(s0.id, b, "buyer", a0, sp+3*minute), sp+3*minute)
	t.add(t.msg(s0.id, b, "agent", s0.agents[1], sp+3*minute+1500*int64(time.Microsecond)), sp+3*minute+1500*int64(time.Microsecond))

	// Minute and hour bucket edges (aligned to the Unix epoch).
	e0 := (t.start+6*h24)/hour*hour + hour
	b = "edge-bucket"
	t.add(t.msg(s1.id, b, "buyer", "", e0-ns), e0-ns)
	t.add(t.msg(s1.id, b, "agent", a1, e0), e0)
	t.add(t.msg(s1.id, b, "buyer", "", e0+minute-ns), e0+minute-ns)
	t.add(t.msg(s1.id, b, "agent", a1, e0+minute+14*sec+999999999), e0+minute+14*sec+999999999)
	t.add(t.msg(s1.id, b, "buyer", "", e0+2*minute), e0+2*minute)
	t.add(t.msg(s1.id, b, "agent", a1, e0+2*minute+15*sec+ns), e0+2*minute+15*sec+ns)

	t.sceneScenarios()
	t.paidScenarios()
}

// sceneScenarios files the cases of the scene (CONTRACT §1), each on a conversation of its
// own: read on buyer messages only, absent, "presale" or null for pre-sale; an episode, its
// samples and its waiting take the scene of the message that opened it; only pre-sale
// messages open inquiry cohorts.
func (t *testLog) sceneScenarios() {
	const ns = 1
	s0, s1 := t.shops[0], t.shops[1]
	a0, a1 := s0.agents[0], s1.agents[0]
	sec, minute, hour := int64(time.Second), int64(time.Minute), int64(time.Hour)
	h24, h48 := int64(24*time.Hour), int64(48*time.Hour)
	after := func(o synth.Record) synth.Record { return o.SetScene(event.Aftersale, false) }
	pre := func(o synth.Record) synth.Record { return o.SetScene(event.Presale, true) }
	null := func(o synth.Record) synth.Record { return o.SetLit("scene", "null") }

	// An after-sale episode goes on with messages marked pre-sale (explicitly, null, absent)
	// and stays after-sale; the next pre-sale message opens a pre-sale episode, and an
	// after-sale one an after-sale episode again.
	x := t.start + 6*h24 + 5*hour + 13*sec + 250*int64(time.Millisecond)
	b := "edge-scene-mixed"
	t.add(after(t.msg(s0.id, b, "buyer", "", x)), x)
	t.add(pre(t.msg(s0.id, b, "buyer", "", x+10*sec)), x+10*sec)
	t.add(null(t.msg(s0.id, b, "buyer", "", x+20*sec)), x+20*sec)
	t.add(t.msg(s0.id, b, "buyer", "", x+30*sec), x+30*sec)
	t.add(t.msg(s0.id, b, "agent", a0, x+minute), x+minute)
	t.add(t.msg(s0.id, b, "buyer", "", x+10*minute), x+10*minute)
	t.add(t.msg(s0.id, b, "agent", a0, x+10*minute+5*sec), x+10*minute+5*sec)
	t.add(after(t.msg(s0.id, b, "buyer", "", x+20*minute)), x+20*minute)
	t.add(t.msg(s0.id, b, "agent", s0.agents[1], x+23*minute), x+23*minute)

	// A scene on a message that is not a buyer's is ignored, whatever it says; null is
	// pre-sale.
	b = "edge-scene-ignored"
	t.add(null(t.msg(s1.id, b, "buyer", "", x)), x)
	t.add(t.msg(s1.id, b, "auto", "alime", x+sec).SetLit("scene", "7"), x+sec)
	t.add(t.msg(s1.id, b, "agent", a1, x+2*sec).Set("scene", "refund"), x+2*sec)
	t.add(after(t.msg(s1.id, b, "buyer", "", x+minute)), x+minute)
	t.add(t.msg(s1.id, b, "agent", a1, x+minute+4*sec).Set("scene", "presale"), x+minute+4*sec)
	t.add(t.msg(s1.id, b, "buyer", "", x+2*minute), x+2*minute)
	t.add(after(t.msg(s1.id, b, "agent", a1, x+2*minute+9*sec)), x+2*minute+9*sec)

	// Inquiry cohorts: a buyer-day whose first message is after-sale has its t0 at its first
	// pre-sale message (across local midnight from the after-sale one); a buyer-day of
	// after-sale messages only, replied and paid, has none.
	m := t.midnight() + h24
	b = "edge-scene-cohort"
	t.add(after(t.msg(s0.id, b, "buyer", "", m-ns)), m-ns)
	t.add(t.msg(s0.id, b, "agent", a0, m), m)
	t.add(after(t.msg(s0.id, b, "buyer", "", m+hour)), m+hour)
	t.add(t.msg(s0.id, b, "agent", a0, m+hour+30*sec), m+hour+30*sec)
	t.add(t.msg(s0.id, b, "buyer", "", m+3*hour), m+3*hour)
	t.add(t.msg(s0.id, b, "agent", s0.agents[1], m+3*hour+20*sec), m+3*hour+20*sec)
	t.add(t.order(s0.id, b, "order_paid", t.orderID(), m+3*hour+10*minute).Set("amount", "66.00"), m+3*hour+10*minute)
	b = "edge-scene-cohort-none"
	t.add(after(t.msg(s0.id, b, "buyer", "", m+2*hour)), m+2*hour)
	t.add(t.msg(s0.id, b, "agent", a0, m+2*hour+minute), m+2*hour+minute)
	t.add(t.order(s0.id, b, "order_paid", t.orderID(), m+2*hour+5*minute).Set("amount", "19.90"), m+2*hour+5*minute)

	// After-sale messages replied exactly 48 h and 48 h + 1 ns later; a two-message episode,
	// the second marked pre-sale, replied 48 h + 1 ns after it opened.
	at := t.start + 3*h24 + 7*hour + 11*sec
	for i, lag := range []int64{h48, h48 + ns} {
		b = "edge-48h-after-" + strconv.Itoa(i)
		t.add(after(t.msg(s1.id, b, "buyer", "", at)), at)
		t.add(t.msg(s1.id, b, "agent", a1, at+lag), at+lag)
	}
	b = "edge-48h-after-2"
	t.add(after(t.msg(s1.id, b, "buyer", "", at)), at)
	t.add(pre(t.msg(s1.id, b, "buyer", "", at+hour)), at+hour)
	t.add(t.msg(s1.id, b, "agent", a1, at+h48+ns), at+h48+ns)

	// Buyers left waiting near the end of the log, one of each scene.
	w := t.limit - 90*minute
	t.add(after(t.msg(s0.id, "edge-scene-waiting-0", "buyer", "", w)), w)
	t.add(pre(t.msg(s1.id, "edge-scene-waiting-1", "buyer", "", w+sec)), w+sec)
}

// paidScenarios files the cases of cskpi_orders_created_paid_24h, each on a conversation of
// its own: an order_paid at created.ts + 24 h and 1 ns later, at created.ts and 1 ns before,
// paid twice (two event_ids) inside, across and outside the 24 h, never paid; a payment filed
// before its order_created, minutes ahead, and under Disorder the order_created filed a day and
// a half late, its payment re-published the day after.
func (t *testLog) paidScenarios() {
	const ns = 1
	s1 := t.shops[1]
	minute, hour := int64(time.Minute), int64(time.Hour)
	h24 := int64(24 * time.Hour)
	c := t.start + 4*h24 + 6*hour + 17*int64(time.Second) + 345
	for i, tc := range []struct {
		name string
		paid []int64 // payments after creation, in ts order
	}{
		{"24h", []int64{h24}}, {"24h+1ns", []int64{h24 + ns}}, {"at-creation", []int64{0}}, {"before-creation", []int64{-ns}},
		{"twice", []int64{hour, 2 * hour}}, {"twice-across", []int64{5 * minute, 30 * hour}},
		{"twice-after", []int64{25 * hour, 26 * hour}}, {"never", nil},
	} {
		b := "edge-created-paid-" + tc.name
		id, amount := t.orderID(), t.amount()
		o := t.order(s1.id, b, "order_created", id, c).Set("amount", amount)
		if i == 0 {
			o = o.Set("scene", "aftersale") // not a message: ignored
		}
		t.add(o, c)
		for _, lag := range tc.paid {
			t.add(t.order(s1.id, b, "order_paid", id, c+lag).Set("amount", amount), c+lag)
		}
	}

	p := c + 5*hour
	b := "edge-paid-first"
	id, amount := t.orderID(), t.amount()
	t.addAt(t.order(s1.id, b, "order_paid", id, p+2*minute).Set("amount", amount), p+2*minute, p-3*minute)
	t.add(t.order(s1.id, b, "order_created", id, p).Set("amount", amount), p)
	if t.disorder {
		b = "edge-paid-first-days"
		id, amount = t.orderID(), t.amount()
		t.add(t.order(s1.id, b, "order_paid", id, p+10*minute).Set("amount", amount), p+10*minute)
		t.addLate(t.order(s1.id, b, "order_created", id, p).Set("amount", amount), p, 36*hour)
		t.add(t.order(s1.id, b, "order_paid", id, p+10*minute+h24).Set("amount", amount), p+10*minute+h24)
	}
}

// fixedDups copies a few scenario lines within minutes: a buyer message, a reply, a filed-early
// payment, a spam record.
func (t *testLog) fixedDups() {
	var picked []*entry
	for _, e := range t.entries {
		if e.o == nil {
			continue
		}
		b, _ := e.o.Get("buyer_id")
		switch b {
		case "edge-spam", "edge-disorder-0", "edge-24h-0":
			picked = append(picked, e)
		}
	}
	for i, e := range picked {
		t.dup(e, int64(i+1)*int64(time.Minute)%int64(tlMaxDupLag))
	}
	// A copy placed right after its original, and a copy of a broken record.
	t.dup(picked[0], 0)
	for _, e := range t.entries {
		if e.o == nil {
			t.dup(e, 0)
			break
		}
	}
}

// broken files records of every rejection reason. The content reasons go anywhere in the
// span; too_old records follow an applied record of their conversation and topic.
func (t *testLog) broken(anchors []*entry) {
	bases := t.bases()
	for _, r := range []event.Reason{event.Oversize, event.Malformed, event.MissingField, event.InvalidValue} {
		n := map[event.Reason]int{event.Oversize: synth.OversizeVariants, event.Malformed: synth.MalformedVariants,
			event.MissingField: synth.MissingFieldVariants, event.InvalidValue: synth.InvalidValueVariants}[r]
		for v := 0; v < n; v++ {
			for i, o := range bases {
				if r == event.Oversize && i%2 == 1 {
					continue // 64 KiB apiece: a few are enough
				}
				if i == 0 && (r == event.Malformed && v == synth.MalformedScene || r == event.InvalidValue && v == synth.InvalidValueScene) {
					continue // below, every spelling
				}
				o = o.Clone().Set("event_id", t.id())
				t.addLine(synth.Break(o, r, v), o.TopicOf(), o.Key(), t.start+t.rng.Int64N(t.span))
			}
		}
	}
	// The remaining invalid amount spellings.
	for v := 1; v < 7; v++ {
		o := bases[2].Clone().Set("event_id", t.id())
		t.addLine(synth.Break(o, event.InvalidValue, 4+v*synth.InvalidValueVariants), event.Orders, o.Key(), t.start+t.rng.Int64N(t.span))
	}
	o := bases[3].Clone().Set("event_id", t.id())
	t.addLine(synth.Break(o, event.InvalidValue, 4+synth.InvalidValueVariants), event.Orders, o.Key(), t.start+t.rng.Int64N(t.span))

	// The scene faults of buyer messages, every spelling. Each is on a conversation of its own
	// and filed at its ts, so that a consumer that did not read the scene (as before it was in
	// CONTRACT §1) would apply it harmlessly: the log means the same under both.
	n := 0
	sceneFault := func(r event.Reason, v int) {
		n++
		s, ts := t.shops[n%len(t.shops)], t.start+t.rng.Int64N(t.span)
		o := t.msg(s.id, "edge-scene-bad-"+strconv.Itoa(n), "buyer", "", ts)
		t.addLine(synth.Break(o, r, v), event.Messages, o.Key(), ts)
	}
	for k := range synth.BadScenes {
		sceneFault(event.InvalidValue, synth.InvalidValueScene+k*synth.InvalidValueVariants)
	}
	for k := range synth.BadSceneTypes {
		sceneFault(event.Malformed, synth.MalformedScene+k*synth.MalformedVariants)
	}

	// too_old: after an applied record of the same conversation and topic.
	old := t.start - int64(40*day)
	var msgs, ords int
	for _, i := range t.rng.Perm(len(anchors)) {
		a := anchors[i]
		if a.topic == event.Messages && msgs < 3 || a.topic == event.Orders && ords < 3 {
			ts := t.ts(old + t.rng.Int64N(int64(time.Hour)))
			o := a.o.Clone().Set("event_id", t.id()).Set("ts", ts)
			if _, ok := o.Get("refund_requested_at"); ok {
				o = o.Set("refund_requested_at", ts)
			}
			t.addLine(o.Bytes(), a.topic, a.key, a.pos+1+t.rng.Int64N(int64(10*time.Minute)))
			if a.topic == event.Messages {
				msgs++
			} else {
				ords++
			}
		}
	}
	// future: two days past the wall clock, anywhere.
	for _, a := range anchors[:4] {
		o := a.o.Clone().Set("event_id", t.id()).Set("ts", t.ts(t.now+int64(2*day)+t.rng.Int64N(int64(time.Hour))))
		t.addLine(o.Bytes(), a.topic, a.key, t.start+t.rng.Int64N(t.span))
	}
}

// bases are valid records of every shape, on random conversations, to break.
func (t *testLog) bases() []synth.Record {
	at := func() int64 { return t.start + t.rng.Int64N(t.span) }
	pick := func() (tlShop, string) {
		return t.shops[t.rng.IntN(len(t.shops))], t.buyers[t.rng.IntN(len(t.buyers))]
	}
	s, b := pick()
	buyerMsg := t.msg(s.id, b, "buyer", "", at())
	s, b = pick()
	agentMsg := t.msg(s.id, b, "agent", s.agents[0], at())
	s, b = pick()
	paid := t.order(s.id, b, "order_paid", t.orderID(), at()).Set("amount", "89.00")
	s, b = pick()
	ts := at()
	completed := t.order(s.id, b, "refund_completed", t.orderID(), ts).Set("refund_id", "r-broken").
		Set("refund_requested_at", t.ts(ts-int64(time.Hour))).Set("completed_by", "merchant")
	s, b = pick()
	disputed := t.order(s.id, b, "refund_disputed", t.orderID(), at()).Set("refund_id", "r-broken-2")
	s, b = pick()
	auto := t.msg(s.id, b, "auto", "alime", at())
	return []synth.Record{buyerMsg, agentMsg, paid, completed, disputed, auto}
}

// session files one random chat of the shared buyers, and what it leads to: orders, paid
// within 24 h, later or never, some twice; the buyer coming back after-sale; refunds. Times
// carry arbitrary nanoseconds so that millisecond flooring is exercised.
func (t *testLog) session(at int64) {
	s := t.shops[t.rng.IntN(len(t.shops))]
	b := t.buyers[t.rng.IntN(len(t.buyers))]
	minute, hour := int64(time.Minute), int64(time.Hour)
	if t.rng.IntN(10) == 0 {
		at = at / minute * minute // on a minute bucket edge
	}
	late := t.lateness(s.id + "/" + b)
	add := func(o synth.Record, ts int64) *entry {
		if ts > t.limit {
			return nil
		}
		if o.TopicOf() == event.Orders {
			return t.addLate(o, ts, t.orderLateness())
		}
		return t.addLate(o, ts, late)
	}
	// Some chats are after-sale, about an order from before the log.
	end := t.chat(s, b, at, t.rng.IntN(6) == 0, add)
	if t.rng.IntN(20) >= 7 {
		return
	}
	id, amount := t.orderID(), t.amount()
	created := end + t.rng.Int64N(3*hour)
	if t.rng.IntN(3) == 0 {
		created = at + t.rng.Int64N(5*minute) // ordered while chatting
	}
	add(t.order(s.id, b, "order_created", id, created).Set("amount", amount), created)
	if t.rng.IntN(5) == 0 {
		return
	}
	var paid int64
	switch u := t.rng.IntN(10); {
	case u < 4:
		paid = created + t.rng.Int64N(10*minute)
	case u < 8:
		paid = created + t.rng.Int64N(20*hour)
	default:
		paid = created + 40*hour + t.rng.Int64N(10*hour)
	}
	if paid > t.limit {
		return
	}
	o := t.order(s.id, b, "order_paid", id, paid).Set("amount", amount)
	if paid-at <= int64(tlMaxEarly) && t.rng.IntN(2) == 0 {
		// Filed before the chat that led to it.
		t.addAt(o, paid, at-t.rng.Int64N(int64(tlMaxEarly)-(paid-at)+1)-1)
	} else {
		add(o, paid)
	}
	if t.rng.IntN(8) == 0 {
		// The payment re-published with a new event_id: at once, within the hour, or past the
		// order's 24 h.
		again := paid
		switch t.rng.IntN(3) {
		case 1:
			again += t.rng.Int64N(hour)
		case 2:
			again = max(paid, created+int64(24*time.Hour)) + 1 + t.rng.Int64N(6*hour)
		}
		add(t.order(s.id, b, "order_paid", id, again).Set("amount", amount), again)
	}
	req := paid + t.rng.Int64N(20*hour)
	refund := t.rng.IntN(6) == 0
	if t.rng.IntN(3) == 0 {
		// The buyer comes back about the order, hours or days later, and asks for the refund
		// in that chat.
		back := paid + t.rng.Int64N(3*24*hour)
		if refund {
			back = req
		}
		req = t.chat(s, b, back, true, add) + t.rng.Int64N(30*minute)
	}
	if !refund {
		return
	}
	rid := "r" + id
	if t.rng.IntN(3) == 0 {
		ts := req + t.rng.Int64N(10*hour)
		add(t.order(s.id, b, "refund_disputed", id, ts).Set("refund_id", rid), ts)
	}
	done := req + t.rng.Int64N(40*hour)
	by := "merchant"
	if t.rng.IntN(4) == 0 {
		by = "platform"
	}
	add(t.order(s.id, b, "refund_completed", id, done).Set("refund_id", rid).
		Set("refund_requested_at", t.ts(req)).Set("completed_by", by), done)
}

// chat files one chat of buyer b at shop s from at, with add, and returns the ts of its last
// message: a few buyer messages (some spam), maybe an auto reply, and one or two rounds of
// replies, some late or never. after says it is after-sale: its first message is, its others
// mostly.
func (t *testLog) chat(s tlShop, b string, at int64, after bool, add func(synth.Record, int64) *entry) int64 {
	agent := s.agents[t.rng.IntN(len(s.agents))]
	sec, minute, hour := int64(time.Second), int64(time.Minute), int64(time.Hour)
	first, end := at, at
	for n, k := 0, 1+t.rng.IntN(3); n < k; n++ {
		o := t.scene(t.msg(s.id, b, "buyer", "", end), after, n == 0)
		if t.rng.IntN(20) == 0 {
			o = o.SetLit("spam", "true")
		}
		add(o, end)
		end += t.rng.Int64N(3 * minute)
	}
	if t.rng.IntN(5) < 2 {
		ts := first + t.rng.Int64N(2*sec)
		add(t.junkScene(t.msg(s.id, b, "auto", "alime", ts)), ts)
	}
	rounds := 1 + t.rng.IntN(2)
	for r := 0; r < rounds; r++ {
		var delay int64
		switch u := t.rng.IntN(20); {
		case u < 11:
			delay = t.rng.Int64N(minute)
		case u < 15:
			delay = minute + t.rng.Int64N(59*minute)
		case u < 17:
			delay = hour + t.rng.Int64N(29*hour)
		case u < 18:
			delay = -1 // never answered
		default:
			delay = 40*hour + t.rng.Int64N(20*hour) // around the 48 h horizon
		}
		if delay < 0 {
			break
		}
		reply := first + delay
		for n := 1 + t.rng.IntN(2); n > 0; n-- {
			if t.rng.IntN(5) == 0 {
				agent = s.agents[t.rng.IntN(len(s.agents))]
			}
			add(t.junkScene(t.msg(s.id, b, "agent", agent, reply)), reply)
			end = max(end, reply)
			reply += t.rng.Int64N(30 * sec)
		}
		first = end + t.rng.Int64N(10*minute)
		add(t.scene(t.msg(s.id, b, "buyer", "", first), after, false), first)
		end = first
	}
	return end
}

// scene spells the scene of a buyer message: after-sale for the first message of an
// after-sale chat and most of its others; otherwise pre-sale, absent, "presale" or null.
func (t *testLog) scene(o synth.Record, after, first bool) synth.Record {
	if after && (first || t.rng.IntN(5) != 0) {
		return o.SetScene(event.Aftersale, false)
	}
	switch t.rng.IntN(10) {
	case 0, 1:
		return o.SetScene(event.Presale, true)
	case 2:
		return o.SetLit("scene", "null")
	}
	return o
}

// junkScene now and then puts a scene on a message that is not a buyer's, where it is
// ignored whatever it says.
func (t *testLog) junkScene(o synth.Record) synth.Record {
	switch t.rng.IntN(16) {
	case 0:
		return o.Set("scene", "refund")
	case 1:
		return o.SetLit("scene", "7")
	case 2:
		return o.Set("scene", "aftersale")
	}
	return o
}
