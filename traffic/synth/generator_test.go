package synth_test

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/internal/testlog"
	"github.com/cskpi/cskpi/traffic/synth"
)

func lines(g *synth.Generator, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

func TestGeneratorDeterministic(t *testing.T) {
	cfg := synth.Config{Seed: 42, Shops: 5, SlowShops: 2, Start: time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC), Rate: 50}
	a, b := lines(synth.New(cfg), 20000), lines(synth.New(cfg), 20000)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("line %d differs:\n%s\n%s", i, a[i], b[i])
		}
	}
	cfg.Seed = 43
	c := lines(synth.New(cfg), 100)
	if bytes.Equal(a[0], c[0]) && bytes.Equal(a[99], c[99]) {
		t.Fatal("seeds 42 and 43 give the same lines")
	}
}

func TestGeneratorTraffic(t *testing.T) {
	const n = 300000
	start := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	// A low rate, so that the lines span most of a day and refunds (hours after payment) show.
	g := synth.New(synth.Config{Seed: 7, Shops: 6, SlowShops: 2, Start: start, Rate: 5})
	ls := lines(g, n)
	outs := testlog.Consume(t, ls, start.Add(48*time.Hour))

	// Every line routes by its conversation.
	for i, o := range outs {
		if o.Reason == event.OK && string(o.Rec.Key) != o.Ev.Conversation() {
			t.Fatalf("line %d: key %q, conversation %q", i, o.Rec.Key, o.Ev.Conversation())
		}
	}

	var rejected, dups, spam, applied int
	senders := map[event.Sender]int{}
	kinds := map[event.Kind]int{}
	agents := map[string]map[string]bool{}
	merchant, completed := 0, 0
	for _, o := range outs {
		switch {
		case o.Reason != event.OK:
			rejected++
		case o.Dup:
			dups++
		case o.Spam:
			spam++
		default:
			applied++
			senders[o.Ev.Sender]++
			kinds[o.Ev.Kind]++
			if o.Ev.Sender == event.Agent {
				if agents[o.Ev.Shop] == nil {
					agents[o.Ev.Shop] = map[string]bool{}
				}
				agents[o.Ev.Shop][o.Ev.Agent] = true
			}
			if o.Ev.Kind == event.RefundCompleted {
				completed++
				if o.Ev.ByMerchant {
					merchant++
				}
				if o.Ev.RequestedAt >= o.Ev.TS {
					t.Errorf("refund completed at its request time")
				}
			}
		}
	}
	share := func(k int) float64 { return float64(k) / n }
	t.Logf("rejected %d %v, duplicate %d, spam %d, applied %d; senders %v; kinds %v",
		rejected, testlog.Reasons(outs), dups, spam, applied, senders, kinds)
	within := func(name string, got, lo, hi float64) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s = %.4f, want in [%.4f, %.4f]", name, got, lo, hi)
		}
	}
	within("rejected share", share(rejected), 0.001, 0.0035)
	within("duplicate share", share(dups), 0.003, 0.008)
	within("spam share", share(spam), 0.006, 0.016)
	r := testlog.Reasons(outs)
	for _, want := range []event.Reason{event.Malformed, event.MissingField, event.InvalidValue, event.TooOld, event.Future} {
		if r[want] == 0 {
			t.Errorf("no %s record in %d lines: %v", want, n, r)
		}
	}
	within("auto per buyer message", float64(senders[event.Auto])/float64(senders[event.Buyer]), 0.2, 0.6)
	within("human per buyer message", float64(senders[event.Agent])/float64(senders[event.Buyer]), 0.6, 1.3)
	within("paid per created", float64(kinds[event.OrderPaid])/float64(kinds[event.OrderCreated]), 0.8, 0.97)
	within("merchant-closed refunds", float64(merchant)/float64(completed), 0.6, 0.98)
	if kinds[event.RefundDisputed] == 0 {
		t.Error("no refund_disputed")
	}
	st := g.Stats()
	within("unanswered chats", float64(st.Unanswered)/float64(st.Convs-st.SpamConvs+st.Aftersale), 0.06, 0.10)
	within("chats with orders", float64(st.Orders)/float64(st.Convs), 0.2, 0.32)
	within("refunded payments", float64(st.Refunds)/float64(st.Paid), 0.03, 0.07)
	for shop, a := range agents {
		if len(a) < 3 || len(a) > 8 { // agents per shop: 3..8
			t.Errorf("%s has %d agents", shop, len(a))
		}
	}

	// Event time advances at Rate lines per second (orders scheduled hours ahead are not yet
	// all due at the start, so allow some slack).
	elapsed := g.Now().Sub(start).Seconds()
	within("lines per second of event time", n/elapsed, 4.5, 5.3)

	// Applied records come in ts order overall, not only per conversation, but for the
	// order_created records filed after their payment (paid up to three days after creation,
	// filed up to three days after the payment).
	testlog.CheckConversationOrder(t, outs)
	var last int64
	late := 0
	for i, o := range outs {
		if !o.Applied() {
			continue
		}
		if o.Ev.Kind == event.OrderCreated && o.Ev.TS < last {
			late++
			if last-o.Ev.TS > int64(6*24*time.Hour+time.Minute) {
				t.Fatalf("line %d: order_created filed %v late", i, time.Duration(last-o.Ev.TS))
			}
			continue
		}
		if o.Ev.TS < last {
			t.Fatalf("line %d goes back in time", i)
		}
		last = o.Ev.TS
	}
	if late == 0 || late > st.PaidEarly {
		t.Errorf("%d order_created filed late, %d orders paid before their creation is filed", late, st.PaidEarly)
	}

	// Amounts are yuan with two decimals.
	for _, l := range ls[:20000] {
		if i := bytes.Index(l, []byte(`"amount":"`)); i >= 0 {
			a := l[i+10:]
			a = a[:bytes.IndexByte(a, '"')]
			if d := bytes.IndexByte(a, '.'); d != len(a)-3 {
				t.Fatalf("amount %q", a)
			}
		}
	}
}

