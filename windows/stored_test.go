package windows

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/windows/kpi"
)

// vec is one stored vector of a test bucket.
type vec struct {
	shop, agent string
	v           []int64
}

// encodeBlock encodes a bucket as every layout stored it: count, then (shop, agent, vector)*.
func encodeBlock(vs ...vec) []byte {
	w := writer{}
	w.uvarint(uint64(len(vs)))
	for _, x := range vs {
		w.str(x.shop)
		w.str(x.agent)
		w.uvarint(uint64(len(x.v)))
		for _, n := range x.v {
			w.varint(n)
		}
	}
	return w.b
}

// seq gives 1000+i at position i, so that every stored position is told apart.
func seqVector(n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(1000 + i)
	}
	return v
}

// vectorOf is the restored vector of (shop, agent) in bucket k, nil if none.
func vectorOf(p *Partition, k blockKey, shop, agent string) []int64 {
	b := p.blocks[k]
	if b == nil {
		return nil
	}
	return p.vectors(k, b)[p.owners.id(shop, agent)]
}

// valueOf is the value of family id (a Shortfall: the business-time sum itself) in v.
func valueOf(p *Partition, v []int64, id kpi.ID) int64 {
	f := id.Family()
	if f.Kind == kpi.Shortfall {
		return v[p.lay.slot[f.Base]] - v[p.lay.slot[id]]
	}
	return v[p.lay.slot[id]]
}

