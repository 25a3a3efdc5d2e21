package synth

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cskpi/cskpi/event"
)

// Config shapes the synthetic traffic. Zero fields take the defaults below.
type Config struct {
	Seed  int64
	Shops int // number of shops, ids ShopPrefix + "001", "002", ...; default 8
	// ShopPrefix starts every shop id; default "shop-". CheckShopPrefix says whether the
	// ids it makes are valid shop ids (CONTRACT §1).
	ShopPrefix string
	SlowShops  int       // the first SlowShops shops reply slowly (median ~40 s); the rest mostly in 2-10 s
	Start      time.Time // ts of the first event; default 2025-03-01T00:00:00+08:00
	Rate       float64   // events per second of event time; default 50
	// Unanswered is the share of conversations no human ever answers (the buyer gives
	// up); default 0.08. Each stays a waiting buyer for 48 h, so a demo watched for minutes
	// wants fewer.
	Unanswered float64
	// Gone is the chance that the agent does not come back for a later round of a
	// conversation (the buyer's follow-up stays unanswered); default 0.04.
	Gone float64
	// NewBuyersPerAgentMinute, when above 0, staffs each shop for its share of the traffic:
	// as many agents as it takes for each to start this many conversations a minute (at
	// least minAgents). 0 keeps 3 to 8 agents per shop whatever its size, so that at a
	// replay's rates agents serve hundreds of buyers an hour.
	NewBuyersPerAgentMinute float64
	// Aftersale is the share of chats that are after-sale (CONTRACT §1 scene): buyers who
	// placed an order coming back about it, within the hour (when will it ship, change the
	// address) or days later (where is my parcel, a refund); default 0.2, below 0 none. The
	// stream looks like shops that were already open: from the first line, customers of
	// orders placed before Start come back too, fewer as Start recedes.
	Aftersale float64
}

// The traffic model. Probabilities are per conversation unless said otherwise; times are the
// medians of lognormal draws.
const (
	defaultShops = 8
	defaultRate  = 50.0

	minAgents = 3 // agents per shop: 3..8
	maxAgents = 8

	spamConvP      = 0.04 // a conversation is an advertiser's spam (~1% of all lines)
	returningP     = 0.25 // the buyer chatted with this shop before
	autoReplyEvery = 5    // every fifth shop has no auto-reply configured
	unansweredP    = 0.08 // no human ever answers
	// A fast shop's mean reply delay is 0.97·5·e^(0.7²/2) + 0.03·25·e^(1/2) ≈ 7.4 s and a slow
	// shop's 40·e^(0.8²/2) ≈ 55 s: the demo's 15-second response-time alert
	// (deploy/prometheus) must fire for the slow shop only, with a wide margin both ways.
	fastMedian    = 5.0  // seconds, human reply delay of a fast shop
	fastSigma     = 0.7  // spread of that delay
	fastTailP     = 0.03 // a fast shop's agent is busy: the delay comes from the tail
	tailMedian    = 25.0 // seconds, median of the busy tail (reaches minutes)
	tailSigma     = 1.0  // spread of the busy tail
	slowMedian    = 40.0 // seconds, human reply delay of a slow shop
	slowSigma     = 0.8  // spread: ~90% of a slow shop's replies are over 15 s
	maxReplyDelay = 2 * time.Hour
	continueP     = 0.6  // the buyer writes again after the first answer; each round 0.15 less
	goneP         = 0.04 // the agent does not come back for a later round
	transferP     = 0.05 // the chat is handed to another agent
	orderP        = 0.27 // an answered chat leads to an order (~25% of all chats)
	orderLostP    = 0.05 // an unanswered chat still leads to an order
	secondOrderP  = 0.1  // the chat leads to two orders
	paidP         = 0.9  // an order is paid
	latePaidP     = 0.04 // a paid order is paid more than 24 h after it was placed
	paidTwiceP    = 0.02 // the payment is re-published with a new event_id
	earlyPaidP    = 0.03 // the order_created is filed after the payment (minutes, hours or days)
	refundP       = 0.05 // a paid order is refunded
	disputeP      = 0.15 // a refund escalates to platform intervention
	merchantP     = 0.92 // an undisputed refund is closed by the merchant
	priceMedian   = 89.0 // yuan

	// After-sale chats (Config.Aftersale). The first comes soon after the order (paid, or
	// placed when unpaid) or days later; each brings the buyer back once more with
	// aftersaleMoreP. A refund is asked for in an after-sale chat with refundChatP.
	defaultAftersale    = 0.2
	aftersaleMoreP      = 0.35
	aftersaleSoonP      = 0.3     // the first after-sale chat comes within the hour or so
	soonMedian          = 20 * 60 // seconds after the order
	soonSigma           = 0.8
	laterMedian         = 12 * 3600 // seconds after the order: where is my parcel (a day or more for one in four)
	laterSigma          = 1.0
	againMedian         = 24 * 3600 // seconds between two after-sale chats of one order
	maxAftersaleDelay   = 10 * 24 * time.Hour
	refundChatP         = 0.6
	presaleInAftersaleP = 0.1  // a later line of an after-sale burst is marked pre-sale
	presaleRoundP       = 0.15 // a later round of an after-sale chat is pre-sale (another product)
	// After-sale replies are slower: a fast shop's come from the busy tail with this chance,
	// a slow shop's take aftersaleSlow times as long.
	aftersaleTailP = 0.15
	aftersaleSlow  = 1.5

	dupP     = 0.005 // per line: re-published unchanged a few seconds later
	invalidP = 0.002 // per line: followed by a broken record of the same conversation

	// Expected lines per arrival before any was generated: those of its pre-sale chat and
	// orders, and of the after-sale chats it brings (Generator.prior per arrival).
	priorLines     = 8.0
	aftersaleLines = 7.0
	priorConvs     = 50 // weight of that prior in the running estimate

	recentBuyers = 256 // buyers per shop remembered for coming back

	// closeWithin: at Until, the stream answers the buyers it leaves waiting for less than
	// this. Those waiting longer have left the live breach of the default waiting thresholds
	// (CONTRACT §3: over 3 minutes less over an hour), so they page no one; an answer would
	// only add an hour-long response sample to their shop's averages.
	closeWithin = int64(time.Hour)

	nickParts  = "小 大 阿 喵 猫 兔 糖 果 月 星 雪 风 橙 柚 鱼 豆"
	agentNames = "alice bob cathy david emma frank grace henry xiaomei xiaoli " +
		"ajie lulu tingting yuyu"
	countries = "US RU ES FR BR PL KR IL NL DE CL UA"
)