// TestGeneratorResponseTimes follows waiting episodes (SEMANTICS: started by the first
// unanswered buyer line, closed by the next human reply) and checks the two kinds of shop.
func TestGeneratorResponseTimes(t *testing.T) {
	start := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	g := synth.New(synth.Config{Seed: 3, Shops: 6, SlowShops: 2, Start: start, Rate: 50})
	outs := testlog.Consume(t, lines(g, 200000), start.Add(48*time.Hour))
	open := map[string]int64{}
	samples := map[bool][]float64{}
	for _, o := range outs {
		if !o.Applied() || o.Ev.Topic != event.Messages {
			continue
		}
		k := o.Ev.Conversation()
		switch o.Ev.Sender {
		case event.Buyer:
			if _, ok := open[k]; !ok {
				open[k] = o.Ev.TS
			}
		case event.Agent:
			if s, ok := open[k]; ok {
				slow := o.Ev.Shop == "shop-001" || o.Ev.Shop == "shop-002"
				samples[slow] = append(samples[slow], float64(o.Ev.TS-s)/1e9)
				delete(open, k)
			}
		}
	}
	quantiles := func(xs []float64) (median, mean, over15 float64) {
		slices.Sort(xs)
		n, sum := 0, 0.0
		for _, x := range xs {
			sum += x
			if x > 15 {
				n++
			}
		}
		return xs[len(xs)/2], sum / float64(len(xs)), float64(n) / float64(len(xs))
	}
	fm, fmean, f15 := quantiles(samples[false])
	sm, smean, s15 := quantiles(samples[true])
	t.Logf("fast: median %.1fs, mean %.1fs, %.0f%% over 15s; slow: median %.1fs, mean %.1fs, %.0f%% over 15s",
		fm, fmean, 100*f15, sm, smean, 100*s15)
	if fm < 3 || fm > 8 || f15 > 0.3 {
		t.Errorf("fast shops: median %.1fs, %.2f over 15s", fm, f15)
	}
	if sm < 25 || sm > 60 || s15 < 0.7 {
		t.Errorf("slow shops: median %.1fs, %.2f over 15s", sm, s15)
	}
	// The averages are what the response-time alert (above 15 s) sees: the demo's fast shops
	// must stay well under it and its slow shop well over it.
	if fmean > 10 {
		t.Errorf("fast shops: mean %.1fs, want at most 10s", fmean)
	}
	if smean < 30 {
		t.Errorf("slow shops: mean %.1fs, want at least 30s", smean)
	}
	if math.IsNaN(fm) {
		t.Fatal("no samples")
	}
}