// TestRestoreEarlierLayouts: the stored vectors of layouts 1 to 5 land on the families
// those builds placed them at, with the business-time sums turned into shortfalls, and the
// families a layout lacked start empty with their since time.
func TestRestoreEarlierLayouts(t *testing.T) {
	cfg := testConfig(t) // thresholds 15 s, 3 min
	newest := at(5 * time.Hour)
	k := blockKey{resMinute, MinuteOf(at(time.Hour))}
	firstTable := []kpi.ID{kpi.BuyerMessages, kpi.BuyerMessagesReplied, kpi.HumanMessages, kpi.AutoMessages,
		kpi.Responses, kpi.ResponseTimeSum, kpi.Inquiries, kpi.InquiriesReplied, kpi.InquiriesGuided,
		kpi.GuidedGMV, kpi.OrdersCreated, kpi.OrdersPaid, kpi.PaidGMV, kpi.RefundsDisputed,
		kpi.RefundsCompleted, kpi.RefundsByMerchant, kpi.RefundDurationSum}
	firstAgents := []kpi.ID{kpi.AgentResponses, kpi.AgentResponseTimeSum, kpi.AgentMessages,
		kpi.AgentBuyersServed, kpi.AgentInquiriesReplied, kpi.AgentInquiriesGuided, kpi.AgentGuidedGMV}
	lacking12 := []kpi.ID{kpi.FirstResponses, kpi.FirstResponseTimeSum, kpi.FirstResponseBusinessTimeSum,
		kpi.AgentFirstResponses, kpi.AgentFirstResponseTimeSum, kpi.AgentBuyerMessagesAnswered, kpi.AgentBuyersActive}
	for _, tc := range []struct {
		version       int
		shopN, agentN int // counters before the activity
		lacking       []kpi.ID
	}{
		{1, 17, 7, lacking12},
		{2, 17, 7, lacking12},
		{3, 21, 11, nil},
		{4, 21, 11, nil},
		{5, 21, 11, nil},
	} {
		t.Run("layout"+strconv.Itoa(tc.version), func(t *testing.T) {
			// Stored thresholds: 3 min and 60 s; configured now: 15 s and 3 min.
			shopV, agentV := seqVector(tc.shopN+1+2), seqVector(tc.agentN+1)
			st := &Stored{
				Meta: map[string]string{"v": strconv.Itoa(tc.version), "thr": "180000,60000", "seq": "7",
					"wm:m": strconv.FormatInt(newest, 10), "wm:o": strconv.FormatInt(at(time.Hour), 10), "off:cs.messages": "42"},
				Buckets: []Field{{blockField(k), encodeBlock(vec{"s1", "", shopV}, vec{"s1", "a1", agentV})}},
			}
			p := NewPartition(0, cfg)
			if err := p.Restore(st); err != nil {
				t.Fatal(err)
			}
			shop, agent := vectorOf(p, k, "s1", ""), vectorOf(p, k, "s1", "a1")
			if len(shop) != p.lay.shopLen || len(agent) != p.lay.agentLen {
				t.Fatalf("restored lengths %d, %d; want %d, %d", len(shop), len(agent), p.lay.shopLen, p.lay.agentLen)
			}
			for i, id := range firstTable {
				if got := shop[p.lay.slot[id]]; got != int64(1000+i) {
					t.Errorf("%s = %d, want stored position %d", id, got, i)
				}
			}
			for i, id := range firstAgents {
				if got := agent[p.lay.slot[id]]; got != int64(1000+i) {
					t.Errorf("%s = %d, want stored position %d", id, got, i)
				}
			}
			if shop[p.lay.shopActivity] != int64(1000+tc.shopN) || agent[p.lay.agentActivity] != int64(1000+tc.agentN) {
				t.Errorf("activity %d, %d", shop[p.lay.shopActivity], agent[p.lay.agentActivity])
			}
			thr := p.lay.slot[kpi.ResponsesWithin]
			if shop[thr] != 0 || shop[thr+1] != int64(1000+tc.shopN+1) {
				t.Errorf("responses_within 15 s = %d (new: 0), 3 min = %d (stored first)", shop[thr], shop[thr+1])
			}
			if tc.version >= 3 {
				// Layouts 3 and 4 stored the business-time sums, layout 5 their shortfall.
				value := func(v []int64, id kpi.ID) int64 {
					if tc.version == 5 {
						return v[p.lay.slot[id]]
					}
					return valueOf(p, v, id)
				}
				for i, id := range []kpi.ID{kpi.FirstResponses, kpi.FirstResponseTimeSum, kpi.ResponseBusinessTimeSum, kpi.FirstResponseBusinessTimeSum} {
					if got := value(shop, id); got != int64(1017+i) {
						t.Errorf("%s = %d, want %d", id, got, 1017+i)
					}
				}
				for i, id := range []kpi.ID{kpi.AgentFirstResponses, kpi.AgentFirstResponseTimeSum, kpi.AgentResponseBusinessTimeSum, kpi.AgentBuyerMessagesAnswered} {
					if got := value(agent, id); got != int64(1007+i) {
						t.Errorf("%s = %d, want %d", id, got, 1007+i)
					}
				}
			} else {
				// Layouts 1 and 2 had no business hours: the business-time sum is the sum.
				if got, want := valueOf(p, shop, kpi.ResponseBusinessTimeSum), shop[p.lay.slot[kpi.ResponseTimeSum]]; got != want {
					t.Errorf("business-time sum %d, want the calendar sum %d", got, want)
				}
				if got, want := valueOf(p, agent, kpi.AgentResponseBusinessTimeSum), agent[p.lay.slot[kpi.AgentResponseTimeSum]]; got != want {
					t.Errorf("agent business-time sum %d, want the calendar sum %d", got, want)
				}
				for _, id := range []kpi.ID{kpi.FirstResponses, kpi.FirstResponseTimeSum} {
					if v := shop[p.lay.slot[id]]; v != 0 {
						t.Errorf("%s = %d, want 0 (the layout lacked it)", id, v)
					}
				}
			}
			got := map[kpi.ID]int64{}
			p.Since(func(id kpi.ID, ts int64) { got[id] = ts })
			want := map[kpi.ID]int64{kpi.ResponsesWithin: newest} // the new 15 s threshold
			for _, id := range tc.lacking {
				want[id] = newest
			}
			for _, id := range newerThanLayout5() {
				want[id] = newest
			}
			if !maps.Equal(got, want) {
				t.Errorf("since %v, want %v", got, want)
			}
			if p.Seq != 7 || p.Offsets["cs.messages"] != 42 || p.Watermark(event.Messages) != newest {
				t.Errorf("seq %d offsets %v wm %d", p.Seq, p.Offsets, p.Watermark(event.Messages))
			}
			// The next commit rewrites the bucket in this build's layout and describes it.
			cs := p.Changes(map[string]int64{"cs.messages": 43})
			meta := map[string]string{}
			for _, f := range cs.Meta {
				meta[f.Name] = string(f.Value)
			}
			if meta["v"] != strconv.Itoa(layoutVersion) || meta["shop"] != joinSlots(p.lay.shop) || meta["agent"] != joinSlots(p.lay.agent) ||
				meta["since:cskpi_responses_within"] != strconv.FormatInt(newest, 10) {
				t.Errorf("meta of the first commit: %v", meta)
			}
			if len(cs.Buckets) != 1 {
				t.Errorf("%d buckets rewritten, want 1", len(cs.Buckets))
			}
		})
	}
}