// Item kinds.
const (
	kBuyer uint8 = iota
	kAgent
	kAuto
	kCreated
	kPaid
	kDisputed
	kCompleted
	kDup
)

// Scenes of a message line as written (CONTRACT §1).
const (
	sceneNone  uint8 = iota // no scene field: pre-sale, the default
	scenePre                // "scene":"presale", as Tmall writes it
	sceneAfter              // "scene":"aftersale"
)

// Platforms: they decide how buyer ids and timestamps are spelled.
const (
	taobao uint8 = iota
	tmall
	aliexpress
)

type shop struct {
	id        string
	platform  uint8
	slow      bool
	autoReply bool
	autoID    string
	pre       uint8 // the scene a pre-sale buyer line is written with
	stamps    bool  // every line of an after-sale chat carries the scene, not only the buyer's
	agents    []string
	recent    []*buyer
	next      int // ring cursor into recent
}

type buyer struct {
	shop      *shop
	id        string
	busyUntil int64 // ts of the buyer's last message so far: a returning buyer starts after it
	// The waiting episode the lines Next returned leave open, while the generator tracks
	// them (Until): since when (0: none) and where in Generator.open (index + 1).
	waitSince int64
	openAt    int32
}

// waiting is busyUntil of a buyer left waiting: they do not come back.
const waiting = math.MaxInt64

// item is one scheduled line. The generator's memory is the scheduled future (orders hours
// ahead, refunds days ahead): tens of thousands of these at a few hundred lines per second.
type item struct {
	ts     int64
	at     int64 // when it is filed, when after ts (an order_created filed late); 0: at ts
	b      *buyer
	agent  string
	line   []byte // kDup: the exact bytes to re-emit
	order  uint64
	refund uint64
	amount int64
	reqAt  int64
	kind   uint8
	scene  uint8
	spam   bool
	byMerc bool
	last   bool // a closing reply at Until: nothing follows it
}

// ret is a buyer's return for an after-sale chat about an order (0: one placed before
// Start), in which a refund is asked for (0: none). Returns wait hours or days, so they have
// a schedule of their own, apart from the lines': at a few hundred lines per second tens of
// thousands wait, and the lines' heap, popped at every line, stays as small as it was.
type ret struct {
	b      *buyer
	order  uint64
	refund uint64
}

// slot is an item's (or a return's) place in a schedule; seq breaks ts ties in push order.
type slot struct {
	ts  int64
	seq uint64
	idx int32
}

func (a slot) before(b slot) bool {
	return a.ts < b.ts || a.ts == b.ts && a.seq < b.seq
}

// slots is a binary min-heap of slots.
type slots []slot

func (h *slots) push(s slot) {
	*h = append(*h, s)
	q := *h
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q[i].before(q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *slots) pop() slot {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q = q[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && q[r].before(q[l]) {
			c = r
		}
		if !q[c].before(q[i]) {
			break
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
	*h = q
	return top
}

// Stats counts what a generator has produced: its chats, by kind, its orders and its lines.
// Convs are the arrivals (pre-sale chats, spam included) and Aftersale the after-sale chats,
// AftersalePrior of them about orders placed before Start; Unanswered counts both kinds.
// Of the paid orders, PaidLate are paid more than 24 h after creation, PaidTwice have a
// second order_paid, PaidEarly have their order_created filed after their payment.
//
// At Until, Answered buyers left waiting by the lines returned since Until was called got a
// closing reply, and LeftWaiting, waiting for an hour or more, did not.
type Stats struct {
	Convs, SpamConvs, Unanswered, Orders, Paid, Refunds, Disputes int
	Aftersale, AftersalePrior                                     int
	PaidLate, PaidTwice, PaidEarly                                int
	Lines, Dups, Invalid                                          int
	Answered, LeftWaiting                                         int
}

// Stats is what g has produced so far.
func (g *Generator) Stats() Stats { return g.st }

// Generator produces an endless, deterministic stream of event lines.
type Generator struct {
	cfg   Config
	rng   *rand.Rand
	start int64
	clock int64
	cst   *time.Location

	idPrefix  string
	idSeq     uint64
	orderBase uint64
	orderSeq  uint64
	refundSeq uint64
	pushSeq   uint64

	shops   []*shop
	cumW    []float64
	nicks   []string
	ctry    []string
	lines   schedule[item] // the lines, by when they are filed
	returns schedule[ret]  // the buyers coming back, by when
	buf     []item
	queued  [][]byte // broken records that follow the line just returned

	// After-sale chats: the chance that an order brings its buyer back (firstP), that an
	// after-sale chat brings them back again (moreP), and prior, per arrival, the chats of
	// customers of orders placed before Start, times the share still to come (comebackLeft).
	firstP, moreP, prior float64
	aftersale            bool    // Config.Aftersale is above 0
	lags                 []int64 // returnLags

	nextArrival int64
	scheduled   float64  // lines scheduled by conversations so far, for the rate estimate
	until       int64    // Until, in Unix ns; 0: none
	open        []*buyer // buyers the lines returned since Until leave waiting
	closed      bool     // the closing replies are scheduled
	sinceStart  float64  // exact time of the next arrival after start, in ns
	st          Stats
}

// New returns a generator; the same Config always yields the same lines.
func New(cfg Config) *Generator {
	if cfg.Shops <= 0 {
		cfg.Shops = defaultShops
	}
	if cfg.SlowShops > cfg.Shops {
		cfg.SlowShops = cfg.Shops
	}
	if cfg.Rate <= 0 {
		cfg.Rate = defaultRate
	}
	if cfg.Unanswered <= 0 {
		cfg.Unanswered = unansweredP
	}
	if cfg.Gone <= 0 {
		cfg.Gone = goneP
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2025, 3, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	}
	if cfg.Aftersale == 0 {
		cfg.Aftersale = defaultAftersale
	}
	if cfg.ShopPrefix == "" {
		cfg.ShopPrefix = "shop-"
	}
	mix := Mix(uint64(cfg.Seed))
	g := &Generator{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), mix)),
		start:     cfg.Start.UnixNano(),
		cst:       time.FixedZone("CST", 8*3600),
		idPrefix:  strconv.FormatUint(mix>>32|1<<31, 16) + "-",
		orderBase: 2e17 + mix%1e8*1e9,
		nicks:     strings.Fields(nickParts),
		ctry:      strings.Fields(countries),
	}
	g.clock = g.start
	g.nextArrival = g.start
	g.aftersaleRates()
	names := strings.Fields(agentNames)
	total := 0.0
	for i := 0; i < cfg.Shops; i++ {
		s := &shop{
			id:        cfg.ShopPrefix + pad3(i+1),
			platform:  uint8(i % 3),
			slow:      i < cfg.SlowShops,
			autoReply: i%autoReplyEvery != autoReplyEvery-1,
		}
		if s.platform == aliexpress {
			s.autoID = "auto-reply"
			s.stamps = true
		} else {
			s.autoID = "alime" // Alibaba's shop bot
		}
		if s.platform == tmall {
			s.pre = scenePre
		}
		n := minAgents + g.rng.IntN(maxAgents-minAgents+1)
		s.agents = agentIDs(i, s.id, n, names)
		g.shops = append(g.shops, s)
		total += math.Exp(0.7 * g.rng.NormFloat64()) // shop sizes differ
		g.cumW = append(g.cumW, total)
	}
	if cfg.NewBuyersPerAgentMinute > 0 {
		// After the draws, so that the same Seed draws the same traffic either way.
		convsPerMinute := cfg.Rate * 60 / g.priorLines() * (1 + g.prior) // both kinds of chat
		prev := 0.0
		for i, s := range g.shops {
			share := (g.cumW[i] - prev) / total
			prev = g.cumW[i]
			n := max(minAgents, int(math.Ceil(convsPerMinute*share/cfg.NewBuyersPerAgentMinute)))
			s.agents = agentIDs(i, s.id, n, names)
		}
	}
	return g
}