func TestGeneratorIDs(t *testing.T) {
	g := synth.New(synth.Config{Seed: 1, Shops: 12, SlowShops: 3})
	outs := testlog.Consume(t, lines(g, 50000), time.Now())
	ids := map[string]bool{}
	for _, o := range outs {
		if o.Reason != event.OK || o.Dup {
			continue
		}
		if ids[o.Ev.ID] {
			t.Fatalf("event id %s reused", o.Ev.ID)
		}
		ids[o.Ev.ID] = true
		if !strings.HasPrefix(o.Ev.Shop, "shop-0") || len(o.Ev.Shop) != 8 {
			t.Fatalf("shop id %q", o.Ev.Shop)
		}
	}
	if g.Config().Rate != 50 || g.Config().Shops != 12 {
		t.Errorf("defaults: %+v", g.Config())
	}
}

// TestUntil: a generator ended at Until yields exactly the lines of an unbounded one up to
// that time, then a closing reply at Until for each conversation it leaves waiting (under
// an hour), then nil: after it, no buyer waits.
func TestUntil(t *testing.T) {
	cfg := synth.Config{Seed: 3, Shops: 50, SlowShops: 2, Start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Rate: 200}
	until := cfg.Start.Add(10 * time.Minute)
	full, bounded := synth.New(cfg), synth.New(cfg)
	bounded.Until(until)
	var out [][]byte
	for b := bounded.Next(); b != nil; b = bounded.Next() {
		out = append(out, b)
	}
	st := bounded.Stats()
	n := len(out) - st.Answered
	for i, b := range out[:n] {
		if f := full.Next(); string(f) != string(b) {
			t.Fatalf("line %d differs:\n bounded %s\n full    %s", i, b, f)
		}
	}
	// What the unbounded generator has next is past Until.
	full.Next()
	if !full.Now().After(until) {
		t.Fatalf("the bounded run ended at line %d, before Until (next line at %v)", n, full.Now())
	}
	if n < 100000 {
		t.Errorf("only %d lines in 10 minutes at 200 lines/s", n)
	}
	for _, b := range out[n:] {
		e, r := event.Decode(event.Messages, b)
		if r != event.OK || e.Sender != event.Agent || e.TS != until.UnixNano() {
			t.Fatalf("a closing line that is not a reply at Until: %s", b)
		}
	}
	// The model leaves some buyers unanswered (Unanswered, Gone): the closing replies found
	// every one of them, and the in-flight chats Until cut short.
	open := waitingAfter(out, cfg.Start, until)
	if len(open) != 0 || st.LeftWaiting != 0 {
		t.Errorf("%d buyers still waiting after the run (LeftWaiting %d): %v", len(open), st.LeftWaiting, open)
	}
	if st.Answered < 100 {
		t.Errorf("only %d closing replies for 10 minutes of 50 shops", st.Answered)
	}
	t.Logf("%d lines, then %d closing replies", n, st.Answered)
}