// newerThanLayout5 are the bucketed families added since layout 5: every earlier layout
// lacks them.
func newerThanLayout5() []kpi.ID {
	var out []kpi.ID
	shop5, agent5 := legacySlots(5)
	for _, f := range kpi.Families() {
		if (f.Kind == kpi.Counter || f.Kind == kpi.Shortfall) && !slices.Contains(shop5, plainSlot(f)) && !slices.Contains(agent5, plainSlot(f)) {
			out = append(out, f.ID)
		}
	}
	return out
}

// plainSlot is f's slot name as layouts without scenes wrote it.
func plainSlot(f kpi.Family) string {
	plain, _ := withoutScene(counterSlot(f, event.Presale))
	return plain
}

// TestRestoreEarlierConversations: every conversation encoding still decodes, and codec 1's
// missing last message time is taken from what the conversation holds.
func TestRestoreEarlierConversations(t *testing.T) {
	c := &conv{last: at(3 * time.Minute), open: true, start: at(time.Minute), msgs: []int64{at(time.Minute), at(2 * time.Minute)},
		cohorts:   []cohort{{date: 20411, t0: at(time.Minute), agent: "a1", nPaid: 1, fen: 500}},
		served:    []served{{agent: "a1", date: 20411, ts: at(90 * time.Second)}},
		lastAgent: "a1", scene: event.Aftersale, after: &[]uint64{0b10},
		orders: []orderEvent{{ts: at(time.Hour), fen: 500, paid: true}, // a payment of codecs 1 to 4: no order id
			{id: "o1", ts: at(time.Hour)}, {id: "o1", ts: at(2 * time.Hour), fen: 700, paid: true}}}
	replies := []reply{{agent: "a1", ts: at(90 * time.Second)}}
	if !slices.Equal(encodeConvAs(c, replies, codecVersion), encodeConv(c, replies)) {
		t.Fatal("encodeConvAs does not write this build's codec as encodeConv does")
	}
	for version := 1; version <= codecVersion; version++ {
		t.Run("codec"+strconv.Itoa(version), func(t *testing.T) {
			got, gotReplies, err := decodeConv(encodeConvAs(c, replies, version))
			if err != nil {
				t.Fatal(err)
			}
			want := *c
			wantReplies := replies
			if version < 5 {
				want.scene, want.after, want.orders = event.Presale, nil, c.orders[:1] // only the payment
			}
			if version < 4 {
				want.lastAgent = ""
			}
			if version < 3 {
				wantReplies = nil
			}
			if version < 2 {
				want.last = at(2 * time.Minute) // the latest message it holds
			}
			if got.last != want.last || got.lastAgent != want.lastAgent || got.open != want.open ||
				!slices.Equal(got.msgs, want.msgs) || !slices.Equal(got.cohorts, want.cohorts) ||
				!slices.Equal(got.served, want.served) ||
				!slices.Equal(gotReplies, wantReplies) || got.scene != want.scene ||
				!slices.Equal(got.afterBits(), want.afterBits()) || !slices.Equal(got.orders, want.orders) {
				t.Errorf("decoded %+v %v, want %+v %v", got, gotReplies, want, wantReplies)
			}
		})
	}
	if _, _, err := decodeConv(encodeConvAs(c, replies, codecVersion+1)); !errors.Is(err, errNewerCodec) {
		t.Errorf("a newer codec: %v, want errNewerCodec", err)
	}
}