// agentIDs names shop i's n agents: "agent-01"… for even shops, sub-accounts
// "<shop>:<name>" for odd ones (a number appended once the names run out).
func agentIDs(i int, shopID string, n int, names []string) []string {
	out := make([]string, 0, n)
	for a := range n {
		if i%2 == 0 {
			out = append(out, "agent-"+pad3(a + 1)[1:])
			continue
		}
		name := names[(i+a)%len(names)]
		if a >= len(names) {
			name += strconv.Itoa(a / len(names))
		}
		out = append(out, shopID+":"+name)
	}
	return out
}

// Config is the configuration in effect, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Now is the event time the stream has reached: the ts of the line Next returned last (for a
// re-published duplicate, the time it was re-published; for an order_created filed late, the
// time it was filed; for a broken record, the time of the line it follows). It never goes
// back, which is what live pacing needs.
func (g *Generator) Now() time.Time { return time.Unix(0, g.clock).In(g.cfg.Start.Location()) }

// Next returns the next line, a fresh slice the caller may keep. Lines come in ts order,
// except the rare re-published duplicates and broken records (too_old, future) that carry
// their own ts, and the order_created records filed after their payment (Stats.PaidEarly),
// minutes to days late. A conversation's messages are always in ts order.
func (g *Generator) Next() []byte {
	if len(g.queued) > 0 {
		l := g.queued[0]
		g.queued = g.queued[1:]
		return l
	}
	if _, ok := g.ready(); !ok {
		return nil
	}
	return g.emit(false)
}

// Skip drops the lines filed before t, and the later re-published copies of them, as if
// Next had returned them to no one, and reports whether there were any; the next line Next
// returns is filed at t or later. The lines after t are the same as without it, but for
// those copies: alone, each would be an event no one had seen. A live stream starts with
// it: the first minutes of a fresh generator hold only first lines, so it starts earlier
// and skips to the wall clock.
func (g *Generator) Skip(t time.Time) bool {
	ns := t.UnixNano()
	skipped := false
	for {
		g.queued = g.queued[:0] // the broken records that follow a dropped line go with it
		at, ok := g.ready()
		if !ok || at >= ns {
			return skipped
		}
		g.emit(true)
		skipped = true
	}
}

// ready draws arrivals and returns until the next line is known, and returns when it is
// filed; false once the stream has ended at Until.
func (g *Generator) ready() (int64, bool) {
	for {
		lineAt, line := g.lines.next()
		retAt, ret := g.returns.next()
		if g.until != 0 { // what was scheduled before Until for later never comes
			line = line && lineAt <= g.until
			ret = ret && retAt <= g.until
		}
		if ret && retAt <= g.nextArrival && (!line || retAt <= lineAt) {
			g.comeback(g.returns.pop())
			continue
		}
		if line && lineAt < g.nextArrival {
			return lineAt, true
		}
		if g.until != 0 && g.nextArrival > g.until && !line {
			if g.closed {
				return 0, false
			}
			g.closeWaiting()
			continue
		}
		g.arrive()
	}
}