// TestUntilLeavesTheLongWaiting: at Until, a buyer waiting an hour or more (out of the live
// breach) is left waiting and counted; the others are answered.
func TestUntilLeavesTheLongWaiting(t *testing.T) {
	cfg := synth.Config{Seed: 4, Shops: 6, SlowShops: 1, Start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Rate: 20}
	until := cfg.Start.Add(90 * time.Minute)
	g := synth.New(cfg)
	g.Until(until)
	var out [][]byte
	for b := g.Next(); b != nil; b = g.Next() {
		out = append(out, b)
	}
	st := g.Stats()
	open := waitingAfter(out, cfg.Start, until)
	for buyer, since := range open {
		if until.Sub(since) < time.Hour {
			t.Errorf("%s waits since %v, under an hour before Until", buyer, since)
		}
	}
	if st.LeftWaiting == 0 || len(open) != st.LeftWaiting || st.Answered == 0 {
		t.Errorf("%d left waiting (Stats %d), %d answered", len(open), st.LeftWaiting, st.Answered)
	}
}

// waitingAfter replays lines as a consumer would (CONTRACT §2, spam, duplicates and broken
// records aside) and returns the conversations left waiting, with the start of their wait.
func waitingAfter(lines [][]byte, from, to time.Time) map[string]time.Time {
	open := map[string]time.Time{}
	seen := map[string]bool{}
	for _, l := range lines {
		if !bytes.HasPrefix(l, []byte(`{"topic":"messages",`)) {
			continue
		}
		e, r := event.Decode(event.Messages, l)
		if r != event.OK || e.Spam || seen[e.ID] || e.TS < from.UnixNano() || e.TS > to.UnixNano() {
			continue // broken, spam, a duplicate, or too old or future on purpose
		}
		seen[e.ID] = true
		switch e.Sender {
		case event.Buyer:
			if _, ok := open[e.Conversation()]; !ok {
				open[e.Conversation()] = time.Unix(0, e.TS)
			}
		case event.Agent:
			delete(open, e.Conversation())
		}
	}
	return open
}

// TestSkip: a generator that skipped to t yields the lines of one that did not, from the
// first filed at t or later, but for the re-published copies of the lines it skipped.
func TestSkip(t *testing.T) {
	cfg := synth.Config{Seed: 8, Shops: 10, SlowShops: 1, Start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Rate: 100}
	at := cfg.Start.Add(3 * time.Minute)
	full, skipped := synth.New(cfg), synth.New(cfg)
	if !skipped.Skip(at) || skipped.Skip(at) {
		t.Fatal("Skip did not drop the lines before t once, and only once")
	}
	before := map[string]bool{} // what full has before t, whose later copies skipped drops
	var f []byte
	for f = full.Next(); full.Now().Before(at); f = full.Next() {
		before[string(f)] = true
	}
	copies := 0
	for i := range 20000 {
		for before[string(f)] {
			copies++
			f = full.Next()
		}
		if s := skipped.Next(); string(s) != string(f) {
			t.Fatalf("line %d after the skip differs:\n skipped %s\n full    %s", i, s, f)
		}
		f = full.Next()
	}
	if copies == 0 {
		t.Error("no copy of a skipped line came after t: the test shows nothing")
	}
}

// TestShopPrefix: the shop ids are the prefix and a number; CheckShopPrefix refuses a
// prefix that makes invalid ids.
func TestShopPrefix(t *testing.T) {
	g := synth.New(synth.Config{Seed: 2, Shops: 3, ShopPrefix: "load-"})
	shops := map[string]bool{}
	for range 2000 {
		if e, r := event.Decode(event.Messages, g.Next()); r == event.OK {
			shops[e.Shop] = true
		}
	}
	for s := range shops {
		if s != "load-001" && s != "load-002" && s != "load-003" {
			t.Errorf("shop %q", s)
		}
	}
	for _, tc := range []struct {
		prefix string
		shops  int
		ok     bool
	}{{"load-", 10, true}, {"shop-", 1000, true}, {"a.b_c-", 1, true}, {"", 10, false}, {"load ", 10, false},
		{"商店-", 10, false}, {strings.Repeat("x", 61), 999, true}, {strings.Repeat("x", 61), 1000, false}} {
		if err := synth.CheckShopPrefix(tc.prefix, tc.shops); (err == nil) != tc.ok {
			t.Errorf("CheckShopPrefix(%q, %d) = %v", tc.prefix, tc.shops, err)
		}
	}
}