// encodeConvAs encodes c as the builds of conversation codec version wrote it (codec.go's
// history: 2 added the last message time after the version, 3 the recent replies and 4 the
// last agent at the end); a version above this build's appends a field it does not know.
func encodeConvAs(c *conv, replies []reply, version int) []byte {
	w := writer{}
	w.uvarint(uint64(version))
	if version >= 2 {
		w.varint(c.last)
	}
	w.convBody(c)
	if version >= 3 {
		w.replies(replies)
	}
	if version >= 4 {
		w.str(c.lastAgent)
	}
	if version >= 5 {
		w.scenesAndOrders(c)
	}
	if version > codecVersion {
		w.b = append(w.b, 0x7f)
	}
	return w.b
}

// TestRestoreRefuses: what this build cannot read is refused with the reason, never taken
// for something else.
func TestRestoreRefuses(t *testing.T) {
	cfg := testConfig(t)
	l := newLayout(cfg.Thresholds)
	k := blockKey{resMinute, MinuteOf(at(time.Hour))}
	good := func() *Stored {
		return &Stored{
			Meta: map[string]string{"v": strconv.Itoa(layoutVersion), "seq": "3", "shop": joinSlots(l.shop), "agent": joinSlots(l.agent)},
			Buckets: []Field{{blockField(k), encodeBlock(vec{"s1", "", seqVector(l.shopLen)},
				vec{"s1", "a1", seqVector(l.agentLen)})}},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*Stored)
		reason string
	}{
		{"layout from the future", func(s *Stored) { s.Meta["v"] = strconv.Itoa(layoutVersion + 1) }, RefusedNewer},
		{"unknown family", func(s *Stored) { s.Meta["shop"] += ",cskpi_future_family" }, RefusedNewer},
		{"unknown qualifier", func(s *Stored) { s.Meta["shop"] += ",cskpi_buyer_messages{channel=app}" }, RefusedNewer},
		{"unknown scene", func(s *Stored) { s.Meta["shop"] += ",cskpi_buyer_messages{scene=refund}" }, RefusedNewer},
		{"scene on a family without it", func(s *Stored) { s.Meta["shop"] += ",cskpi_human_messages{scene=presale}" }, RefusedNewer},
		{"unknown meta field", func(s *Stored) { s.Meta["orders"] = "1" }, RefusedNewer},
		{"since of an unknown family", func(s *Stored) { s.Meta["since:cskpi_future_family"] = "1" }, RefusedNewer},
		{"newer conversation codec", func(s *Stored) {
			s.Convs = []Field{{"s1/b1", encodeConvAs(&conv{}, nil, codecVersion+1)}}
		}, RefusedNewer},
		{"no version", func(s *Stored) { delete(s.Meta, "v") }, RefusedDamaged},
		{"version not a number", func(s *Stored) { s.Meta["v"] = "six" }, RefusedDamaged},
		{"no slot names", func(s *Stored) { delete(s.Meta, "agent") }, RefusedDamaged},
		{"garbage bucket", func(s *Stored) { s.Buckets[0].Value = []byte{0xff, 0xff, 0x01} }, RefusedDamaged},
		{"vector of another length", func(s *Stored) {
			s.Buckets[0].Value = encodeBlock(vec{"s1", "", seqVector(l.shopLen - 1)})
		}, RefusedDamaged},
		{"garbage conversation", func(s *Stored) { s.Convs = []Field{{"s1/b1", []byte{4, 1}}} }, RefusedDamaged},
		{"garbage ids", func(s *Stored) { s.IDs = []Field{{"m|5|1", []byte{0x80}}} }, RefusedDamaged},
		{"bad offset", func(s *Stored) { s.Meta["off:cs.messages"] = "x" }, RefusedDamaged},
		{"state without meta", func(s *Stored) { s.Meta = map[string]string{} }, RefusedDamaged},
		{"slot twice", func(s *Stored) { s.Meta["agent"] += ",cskpi_agent_messages" }, RefusedDamaged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			if err := NewPartition(0, cfg).Restore(s); err != nil {
				t.Fatalf("the unchanged state: %v", err)
			}
			s = good()
			tc.change(s)
			err := NewPartition(0, cfg).Restore(s)
			var se *StateError
			if !errors.As(err, &se) || se.Reason != tc.reason || se.Partition != 0 {
				t.Fatalf("Restore = %v, want a StateError of reason %s", err, tc.reason)
			}
		})
	}
}