// emit takes the next line ready found, with what follows it (a duplicate scheduled, a
// broken record queued), and follows the waiting it leaves (Until). A line skipped (Skip)
// has no copy, and leaves no waiting.
func (g *Generator) emit(skip bool) []byte {
	at, it := g.lines.pop()
	g.clock = at
	g.st.Lines++
	if it.kind == kDup {
		g.st.Dups++
		return it.line
	}
	line := g.render(&it)
	if g.until != 0 && !skip && !it.spam {
		g.track(&it)
	}
	if it.spam || it.last {
		return line
	}
	switch u := g.rng.Float64(); {
	case u < dupP:
		delay := 500*time.Millisecond + time.Duration(g.rng.Int64N(int64(4500*time.Millisecond)))
		if !skip {
			g.push(item{ts: g.clock + int64(delay), kind: kDup, line: append([]byte(nil), line...)})
		}
		g.scheduled++
	case u < dupP+invalidP:
		g.queued = append(g.queued[:0], g.broken(&it))
		g.scheduled++
	}
	return line
}

// Until ends the stream at t: no line filed after it comes out, and once every line up to
// t is out, Next returns a closing reply, at t, for each buyer that the lines it returned
// since Until was called leave waiting less than an hour (Stats.Answered; those waiting
// longer stay waiting: Stats.LeftWaiting), then nil. The lines up to t are the same as
// without it. A bounded run never emits the later lines anyway, and at a high rate the
// orders, payments, refunds and returns for after-sale chats scheduled hours and days ahead
// would otherwise fill memory; and a run that ended mid-conversation would leave every buyer
// it was talking to waiting, and every shop's waiting alert firing, for an hour.
func (g *Generator) Until(t time.Time) { g.until = t.UnixNano() }

// track follows the waiting episodes the returned lines leave open (CONTRACT §2): a buyer
// message opens one when none is open, a human reply closes it.
func (g *Generator) track(it *item) {
	b := it.b
	switch {
	case it.kind == kBuyer && b.openAt == 0:
		b.waitSince = it.ts
		g.open = append(g.open, b)
		b.openAt = int32(len(g.open))
	case it.kind == kAgent && b.openAt != 0:
		i := b.openAt - 1
		last := g.open[len(g.open)-1]
		g.open[i], last.openAt = last, i+1
		g.open[len(g.open)-1] = nil
		g.open = g.open[:len(g.open)-1]
		b.openAt, b.waitSince = 0, 0
	}
}

// closeWaiting schedules, at Until, a reply by one of the shop's agents to each buyer left
// waiting less than closeWithin, the longest waiting first.
func (g *Generator) closeWaiting() {
	g.closed = true
	open := slices.Clone(g.open)
	slices.SortStableFunc(open, func(a, b *buyer) int { return cmp.Compare(a.waitSince, b.waitSince) })
	for _, b := range open {
		if g.until-b.waitSince >= closeWithin {
			g.st.LeftWaiting++
			continue
		}
		g.st.Answered++
		s := b.shop
		g.push(item{ts: g.until, b: b, kind: kAgent, agent: s.agents[g.rng.IntN(len(s.agents))], last: true})
	}
}

// arrive starts the conversation of the next buyer and draws the following arrival. Arrivals
// are Poisson; their rate is Rate divided by the running mean of lines per conversation, so
// that the stream advances event time at Rate lines per second whatever the model's mix.
func (g *Generator) arrive() {
	t := g.nextArrival
	g.conversation(t)
	if g.prior > 0 {
		for p := g.prior * g.comebackLeft(t-g.start); p > 0; p-- {
			if p >= 1 || g.rng.Float64() < p {
				g.st.AftersalePrior++
				g.comeback(t+g.secs(0, 60), ret{b: g.pickBuyer(g.pickShop(), t)})
			}
		}
	}
	mean := (g.priorLines()*priorConvs + g.scheduled) / float64(priorConvs+g.st.Convs)
	gap := g.rng.ExpFloat64() * mean / g.cfg.Rate
	// Arrival times accumulate exactly; only the stamp is in whole milliseconds, as shops
	// stamp them. Rounding each gap instead made every gap under 1 ms zero, which at
	// thousands of conversations a second multiplied the arrival rate without bound.
	g.sinceStart += gap * 1e9
	g.nextArrival = g.start + int64(g.sinceStart/1e6)*1e6
}

