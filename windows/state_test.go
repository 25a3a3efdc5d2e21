package windows

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
)

// base is a Thursday 10:00:00 UTC, far from local midnight in Shanghai (18:00).
var testBase = time.Date(2026, 11, 19, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) int64 { return testBase.Add(d).UnixNano() }

func testConfig(t *testing.T) Config {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return Config{Location: loc, Thresholds: []int64{15000, 180000}}
}

type evOpt func(*event.Event)

func msg(id string, sender event.Sender, d time.Duration, opts ...evOpt) event.Event {
	e := event.Event{Topic: event.Messages, ID: id, Shop: "s1", Buyer: "b1", TS: at(d), Sender: sender}
	if sender != event.Buyer {
		e.Agent = "a1"
	}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func order(id string, kind event.Kind, d time.Duration, fen int64, opts ...evOpt) event.Event {
	e := event.Event{Topic: event.Orders, ID: id, Shop: "s1", Buyer: "b1", TS: at(d), Kind: kind, OrderID: "o-" + id, AmountFen: fen}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func buyer(b string) evOpt       { return func(e *event.Event) { e.Buyer = b } }
func scene(sc event.Scene) evOpt { return func(e *event.Event) { e.Scene = sc } }
func orderID(id string) evOpt    { return func(e *event.Event) { e.OrderID = id } }
func agent(a string) evOpt       { return func(e *event.Event) { e.Agent = a } }

// run applies events in order with stream time advancing and returns the series at a.
func run(t *testing.T, evs []event.Event, a int64) map[string]float64 {
	t.Helper()
	cfg := testConfig(t)
	p := NewPartition(0, cfg)
	clk := Clock{Wall: time.Now().Add(24 * 365 * time.Hour).UnixNano()}
	for i := range evs {
		if out, r := p.Admit(&evs[i], &clk); out == Rejected {
			t.Fatalf("event %d rejected: %s", i, r)
		}
	}
	tot := NewTotals(cfg, a)
	tot.Add(p)
	out := map[string]float64{}
	for _, s := range tot.Series() {
		out[s.Key()] = s.Value
	}
	return out
}

// key is a series of shop s1; of the pre-sale scene for a family with the scene label.
func key(id kpi.ID, window string) string { return skey(id, window, event.Presale) }

func skey(id kpi.ID, window string, sc event.Scene) string {
	l := kpi.Labels{Shop: "s1", Window: window}
	if id.Family().Scene {
		l.Scene = sc.String()
	}
	return kpi.Series{Name: id.Name(), Labels: l}.Key()
}

func akey(id kpi.ID, agent, window string) string {
	return kpi.Series{Name: id.Name(), Labels: kpi.Labels{Shop: "s1", Agent: agent, Window: window}}.Key()
}

func TestEpisodesAndWindows(t *testing.T) {
	for _, tc := range []struct {
		name string
		evs  []event.Event
		a    int64
		want map[string]float64
	}{
		{
			name: "reply closes the episode from its first unanswered message",
			evs: []event.Event{
				msg("1", event.Buyer, 0), msg("2", event.Buyer, 5*time.Second),
				msg("3", event.Auto, 6*time.Second), msg("4", event.Agent, 20*time.Second),
			},
			a: at(time.Minute),
			want: map[string]float64{
				key(kpi.Responses, "15m"): 1, key(kpi.ResponseTimeSum, "15m"): 20,
				key(kpi.BuyerMessages, "15m"): 2, key(kpi.BuyerMessagesReplied, "24h"): 2,
				key(kpi.AutoMessages, "24h"): 1, key(kpi.HumanMessages, "24h"): 1,
				akey(kpi.AgentResponses, "a1", "15m"): 1, akey(kpi.AgentBuyersServed, "a1", "24h"): 1,
				key(kpi.WaitingConversations, ""): 0,
			},
		},
		{
			name: "15m window edge: the minute 14 before A counts, 15 before does not",
			evs: []event.Event{
				msg("1", event.Buyer, 0), msg("2", event.Agent, time.Second),
				msg("3", event.Buyer, 15*time.Minute), msg("4", event.Agent, 15*time.Minute+time.Second),
			},
			a: at(29*time.Minute + 59*time.Second),
			want: map[string]float64{
				key(kpi.Responses, "15m"): 1, key(kpi.Responses, "24h"): 2, key(kpi.Responses, "28d"): 2,
			},
		},
		{
			name: "late update lands in the bucket of the item's time",
			evs: []event.Event{
				msg("1", event.Buyer, 0),
				msg("2", event.Agent, 20*time.Hour),
			},
			a: at(20 * time.Hour),
			want: map[string]float64{
				key(kpi.BuyerMessagesReplied, "24h"): 1, key(kpi.BuyerMessages, "15m"): 0,
				key(kpi.Responses, "15m"): 1, key(kpi.ResponseTimeSum, "15m"): 72000,
				key(kpi.InquiriesReplied, "24h"): 1,
			},
		},
		{
			name: "reply after 48 h gives no sample, buyer after 48 h abandons",
			evs: []event.Event{
				msg("1", event.Buyer, 0),
				msg("2", event.Buyer, 48*time.Hour+time.Nanosecond),
				msg("3", event.Agent, 48*time.Hour+time.Second),
				msg("4", event.Buyer, 50*time.Hour),
				msg("5", event.Agent, 98*time.Hour+time.Nanosecond),
			},
			a: at(99 * time.Hour),
			want: map[string]float64{
				key(kpi.Responses, "28d"): 1, key(kpi.ResponseTimeSum, "28d"): 0.999,
				key(kpi.BuyerMessagesReplied, "28d"): 1,
			},
		},
		{
			name: "waiting gauges at A",
			evs: []event.Event{
				msg("1", event.Buyer, 0, buyer("b1")),
				msg("2", event.Buyer, 10*time.Second, buyer("b2")),
			},
			a: at(30 * time.Second),
			want: map[string]float64{
				key(kpi.WaitingConversations, ""): 2, key(kpi.WaitingOldest, ""): 30,
			},
		},
		{
			name: "payment before the chat still guides the cohort",
			evs: []event.Event{
				order("p1", event.OrderPaid, time.Hour, 8900),
				msg("1", event.Buyer, 0), msg("2", event.Agent, time.Minute, agent("a2")),
			},
			a: at(2 * time.Hour),
			want: map[string]float64{
				key(kpi.Inquiries, "24h"): 1, key(kpi.InquiriesReplied, "24h"): 1,
				key(kpi.InquiriesGuided, "24h"): 1, key(kpi.GuidedGMV, "24h"): 89,
				akey(kpi.AgentInquiriesGuided, "a2", "24h"): 1, akey(kpi.AgentGuidedGMV, "a2", "28d"): 89,
				key(kpi.PaidGMV, "24h"): 89, key(kpi.OrdersPaid, "24h"): 1,
			},
		},
		{
			name: "an episode opened after-sale and continued pre-sale: the sample is after-sale, the inquiry starts pre-sale",
			evs: []event.Event{
				msg("1", event.Buyer, 0, scene(event.Aftersale)), msg("2", event.Buyer, 10*time.Second),
				msg("3", event.Agent, 30*time.Second),
			},
			a: at(time.Minute),
			want: map[string]float64{
				// The second message continues the after-sale episode: the sample (30 s) is
				// after-sale, each message counts in its own scene, and the pre-sale one opens
				// the inquiry with t0 = 10 s, first response 30 − 10 = 20 s.
				skey(kpi.Responses, "15m", event.Aftersale): 1, skey(kpi.ResponseTimeSum, "15m", event.Aftersale): 30,
				skey(kpi.Responses, "15m", event.Presale):       0,
				skey(kpi.BuyerMessages, "15m", event.Aftersale): 1, skey(kpi.BuyerMessages, "15m", event.Presale): 1,
				skey(kpi.BuyerMessagesReplied, "24h", event.Aftersale): 1, skey(kpi.BuyerMessagesReplied48h, "24h", event.Presale): 1,
				key(kpi.Inquiries, "24h"): 1, key(kpi.FirstResponseTimeSum, "15m"): 20,
				kpi.Series{Name: kpi.ResponsesWithin.Name(), Labels: kpi.Labels{Shop: "s1", Window: "15m", Scene: "aftersale", Le: "15"}}.Key():  0,
				kpi.Series{Name: kpi.ResponsesWithin.Name(), Labels: kpi.Labels{Shop: "s1", Window: "15m", Scene: "aftersale", Le: "180"}}.Key(): 1,
			},
		},
		{
			name: "a reply 30 h later is within 48 h, not 24 h; a day with only after-sale messages is no inquiry; waiting is the episode's scene",
			evs: []event.Event{
				msg("1", event.Buyer, 0, scene(event.Aftersale)), msg("2", event.Agent, 30*time.Hour),
				msg("3", event.Buyer, 31*time.Hour, scene(event.Aftersale)),
				msg("4", event.Buyer, 31*time.Hour+20*time.Second, buyer("b2")),
			},
			a: at(31*time.Hour + time.Minute),
			want: map[string]float64{
				skey(kpi.BuyerMessagesReplied, "28d", event.Aftersale): 0, skey(kpi.BuyerMessagesReplied48h, "28d", event.Aftersale): 1,
				skey(kpi.WaitingConversations, "", event.Aftersale): 1, skey(kpi.WaitingOldest, "", event.Aftersale): 60,
				skey(kpi.WaitingConversations, "", event.Presale): 1, skey(kpi.WaitingOldest, "", event.Presale): 40,
				key(kpi.Inquiries, "28d"): 1,
			},
		},
		{
			name: "催付: a payment before its order's creation event counts, a second payment does not count again",
			evs: []event.Event{
				order("p1", event.OrderPaid, 2*time.Hour, 100, orderID("A")),
				order("c1", event.OrderCreated, time.Hour, 100, orderID("A")),
				order("p2", event.OrderPaid, 3*time.Hour, 100, orderID("A")),
				order("c2", event.OrderCreated, time.Hour, 100, orderID("B")),
				order("p3", event.OrderPaid, 25*time.Hour+time.Millisecond, 100, orderID("B")),
				order("c3", event.OrderCreated, 5*time.Hour, 100, orderID("C")),
				order("p4", event.OrderPaid, 4*time.Hour, 100, orderID("C")),
				order("c4", event.OrderCreated, 6*time.Hour, 100, orderID("D")),
				order("p5", event.OrderPaid, 30*time.Hour, 100, orderID("D")),
				order("p6", event.OrderPaid, 30*time.Hour, 100, orderID("D")),
				order("p7", event.OrderPaid, 29*time.Hour, 100, orderID("D")),
			},
			a: at(31 * time.Hour),
			want: map[string]float64{
				// A: paid 1 h after creation (applied first, then again): 1. B: paid 24 h + 1 ms
				// after: no. C: paid before created.ts: no. D: paid 23 h after, applied after
				// two late ones: 1.
				key(kpi.OrdersCreated, "28d"): 4, key(kpi.OrdersCreatedPaid24h, "28d"): 2,
				key(kpi.OrdersCreatedPaid24h, "24h"): 0, key(kpi.OrdersPaid, "28d"): 7,
			},
		},
		{
			name: "payment exactly 48 h after t0 counts, one ns later does not",
			evs: []event.Event{
				msg("1", event.Buyer, 0), msg("2", event.Agent, time.Minute),
				order("p1", event.OrderPaid, 48*time.Hour, 100),
				order("p2", event.OrderPaid, 48*time.Hour+time.Nanosecond, 200),
			},
			a: at(49 * time.Hour),
			want: map[string]float64{
				key(kpi.InquiriesGuided, "28d"): 1, key(kpi.GuidedGMV, "28d"): 1,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.evs, tc.a)
			for k, want := range tc.want {
				v, ok := got[k]
				if !ok {
					t.Errorf("%s: missing", k)
					continue
				}
				if v != want {
					t.Errorf("%s = %v, want %v", k, v, want)
				}
			}
		})
	}
}

func TestDuplicatesAndTime(t *testing.T) {
	p := NewPartition(0, testConfig(t))
	clk := Clock{Wall: at(time.Hour)}
	e := msg("x", event.Buyer, 0)
	outcomes := []Outcome{}
	for _, ev := range []event.Event{e, e, msg("later", event.Buyer, 61*time.Minute), e} {
		o, _ := p.Admit(&ev, &clk)
		outcomes = append(outcomes, o)
	}
	want := []Outcome{Applied, Duplicate, Applied, Applied}
	if fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Errorf("outcomes %v, want %v (a copy more than 1 h of stream time later is applied again)", outcomes, want)
	}
	future := msg("f", event.Buyer, time.Hour+10*time.Minute+1)
	if o, r := p.Admit(&future, &clk); o != Rejected || r != event.Future {
		t.Errorf("future: %v %v", o, r)
	}
	old := msg("o", event.Buyer, 61*time.Minute-event.MaxAge-1)
	if o, r := p.Admit(&old, &clk); o != Rejected || r != event.TooOld {
		t.Errorf("too old: %v %v", o, r)
	}
}