// TestLayoutSixRoundTrip: a partition written by this build reads back unchanged, keeps its
// buckets encoded (no rewrite), and keeps the since times of an upgrade across restarts.
func TestLayoutSixRoundTrip(t *testing.T) {
	rds := testenv.StartRedis(t, testenv.RedisOptions{})
	ctx := context.Background()
	cfg := testConfig(t)
	st := NewStore(rds.Client(t), "rt")
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	p := NewPartition(0, cfg)
	clk := Clock{Wall: at(1000 * time.Hour)}
	for i, e := range []event.Event{msg("1", event.Buyer, 0), msg("2", event.Agent, 20*time.Second)} {
		p.Admit(&e, &clk)
		if err := commitTo(ctx, st, p, map[string]int64{"cs.messages": int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	again := NewPartition(0, cfg)
	if err := st.Load(ctx, again); err != nil {
		t.Fatal(err)
	}
	if again.layoutDirty || again.Changed() || len(again.since) != 0 {
		t.Errorf("reloaded: layout dirty %v, changed %v, since %v; want none", again.layoutDirty, again.Changed(), again.since)
	}
	for k, b := range again.blocks {
		if b.dec != nil {
			t.Errorf("bucket %v decoded on load; want kept as stored", k)
		}
	}
	a := at(time.Hour)
	if got, want := snapshotOf(cfg, again, a), snapshotOf(cfg, p, a); got != want {
		t.Errorf("reloaded state differs:\n got %s\nwant %s", got, want)
	}

	// A new threshold starts empty; its since survives the next restart.
	cfg2 := cfg
	cfg2.Thresholds = []int64{15000, 60000, 180000}
	up := NewPartition(0, cfg2)
	if err := st.Load(ctx, up); err != nil {
		t.Fatal(err)
	}
	wantSince := map[kpi.ID]int64{kpi.ResponsesWithin: at(20 * time.Second)}
	if !maps.Equal(up.since, wantSince) || !up.layoutDirty {
		t.Fatalf("since %v dirty %v, want %v and a layout to write", up.since, up.layoutDirty, wantSince)
	}
	if err := commitTo(ctx, st, up, map[string]int64{"cs.messages": 2}); err != nil {
		t.Fatal(err)
	}
	later := NewPartition(0, cfg2)
	if err := st.Load(ctx, later); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(later.since, wantSince) || later.layoutDirty {
		t.Errorf("after a restart: since %v dirty %v, want %v and nothing to write", later.since, later.layoutDirty, wantSince)
	}
	if got, want := snapshotOf(cfg2, later, a), snapshotOf(cfg2, up, a); got != want {
		t.Errorf("after the threshold change:\n got %s\nwant %s", got, want)
	}
}

// vectors gives the decoded bucket, decoding a cold one in place.
func (p *Partition) vectors(k blockKey, b *bucket) vecs {
	if b.dec == nil {
		d := vecs{}
		p.eachVector(b, func(id ownerID, v []int64) { d[id] = slices.Clone(v) })
		b.dec = d
		p.decoded[k] = struct{}{}
	}
	return b.dec
}