func (g *Generator) pickShop() *shop {
	u := g.rng.Float64() * g.cumW[len(g.cumW)-1]
	lo, hi := 0, len(g.cumW)-1
	for lo < hi {
		m := (lo + hi) / 2
		if g.cumW[m] < u {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return g.shops[lo]
}

func (g *Generator) pickBuyer(s *shop, t int64) *buyer {
	if len(s.recent) > 0 && g.rng.Float64() < returningP {
		if b := s.recent[g.rng.IntN(len(s.recent))]; b.busyUntil < t {
			return b
		}
	}
	b := &buyer{shop: s, id: g.buyerID(s)}
	if len(s.recent) < recentBuyers {
		s.recent = append(s.recent, b)
	} else {
		s.recent[s.next] = b
		s.next = (s.next + 1) % recentBuyers
	}
	return b
}

// buyerID spells a buyer the way the shop's platform does: Taobao nicks (some in Chinese),
// AliExpress member ids with a country.
func (g *Generator) buyerID(s *shop) string {
	num := strconv.FormatUint(1e9+g.rng.Uint64N(9e9), 10)
	switch {
	case s.platform == aliexpress:
		return "ae-" + g.ctry[g.rng.IntN(len(g.ctry))] + num
	case g.rng.IntN(4) == 0:
		return g.nicks[g.rng.IntN(len(g.nicks))] + g.nicks[g.rng.IntN(len(g.nicks))] + "_" + num
	default:
		return "tb" + num
	}
}

// conversation schedules one chat and everything it leads to.
func (g *Generator) conversation(t int64) {
	s := g.pickShop()
	sc := g.buf[:0]
	g.st.Convs++
	if g.rng.Float64() < spamConvP {
		g.st.SpamConvs++
		b := &buyer{shop: s, id: "ad_" + strconv.FormatUint(g.rng.Uint64N(1e9), 10)}
		tt := t
		for n := 1 + g.rng.IntN(3); n > 0; n-- {
			sc = append(sc, item{ts: tt, b: b, kind: kBuyer, spam: true})
			tt += g.secs(0.5, 30)
		}
		if s.autoReply && g.rng.IntN(2) == 0 {
			sc = append(sc, item{ts: t + g.secs(0.2, 1.2), b: b, kind: kAuto, agent: s.autoID})
		}
		g.flush(sc)
		return
	}

	b := g.pickBuyer(s, t)
	sc, end, answered := g.chat(sc, b, t, false)
	p := orderP
	if !answered {
		p = orderLostP
	}
	if g.rng.Float64() < p {
		sc = g.orders(sc, b, end)
	}
	g.flush(sc)
}

// chat appends a chat of buyer b from t: the buyer's first lines, the shop's auto reply and
// the rounds of human replies and follow-ups; after says it is after-sale. It sets how long
// the buyer is busy and returns the ts of the chat's last line and whether a human answered.
func (g *Generator) chat(sc []item, b *buyer, t int64, after bool) ([]item, int64, bool) {
	s := b.shop
	agent := s.agents[g.rng.IntN(len(s.agents))]
	stamp := sceneNone // the scene of the shop's lines
	if after && s.stamps {
		stamp = sceneAfter
	}
	sc, end := g.burst(sc, b, t, g.burstLen(), after)
	if s.autoReply {
		sc = append(sc, item{ts: t + g.secs(0.2, 1.2), b: b, kind: kAuto, agent: s.autoID, scene: stamp})
	}
	answered := g.rng.Float64() >= g.cfg.Unanswered
	leftWaiting := !answered
	if !answered {
		g.st.Unanswered++
		if g.rng.IntN(5) < 2 { // "在吗?" a few minutes later
			end += g.secs(60, 300)
			sc = append(sc, item{ts: end, b: b, kind: kBuyer, scene: g.scene(s, after, false)})
		}
	} else {
		episode, typed := t, end
		for round := 0; ; round++ {
			rt := episode + g.replyDelay(s, after)
			answeredAt := rt
			for n := g.agentLines(); n > 0; n-- {
				sc = append(sc, item{ts: rt, b: b, kind: kAgent, agent: agent, scene: stamp})
				end = max(end, rt)
				answeredAt = rt
				rt += g.lognormal(6, 0.5)
			}
			if answeredAt < typed {
				// The buyer was still typing after the agent's last line: the agent answers
				// that too. Left open, those lines would wait for the buyer's next chat and
				// close with a sample of many minutes, which would dominate a fast shop's
				// 15-minute average.
				rt = typed + g.replyDelay(s, after)
				sc = append(sc, item{ts: rt, b: b, kind: kAgent, agent: agent, scene: stamp})
				end = max(end, rt)
			}
			if g.rng.Float64() < transferP {
				agent = s.agents[g.rng.IntN(len(s.agents))]
			}
			if g.rng.Float64() >= continueP-0.15*float64(round) {
				break
			}
			episode = end + g.lognormal(20, 0.9)
			if after && g.rng.Float64() < presaleRoundP {
				// The buyer moves on to another product: the rest of the chat is pre-sale.
				after, stamp = false, sceneNone
			}
			sc, end = g.burst(sc, b, episode, 1+g.rng.IntN(3), after)
			typed = end
			if g.rng.Float64() < g.cfg.Gone {
				leftWaiting = true
				break
			}
		}
	}
	b.busyUntil = end
	if leftWaiting {
		// A buyer left waiting does not come back. If they did, the first reply of their next
		// chat would close the old episode with a sample of many minutes (CONTRACT §2), and those
		// few samples would dominate a small fast shop's 15-minute average, blurring the
		// fast/slow contrast the demo's response-time alert must show.
		b.busyUntil = waiting
	}
	return sc, end, answered
}

// comeback runs the after-sale chat of a buyer coming back at t, the refund asked for in
// it, and schedules the buyer's next return. A buyer still chatting comes back after that
// chat; a buyer left waiting does not come back, but the refund goes on.
func (g *Generator) comeback(t int64, r ret) {
	b := r.b
	sc := g.buf[:0]
	if b.busyUntil == waiting {
		if r.refund != 0 {
			sc = g.refund(sc, b, r.order, r.refund, t+g.lognormal(600, 1))
		}
		g.flush(sc)
		return
	}
	if b.busyUntil >= t {
		t = b.busyUntil + g.lognormal(1800, 1)
	}
	g.st.Aftersale++
	sc, end, _ := g.chat(sc, b, t, true)
	if r.refund != 0 {
		sc = g.refund(sc, b, r.order, r.refund, end+g.lognormal(600, 1))
	}
	if r.order != 0 && b.busyUntil != waiting && g.rng.Float64() < g.moreP {
		g.schedule(end+min(g.lognormal(againMedian, 0.8), int64(maxAftersaleDelay)), ret{b: b, order: r.order})
	}
	g.flush(sc)
}

// aftersaleRates derives the chances of after-sale chats from Config.Aftersale: k of them
// per pre-sale chat, spread over the orders those chats lead to.
func (g *Generator) aftersaleRates() {
	share := g.cfg.Aftersale
	if share <= 0 {
		return
	}
	k := min(share, 0.9) / (1 - min(share, 0.9))
	u := g.cfg.Unanswered
	perOrder := k / (((1-u)*orderP + u*orderLostP) * (1 + secondOrderP))
	// Buyers left waiting do not come back, and a chat that leaves its buyer waiting ends
	// the returns: about Unanswered+Gone of them are lost.
	perOrder /= max(0.5, 1-u-g.cfg.Gone)
	// The first chat of an order comes with first, each next with q: perOrder = first/(1-q).
	q := aftersaleMoreP
	first := perOrder * (1 - q)
	if first > 1 {
		first, q = 1, 1-1/perOrder
	}
	// A refund asked for in a chat brings the buyer back whatever the draw.
	asked := paidP * refundP * refundChatP
	g.firstP = max(0, (first-asked)/(1-asked))
	g.moreP = q
	g.aftersale = true
	// Customers of the orders placed before Start: as many chats per arrival as the orders
	// since Start will bring once they are all due, less those that are (comebackLeft), so
	// that the share is the same from the first line on. Each stands for one return of an
	// order before Start, first or next, and brings no other.
	g.prior = k * (1 - spamConvP)
	g.lags = returnLags(q)
}

// priorLines is the expected lines per arrival before any was generated.
func (g *Generator) priorLines() float64 { return priorLines + aftersaleLines*g.prior }

// comebackLeft is the share of an order's returns that come later than d after it.
func (g *Generator) comebackLeft(d int64) float64 {
	n := len(g.lags)
	i, _ := slices.BinarySearch(g.lags, d+1) // the lags up to d
	return float64(n-i) / float64(max(n, 1))
}

// returnLags draws, with a seed of its own, how long after its order each of an order's
// returns comes (the first, and each next with q a day or so after the one before), sorted:
// what comebackLeft counts the prior customers' returns still to come with.
func returnLags(q float64) []int64 {
	tmp := Generator{rng: rand.New(rand.NewPCG(0x5eed, 0x1a95))}
	var lags []int64
	for range 2000 {
		lag := tmp.comebackDelay()
		lags = append(lags, lag)
		for tmp.rng.Float64() < q {
			lag += int64(10*time.Minute) + min(tmp.lognormal(againMedian, 0.8), int64(maxAftersaleDelay))
			lags = append(lags, lag)
		}
	}
	slices.Sort(lags)
	return lags
}

// comebackDelay draws when the first after-sale chat of an order comes after the order.
func (g *Generator) comebackDelay() int64 {
	var d int64
	if g.rng.Float64() < aftersaleSoonP {
		d = g.lognormal(soonMedian, soonSigma)
	} else {
		d = g.lognormal(laterMedian, laterSigma)
	}
	return min(d, int64(maxAftersaleDelay))
}

// scene is the scene a buyer line of shop s is written with: in a pre-sale chat the shop's
// pre-sale spelling; in an after-sale burst after-sale for its first line, and mostly for the
// others (a client may mark a line pre-sale mid-episode).
func (g *Generator) scene(s *shop, after, first bool) uint8 {
	if !after || !first && g.rng.Float64() < presaleInAftersaleP {
		return s.pre
	}
	return sceneAfter
}

// burst appends n buyer lines typed a few seconds apart, starting at t, and returns the last
// ts; after says they are after-sale.
func (g *Generator) burst(sc []item, b *buyer, t int64, n int, after bool) ([]item, int64) {
	last := t
	for first := true; n > 0; n-- {
		sc = append(sc, item{ts: t, b: b, kind: kBuyer, scene: g.scene(b.shop, after, first)})
		first = false
		last = t
		t += g.lognormal(4, 0.6)
	}
	return sc, last
}

func (g *Generator) burstLen() int {
	switch u := g.rng.IntN(10); {
	case u < 4:
		return 1
	case u < 7:
		return 2
	case u < 9:
		return 3
	default:
		return 4
	}
}

func (g *Generator) agentLines() int {
	switch u := g.rng.IntN(20); {
	case u < 11:
		return 1
	case u < 17:
		return 2
	default:
		return 3
	}
}

// replyDelay draws how long the first unanswered buyer line waits for a human; after-sale
// lines wait longer.
func (g *Generator) replyDelay(s *shop, after bool) int64 {
	var d int64
	tail := fastTailP
	if after {
		tail = aftersaleTailP
	}
	switch {
	case s.slow && after:
		d = g.lognormal(slowMedian*aftersaleSlow, slowSigma)
	case s.slow:
		d = g.lognormal(slowMedian, slowSigma)
	case g.rng.Float64() < tail:
		d = g.lognormal(tailMedian, tailSigma)
	default:
		d = g.lognormal(fastMedian, fastSigma)
	}
	return min(d, int64(maxReplyDelay))
}

// orders appends the orders a chat that ended at end leads to, with their payments and
// refunds, and schedules the buyer's after-sale chats about them.
func (g *Generator) orders(sc []item, b *buyer, end int64) []item {
	n := 1
	if g.rng.Float64() < secondOrderP {
		n = 2
	}
	for ; n > 0; n-- {
		g.st.Orders++
		g.orderSeq++
		id := g.orderBase + g.orderSeq
		fen := g.price()
		created := end + min(g.lognormal(600, 1.2), int64(12*time.Hour))
		sc = append(sc, item{ts: created, b: b, kind: kCreated, order: id, amount: fen})
		back := created // what an after-sale chat comes after: the payment, if any
		asked := false  // a refund is asked for in an after-sale chat
		if g.rng.Float64() < paidP {
			g.st.Paid++
			ci := len(sc) - 1
			var paid int64
			if g.rng.Float64() < latePaidP {
				// Past the 24 h of cskpi_orders_created_paid_24h: reminded, or paid on delivery.
				g.st.PaidLate++
				paid = created + int64(24*time.Hour) + min(g.lognormal(8*3600, 0.8), int64(48*time.Hour))
			} else {
				paid = created + min(g.lognormal(120, 1.6), int64(24*time.Hour))
			}
			sc = append(sc, item{ts: paid, b: b, kind: kPaid, order: id, amount: fen})
			back = paid
			if g.rng.Float64() < paidTwiceP {
				// The payment re-published with a new event_id: at once, minutes later, or by
				// a reconciliation a day later.
				g.st.PaidTwice++
				again := paid
				switch g.rng.IntN(5) {
				case 2, 3:
					again += g.secs(1, 300)
				case 4:
					again += g.lognormal(24*3600, 0.5)
				}
				sc = append(sc, item{ts: again, b: b, kind: kPaid, order: id, amount: fen})
			}
			if g.rng.Float64() < earlyPaidP {
				g.st.PaidEarly++
				sc[ci].at = paid + g.fileLate()
			}
			if g.rng.Float64() < refundP {
				g.st.Refunds++
				g.refundSeq++
				// Most refunds are asked for within hours ("仅退款" before shipping), some days
				// later; most in an after-sale chat.
				req := paid + g.lognormal(3*3600, 1.2)
				if g.aftersale && g.rng.Float64() < refundChatP {
					asked = true
					g.schedule(req, ret{b: b, order: id, refund: g.refundSeq})
				} else {
					sc = g.refund(sc, b, id, g.refundSeq, req)
				}
			}
		}
		if !asked && g.firstP > 0 && g.rng.Float64() < g.firstP {
			g.schedule(back+g.comebackDelay(), ret{b: b, order: id})
		}
	}
	return sc
}

// refund appends refund seq of order id, asked for at req: escalated to the platform or not,
// then completed.
func (g *Generator) refund(sc []item, b *buyer, id, seq uint64, req int64) []item {
	if g.rng.Float64() < disputeP {
		g.st.Disputes++
		disputed := req + g.lognormal(4*3600, 0.7)
		sc = append(sc, item{ts: disputed, b: b, kind: kDisputed, order: id, refund: seq})
		done := disputed + g.lognormal(12*3600, 0.6)
		return append(sc, item{ts: done, b: b, kind: kCompleted, order: id, refund: seq,
			reqAt: req, byMerc: g.rng.IntN(5) == 0})
	}
	done := req + g.lognormal(2*3600, 1.0)
	return append(sc, item{ts: done, b: b, kind: kCompleted, order: id, refund: seq,
		reqAt: req, byMerc: g.rng.Float64() < merchantP})
}

// fileLate draws how long after its payment a late order_created is filed: minutes mostly,
// hours sometimes, days rarely (CONTRACT §1: the orders topic may be days out of ts order).
func (g *Generator) fileLate() int64 {
	var d int64
	switch u := g.rng.IntN(10); {
	case u < 6:
		d = g.lognormal(120, 1)
	case u < 9:
		d = g.lognormal(2*3600, 1)
	default:
		d = g.secs(24*3600, 3*24*3600)
	}
	return int64(time.Millisecond) + d
}

// price draws an item price in fen, ending the way shop prices do (.00, .50, .90, .99).
func (g *Generator) price() int64 {
	yuan := int64(priceMedian * math.Exp(0.8*g.rng.NormFloat64()))
	if yuan < 1 {
		yuan = 1
	}
	var cents int64
	switch g.rng.IntN(6) {
	case 3:
		cents = 50
	case 4:
		cents = 90
	case 5:
		cents = 99
	}
	return yuan*100 + cents
}

// flush sorts a conversation's lines by ts (insertion sort: a dozen lines, mostly in order)
// and schedules them; the push order breaks ts ties, so a conversation's lines come out in the
// order they were written.
func (g *Generator) flush(sc []item) {
	for i := 1; i < len(sc); i++ {
		for j := i; j > 0 && sc[j].ts < sc[j-1].ts; j-- {
			sc[j], sc[j-1] = sc[j-1], sc[j]
		}
	}
	for i := range sc {
		g.push(sc[i])
	}
	g.scheduled += float64(len(sc))
	clear(sc) // drop the buyer pointers the scratch slice would otherwise keep alive
	g.buf = sc[:0]
}

// lognormal draws a duration around median seconds, in whole milliseconds.
func (g *Generator) lognormal(median, sigma float64) int64 {
	s := median * math.Exp(sigma*g.rng.NormFloat64())
	return int64(s*1e3) * 1e6
}

// secs draws a uniform duration in [lo, hi) seconds, in whole milliseconds.
func (g *Generator) secs(lo, hi float64) int64 {
	return int64((lo+(hi-lo)*g.rng.Float64())*1e3) * 1e6
}

// push schedules an item at the time it is filed (its ts, or at when later).
func (g *Generator) push(it item) {
	at := max(it.ts, it.at)
	if g.until != 0 && at > g.until {
		return
	}
	g.pushSeq++
	g.lines.push(at, g.pushSeq, it)
}

// schedule makes a buyer come back at t, as push does a line.
func (g *Generator) schedule(t int64, r ret) {
	if g.until != 0 && t > g.until {
		return
	}
	g.pushSeq++
	g.returns.push(t, g.pushSeq, r)
}

// schedule is a queue of values by time, ties in push order. The heap orders small
// pointer-free slots; the values stay put in a slab, so sifting moves 24 bytes with no
// write barriers.
type schedule[T any] struct {
	heap slots
	vals []T     // the slab the slots point into
	free []int32 // free slab entries
}

func (q *schedule[T]) push(at int64, seq uint64, v T) {
	var idx int32
	if n := len(q.free); n > 0 {
		idx = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		idx = int32(len(q.vals))
		q.vals = append(q.vals, v)
	}
	q.vals[idx] = v
	q.heap.push(slot{ts: at, seq: seq, idx: idx})
}

// pop takes the next value and its time.
func (q *schedule[T]) pop() (int64, T) {
	top := q.heap.pop()
	v := q.vals[top.idx]
	var zero T
	q.vals[top.idx] = zero
	q.free = append(q.free, top.idx)
	return top.ts, v
}

// next is the time of the next value; ok is false when there is none.
func (q *schedule[T]) next() (at int64, ok bool) {
	if len(q.heap) == 0 {
		return 0, false
	}
	return q.heap[0].ts, true
}

// loc is the zone a shop stamps its times in.
func (g *Generator) loc(s *shop) *time.Location {
	if s.platform == aliexpress {
		return time.UTC
	}
	return g.cst
}

// render writes an item's line with appends only: this is the per-event cost of every
// benchmark fed by the generator.
func (g *Generator) render(it *item) []byte {
	s := it.b.shop
	loc := g.loc(s)
	b := make([]byte, 0, 224)
	if it.kind <= kAuto {
		b = append(b, `{"topic":"messages","event_id":"`...)
	} else {
		b = append(b, `{"topic":"orders","event_id":"`...)
	}
	g.idSeq++
	b = append(b, g.idPrefix...)
	b = strconv.AppendUint(b, g.idSeq, 16)
	b = append(b, `","shop_id":`...)
	b = appendString(b, s.id)
	b = append(b, `,"buyer_id":`...)
	b = appendString(b, it.b.id)
	switch it.kind {
	case kBuyer:
		b = append(b, `,"sender":"buyer"`...)
	case kAgent:
		b = append(b, `,"sender":"agent","agent_id":`...)
		b = appendString(b, it.agent)
	case kAuto:
		b = append(b, `,"sender":"auto","agent_id":`...)
		b = appendString(b, it.agent)
	case kCreated:
		b = append(b, `,"type":"order_created"`...)
	case kPaid:
		b = append(b, `,"type":"order_paid"`...)
	case kDisputed:
		b = append(b, `,"type":"refund_disputed"`...)
	case kCompleted:
		b = append(b, `,"type":"refund_completed"`...)
	}
	switch it.scene {
	case scenePre:
		b = append(b, `,"scene":"presale"`...)
	case sceneAfter:
		b = append(b, `,"scene":"aftersale"`...)
	}
	if it.kind >= kCreated {
		b = append(b, `,"order_id":"`...)
		b = strconv.AppendUint(b, it.order, 10)
		b = append(b, '"')
	}
	switch it.kind {
	case kCreated, kPaid:
		b = append(b, `,"amount":`...)
		b = appendAmount(b, it.amount)
	case kDisputed, kCompleted:
		b = append(b, `,"refund_id":"RF`...)
		b = strconv.AppendUint(b, it.order, 10)
		b = append(b, '-')
		b = strconv.AppendUint(b, it.refund, 10)
		b = append(b, '"')
	}
	if it.kind == kCompleted {
		b = append(b, `,"refund_requested_at":`...)
		b = appendTime(b, it.reqAt, loc)
		if it.byMerc {
			b = append(b, `,"completed_by":"merchant"`...)
		} else {
			b = append(b, `,"completed_by":"platform"`...)
		}
	}
	b = append(b, `,"ts":`...)
	b = appendTime(b, it.ts, loc)
	if it.spam {
		b = append(b, `,"spam":true`...)
	}
	return append(b, '}')
}

// object is the item as an Record, for bending into a broken record (rare: no need for speed).
func (g *Generator) object(it *item) Record {
	s := it.b.shop
	loc := g.loc(s)
	o := Record{{k: "topic", v: "messages"}, {k: "event_id"}, {k: "shop_id", v: s.id}, {k: "buyer_id", v: it.b.id}}
	switch it.kind {
	case kBuyer:
		o = o.Set("sender", "buyer")
	case kAgent:
		o = o.Set("sender", "agent").Set("agent_id", it.agent)
	case kAuto:
		o = o.Set("sender", "auto").Set("agent_id", it.agent)
	default:
		o = o.Set("topic", "orders")
		o = o.Set("type", [...]string{kCreated: "order_created", kPaid: "order_paid",
			kDisputed: "refund_disputed", kCompleted: "refund_completed"}[it.kind])
		o = o.Set("order_id", strconv.FormatUint(it.order, 10))
	}
	switch it.kind {
	case kCreated, kPaid:
		o = o.Set("amount", event.FormatAmount(it.amount))
	case kDisputed, kCompleted:
		o = o.Set("refund_id", "RF"+strconv.FormatUint(it.order, 10)+"-"+strconv.FormatUint(it.refund, 10))
	}
	if it.kind == kCompleted {
		o = o.Set("refund_requested_at", formatTime(it.reqAt, loc))
		o = o.Set("completed_by", map[bool]string{true: "merchant", false: "platform"}[it.byMerc])
	}
	switch it.scene {
	case scenePre:
		o = o.SetScene(event.Presale, true)
	case sceneAfter:
		o = o.SetScene(event.Aftersale, false)
	}
	return o.Set("ts", formatTime(it.ts, loc))
}

// broken makes the rare invalid record that follows a valid line of the same conversation:
// one of every content reason, or a valid-looking record whose ts is too old (right after a
// record that set the stream time, so it is certainly too old) or in the future.
func (g *Generator) broken(it *item) []byte {
	g.st.Invalid++
	o := g.object(it)
	g.idSeq++
	o = o.Set("event_id", g.idPrefix+strconv.FormatUint(g.idSeq, 16))
	loc := g.loc(it.b.shop)
	v := g.rng.IntN(64)
	switch u := g.rng.IntN(100); {
	case u < 2:
		return Break(o, event.Oversize, v)
	case u < 32:
		return Break(o, event.Malformed, v)
	case u < 62:
		return Break(o, event.MissingField, v)
	case u < 87:
		return Break(o, event.InvalidValue, v)
	case u < 94:
		return o.Set("ts", formatTime(it.ts-40*24*int64(time.Hour), loc)).Bytes()
	default:
		// A century ahead: future under any wall clock a replay may run at, yet still a time
		// the decoder accepts.
		return o.Set("ts", formatTime(it.ts+100*365*24*int64(time.Hour), loc)).Bytes()
	}
}

// CheckShopPrefix says whether prefix makes valid shop ids (CONTRACT §1: 1-64 bytes of
// [A-Za-z0-9._-]) for shops shops: prefix + "001", … .
func CheckShopPrefix(prefix string, shops int) error {
	for i := 0; i < len(prefix); i++ {
		switch c := prefix[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("%q: a shop id holds only letters, digits, '.', '_' and '-'", prefix)
		}
	}
	if n := len(prefix) + len(pad3(max(shops, 1))); n > 64 {
		return fmt.Errorf("%q: the shop ids would be %d bytes, over 64", prefix, n)
	}
	if prefix == "" {
		return errors.New("empty: the shop ids would be bare numbers; give a prefix such as load-")
	}
	return nil
}

func pad3(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

// Mix spreads a seed over 64 bits (splitmix64), so that nearby seeds give unrelated id
// prefixes.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