// TestExpiryDropsOnlyWhatCannotMatter: state goes only when the too-old horizon or the
// conversation's own later messages rule out every record that could change it, however far
// the partition's topics have moved on (CONTRACT §1 allows orders days late and conversations
// interleaved out of ts order).
func TestExpiryDropsOnlyWhatCannotMatter(t *testing.T) {
	cfg := testConfig(t)
	d := func(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }
	beyond := func(h float64) int64 { return at(d(h)) + int64(event.MaxAge) + 1 } // stream that makes ts=h too old
	type step struct {
		evs    []event.Event
		stream int64 // expire with this stream time after the events (0: no expiry)
		check  func(t *testing.T, p *Partition)
	}
	conv := func(p *Partition, b string) *conv { return p.convs["s1/"+b] }
	tests := []struct {
		name  string
		steps []step
		want  map[string]float64 // series at the end, as-of the last stream time
	}{
		{
			name: "a replied cohort waits for payments until they would be too old, not for the orders topic",
			steps: []step{
				{evs: []event.Event{msg("1", event.Buyer, 0), msg("2", event.Agent, time.Minute),
					msg("x", event.Buyer, d(60), buyer("b9")), order("o", event.OrderCreated, d(60), 1, buyer("b9"))},
					stream: at(d(60)), check: func(t *testing.T, p *Partition) {
						if c := conv(p, "b1"); c == nil || len(c.cohorts) != 1 {
							t.Fatal("replied cohort dropped while a payment for it may still come")
						}
					}},
				{evs: []event.Event{order("p", event.OrderPaid, d(47), 500)}},
				{stream: beyond(48), check: func(t *testing.T, p *Partition) {
					if c := conv(p, "b1"); c != nil {
						t.Errorf("b1 kept although any record that could change it is too old: %+v", c)
					}
				}},
			},
			want: map[string]float64{key(kpi.InquiriesGuided, "28d"): 1, key(kpi.GuidedGMV, "28d"): 5},
		},
		{
			name: "an order waits for its payment until one within 24 h of its creation would be too old",
			steps: []step{
				{evs: []event.Event{order("c", event.OrderCreated, 0, 1, orderID("A"))}, stream: beyond(23.9), check: func(t *testing.T, p *Partition) {
					if c := conv(p, "b1"); c == nil || len(c.orders) != 1 {
						t.Fatal("order dropped while a payment within 24 h of it may still come")
					}
				}},
				{evs: []event.Event{order("p", event.OrderPaid, d(23.95), 1, orderID("A"))}, stream: beyond(23.99), check: func(t *testing.T, p *Partition) {
					// Counted; the creation stays so that a second payment does not count it again.
					if c := conv(p, "b1"); c == nil || len(c.orders) != 2 {
						t.Fatal("a counted order dropped while another payment for it may still come")
					}
				}},
				// Untouched conversations are walked once the horizon has moved an hour.
				{stream: beyond(25), check: func(t *testing.T, p *Partition) {
					if c := conv(p, "b1"); c != nil {
						t.Errorf("b1 kept although no payment could pair with its order any more: %+v", c)
					}
				}},
			},
		},
		{
			name: "an unreplied cohort goes once the conversation's messages pass its reply horizon",
			steps: []step{
				{evs: []event.Event{msg("1", event.Buyer, 0)}, stream: at(d(100)), check: func(t *testing.T, p *Partition) {
					if len(conv(p, "b1").cohorts) != 1 {
						t.Fatal("unreplied cohort dropped while a reply could still be in time")
					}
				}},
				{evs: []event.Event{msg("2", event.Buyer, d(49)), msg("3", event.Agent, d(49)+time.Minute)},
					stream: at(d(100)), check: func(t *testing.T, p *Partition) {
						if cs := conv(p, "b1").cohorts; len(cs) != 1 || cs[0].t0 != at(d(49)) {
							t.Errorf("cohorts %+v, want only the replied one of t0=49h", cs)
						}
					}},
			},
			want: map[string]float64{key(kpi.Inquiries, "28d"): 2, key(kpi.InquiriesReplied, "28d"): 1},
		},
		{
			name: "a payment waits for a late chat until the conversation's messages pass it",
			steps: []step{
				{evs: []event.Event{order("p", event.OrderPaid, d(10), 700), msg("x", event.Buyer, d(100), buyer("b9"))},
					stream: at(d(100)), check: func(t *testing.T, p *Partition) {
						if c := conv(p, "b1"); c == nil || len(c.orders) != 1 {
							t.Fatal("payment dropped while a chat before it may still come")
						}
					}},
				{evs: []event.Event{msg("1", event.Buyer, d(9)), msg("2", event.Agent, d(9.1)), msg("3", event.Buyer, d(11))},
					stream: at(d(100))},
			},
			want: map[string]float64{key(kpi.InquiriesGuided, "28d"): 1, key(kpi.GuidedGMV, "28d"): 7},
		},
		{
			name: "an unanswered episode stays until a reply to it would be too old",
			steps: []step{
				{evs: []event.Event{msg("1", event.Buyer, 0)}, stream: beyond(48) - 1, check: func(t *testing.T, p *Partition) {
					if !conv(p, "b1").open {
						t.Fatal("episode dropped while a late reply within 48 h may still come")
					}
				}},
				// Conversations no record touched are walked once the horizon has moved
				// by an hour since the last walk: later, never earlier.
				{stream: beyond(48) + int64(time.Hour), check: func(t *testing.T, p *Partition) {
					if c := conv(p, "b1"); c != nil && c.open {
						t.Error("episode kept an hour past the too-old horizon")
					}
				}},
			},
		},
		{
			name: "a buyers-served marker goes once the conversation is a local day past it",
			steps: []step{
				{evs: []event.Event{msg("1", event.Agent, 0)}, stream: at(d(200)), check: func(t *testing.T, p *Partition) {
					if len(conv(p, "b1").served) != 1 {
						t.Fatal("marker dropped while a same-day reply may still come")
					}
				}},
				{evs: []event.Event{msg("2", event.Agent, d(26)+1)}, stream: at(d(200)), check: func(t *testing.T, p *Partition) {
					if sv := conv(p, "b1").served; len(sv) != 1 || sv[0].ts != at(d(26)+1) {
						t.Errorf("markers %+v, want only the later day's", sv)
					}
				}},
			},
			want: map[string]float64{akey(kpi.AgentBuyersServed, "a1", "24h"): 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPartition(0, cfg)
			clk := Clock{Wall: at(10000 * time.Hour)}
			var last int64
			for _, st := range tc.steps {
				for i := range st.evs {
					if o, r := p.Admit(&st.evs[i], &clk); o != Applied {
						t.Fatalf("event %s: %v %v", st.evs[i].ID, o, r)
					}
				}
				if st.stream != 0 {
					// The as-of time stays at the data so that the windows still show it;
					// only the stream time that sets the too-old horizon runs ahead.
					last = max(last, st.stream)
					p.Expire(clk.Stream, streamAt(last))
				}
				if st.check != nil {
					st.check(t, p)
				}
			}
			if tc.want == nil {
				return
			}
			tot := NewTotals(cfg, clk.Stream)
			tot.Add(p)
			got := map[string]float64{}
			for _, s := range tot.Series() {
				got[s.Key()] = s.Value
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}

	// An update into a deleted bucket is dropped rather than resurrecting it.
	p := NewPartition(0, cfg)
	clk := Clock{Wall: at(1000 * time.Hour)}
	first := msg("1", event.Buyer, 0)
	p.Admit(&first, &clk)
	p.Expire(at(25*time.Hour), streamAt(at(25*time.Hour)))
	before := len(p.blocks)
	p.add(p.owners.id("s1", ""), at(0), kpi.BuyerMessages, 1)
	if _, ok := p.blocks[blockKey{resMinute, MinuteOf(at(0))}]; ok || len(p.blocks) != before {
		t.Errorf("late update resurrected an expired bucket")
	}
}

func TestCodecRoundTrip(t *testing.T) {
	c := &conv{open: true, last: 100, start: 5, msgs: []int64{5, 9, 9, 100},
		cohorts:   []cohort{{date: 20000, t0: 5, replied: true, agent: "a:1", nPaid: 2, fen: 12345}},
		orders:    []orderEvent{{ts: 7, fen: 100, paid: true}, {id: "o", ts: 6}, {id: "o", ts: 7, fen: 100, paid: true}},
		served:    []served{{agent: "a:1", date: 20000, ts: 8}},
		lastAgent: "a:1"}
	replies := []reply{{"a:1", 8}, {"b", 9}}
	got, gotReplies, err := decodeConv(encodeConv(c, replies))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", c) || fmt.Sprint(gotReplies) != fmt.Sprint(replies) {
		t.Errorf("round trip:\n got %+v %v\nwant %+v %v", got, gotReplies, c, replies)
	}
	tab := newOwners()
	want := map[owner][]int64{{"s", ""}: {0, 1, -1, 1 << 40}, {"s", "a:1"}: {7}}
	b := vecs{}
	for o, v := range want {
		b[tab.id(o.shop, o.agent)] = v
	}
	gotB := map[owner][]int64{}
	if _, err := walkBlock(encodeVecs(&tab, b), nil, func(shop, agent []byte, v []int64) {
		gotB[owner{string(shop), string(agent)}] = slices.Clone(v)
	}); err != nil || fmt.Sprint(gotB) != fmt.Sprint(want) {
		t.Errorf("block round trip: %v %v", gotB, err)
	}
	var ids []string
	blob := appendID(appendID(nil, "x", -5), "日本", 1<<60)
	if err := forEachID(blob, func(id string, ts int64) { ids = append(ids, fmt.Sprint(id, ts)) }); err != nil || fmt.Sprint(ids) != fmt.Sprint([]string{"x-5", fmt.Sprint("日本", int64(1<<60))}) {
		t.Errorf("id blob: %v %v", ids, err)
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0, 0, 0, 0}, {1, 1, 0, 200}} {
		if _, _, err := decodeConv(bad); err == nil {
			t.Errorf("decodeConv(%v) accepted corrupt input", bad)
		}
	}
	k := blockKey{resHour, -3}
	if got, err := parseBlockField(blockField(k)); err != nil || got != k {
		t.Errorf("bucket field round trip: %+v %v", got, err)
	}
}

func TestCardinalityCapsFoldIntoOther(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxShops, cfg.MaxAgents = 3, 2
	p := NewPartition(0, cfg)
	clk := Clock{Wall: at(1000 * time.Hour)}
	for i := range 6 {
		shop := fmt.Sprint("s", i)
		// Shop i gets i+1 buyer messages, so s5 is the most active.
		for j := range i + 1 {
			e := event.Event{Topic: event.Messages, ID: fmt.Sprint(i, "-", j), Shop: shop, Buyer: "b", TS: at(time.Duration(j) * time.Second), Sender: event.Buyer}
			p.Admit(&e, &clk)
		}
		e := event.Event{Topic: event.Messages, ID: fmt.Sprint(i, "-r"), Shop: shop, Buyer: "b", TS: at(time.Minute), Sender: event.Agent, Agent: "a"}
		p.Admit(&e, &clk)
	}
	tot := NewTotals(cfg, at(time.Hour))
	tot.Add(p)
	shops, agents := map[string]float64{}, map[string]bool{}
	for _, s := range tot.Series() {
		if s.Name == kpi.BuyerMessages.Name() && s.Window == kpi.W24h && s.Scene == "presale" {
			shops[s.Shop] = s.Value
		}
		if s.Agent != "" {
			agents[s.Shop+"/"+s.Agent] = true
		}
	}
	want := map[string]float64{"s5": 6, "s4": 5, Other: 1 + 2 + 3 + 4}
	if fmt.Sprint(shops) != fmt.Sprint(want) {
		t.Errorf("shops %v, want %v", shops, want)
	}
	// One real agent is kept; the others fold into their shop's agent="_other", so sums
	// by shop stay exact and agent series stay within max-agents - 1 + shops.
	real := 0
	for a := range agents {
		if !strings.HasSuffix(a, "/"+Other) {
			real++
		}
	}
	if real != 1 || len(agents) > cfg.MaxAgents-1+cfg.MaxShops {
		t.Errorf("agents %v: want 1 real agent and the rest folded", agents)
	}
	if fs, fa := tot.Folded(); fs != 4 || fa == 0 {
		t.Errorf("folded %d shops %d agents", fs, fa)
	}
}

// streamAt is a clock whose stream time is ts.
func streamAt(ts int64) Clock { return Clock{Stream: ts, HasTime: true} }

// TestConversationGoesWithItsLastRecentReply: a conversation whose other state has expired
// while a reply of it is still recent is deleted once that reply ages out, not kept empty.
func TestConversationGoesWithItsLastRecentReply(t *testing.T) {
	p := NewPartition(0, testConfig(t))
	clk := Clock{Wall: at(10000 * time.Hour)}
	r := msg("1", event.Agent, 0)
	p.Admit(&r, &clk)
	// The too-old horizon is past the buyers-served marker; the reply is still recent at A.
	p.Expire(at(5*time.Minute), streamAt(at(27*time.Hour)+int64(event.MaxAge)))
	if c := p.convs["s1/b1"]; c == nil || !c.empty() || len(p.recent[c]) != 1 {
		t.Fatalf("want an otherwise empty conversation holding its recent reply: %+v", c)
	}
	p.Expire(at(16*time.Minute), streamAt(at(27*time.Hour)+int64(event.MaxAge)))
	if _, ok := p.convs["s1/b1"]; ok || len(p.recent) != 0 || len(p.deletedC) != 1 {
		t.Errorf("conversation kept after its last recent reply aged out: %d convs, %d recent, deleted %v", len(p.convs), len(p.recent), p.deletedC)
	}
}
