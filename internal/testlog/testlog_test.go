package testlog

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
)

func testLogConfig(seed int64, records int) Config {
	now := time.Date(2026, 3, 20, 9, 30, 0, 0, time.UTC)
	return Config{Seed: seed, Records: records, Start: now.Add(-20 * 24 * time.Hour).Add(1234567891), Shops: 3, Now: now}
}

func TestTestLogDeterministic(t *testing.T) {
	a, b := Lines(testLogConfig(5, 3000)), Lines(testLogConfig(5, 3000))
	if len(a) != 3000 || len(b) != 3000 {
		t.Fatalf("got %d and %d lines, want 3000", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("line %d differs", i)
		}
	}
	c := Lines(testLogConfig(6, 3000))
	same := 0
	for i := range a {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("seeds 5 and 6 give the same log")
	}
	if n := len(Lines(testLogConfig(5, 10))); n < 200 {
		t.Errorf("a tiny log has %d lines, want all fixed scenarios", n)
	}
}

func TestTestLogStartTooLate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a Start 11 days before Now")
		}
	}()
	cfg := testLogConfig(1, 100)
	cfg.Start = cfg.Now.Add(-11 * 24 * time.Hour)
	Lines(cfg)
}

func TestTestLogContents(t *testing.T) {
	for _, seed := range []int64{1, 2, 3, 4} {
		cfg := testLogConfig(seed, 4000)
		cfg.Shops = int(seed) // clamped to 2..4
		ls := Lines(cfg)
		outs := Consume(t, ls, cfg.Now)
		checkTestLog(t, cfg, ls, outs)
	}
}

func checkTestLog(t *testing.T, cfg Config, ls [][]byte, outs []Outcome) {
	t.Helper()
	start := cfg.Start.UnixNano()

	// Every rejection reason, duplicates and spam.
	r := Reasons(outs)
	for _, want := range event.Reasons {
		if r[want] < 2 {
			t.Errorf("seed %d: %d %s records: %v", cfg.Seed, r[want], want, r)
		}
	}
	var dups, spam int
	shops := map[string]bool{}
	buyers := map[string]bool{}
	for _, o := range outs {
		if o.Dup {
			dups++
		}
		if o.Spam {
			spam++
		}
		if o.Applied() {
			shops[o.Ev.Shop] = true
			if !strings.HasPrefix(o.Ev.Buyer, "edge-") {
				buyers[o.Ev.Conversation()] = true
			}
		}
	}
	if dups < len(ls)/50 || spam < 10 {
		t.Errorf("seed %d: %d duplicates, %d spam in %d lines", cfg.Seed, dups, spam, len(ls))
	}
	if len(shops) < 2 || len(shops) > 4 {
		t.Errorf("seed %d: %d shops", cfg.Seed, len(shops))
	}
	if len(buyers) > 16 {
		t.Errorf("seed %d: %d random conversations, want few", cfg.Seed, len(buyers))
	}

	// Malformed records of every kind: not JSON (raw), wrong type, invalid UTF-8.
	var notJSON, wrongType, badUTF8, null bool
	for i, o := range outs {
		switch {
		case o.Reason == event.Malformed && bytes.Contains(ls[i], []byte(`"raw_b64"`)) && !strings.HasPrefix(string(o.Rec.Value), "{"):
			notJSON = true
		case o.Reason == event.Malformed && bytes.Contains(ls[i], []byte(`"amount":89.5`)):
			wrongType = true
		case o.Reason == event.Malformed && strings.HasPrefix(string(o.Rec.Value), "{") && !isUTF8(o.Rec.Value):
			badUTF8 = true
		case o.Reason == event.MissingField && bytes.Contains(ls[i], []byte(`null`)):
			null = true
		}
	}
	if !notJSON || !wrongType || !badUTF8 || !null {
		t.Errorf("seed %d: not JSON %v, amount as number %v, invalid UTF-8 %v, null %v", cfg.Seed, notJSON, wrongType, badUTF8, null)
	}

	// too_old only after an applied record of its conversation and topic; valid ts in 10 days.
	type convTopic struct {
		conv  string
		topic event.Topic
	}
	seen := map[convTopic]bool{}
	var lo, hi int64 = 1 << 62, 0
	for i, o := range outs {
		if o.Reason == event.TooOld && !o.Dup {
			if !seen[convTopic{string(o.Rec.Key), o.Rec.Topic}] {
				t.Errorf("seed %d line %d: too_old before any applied record of %s", cfg.Seed, i, o.Rec.Key)
			}
			if o.Ev.TS > start-int64(39*24*time.Hour) {
				t.Errorf("seed %d line %d: too_old ts only %v before Start", cfg.Seed, i, time.Duration(start-o.Ev.TS))
			}
		}
		if o.Applied() {
			seen[convTopic{string(o.Rec.Key), o.Rec.Topic}] = true
			lo, hi = min(lo, o.Ev.TS), max(hi, o.Ev.TS)
		}
		if o.Reason == event.Future && o.Ev.TS < cfg.Now.Add(47*time.Hour).UnixNano() {
			t.Errorf("seed %d line %d: future ts %v", cfg.Seed, i, time.Unix(0, o.Ev.TS))
		}
	}
	if lo < start || time.Duration(hi-lo) >= 10*24*time.Hour {
		t.Errorf("seed %d: valid ts span %v..%v", cfg.Seed, time.Unix(0, lo), time.Unix(0, hi))
	}

	// Per conversation, valid messages in ts order; duplicates are exact copies of an earlier
	// line, placed while the file's ts is at most 30 minutes past the original's.
	CheckConversationOrder(t, outs)
	first := map[string]int{}
	var fileTS int64
	for i, o := range outs {
		if o.Applied() {
			fileTS = max(fileTS, o.Ev.TS)
		}
		if j, ok := first[string(ls[i])]; ok {
			if outs[j].Reason == event.OK && fileTS-outs[j].Ev.TS > int64(30*time.Minute) {
				t.Errorf("seed %d line %d: copy of line %d placed %v later", cfg.Seed, i, j, time.Duration(fileTS-outs[j].Ev.TS))
			}
			continue
		}
		first[string(ls[i])] = i
		if o.Dup {
			t.Errorf("seed %d line %d: duplicate id but not a copy of an earlier line", cfg.Seed, i)
		}
	}

	checkBoundaries(t, cfg, outs)
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "") == string(b) }

// checkBoundaries finds each boundary case in the applied records.
func checkBoundaries(t *testing.T, cfg Config, outs []Outcome) {
	t.Helper()
	const day = int64(24 * time.Hour)
	found := map[string]bool{}
	firstBuyer := map[string]int64{} // conversation -> first buyer message ts
	lastBuyer := map[string]int64{}  // conversation -> latest buyer message ts
	firstMsgLine := map[string]int{} // conversation -> line of its first message
	paidLine := map[string][]int64{} // conversation -> ts of payments filed before any message
	for i, o := range outs {
		if !o.Applied() {
			continue
		}
		e := o.Ev
		k := e.Conversation()
		if m := (e.TS - 16*3600e9) % day; m == 0 || m == 1 || m == day-1 {
			found["midnight"+[...]string{"", "+1ns"}[min(m, 1)]] = true
			if m == day-1 {
				found["midnight-1ns"] = true
			}
		}
		if e.Topic == event.Orders {
			if e.Kind == event.OrderPaid {
				if _, ok := firstMsgLine[k]; !ok {
					paidLine[k] = append(paidLine[k], e.TS)
				}
				if t0, ok := firstBuyer[k]; ok {
					switch e.TS - t0 {
					case 2 * day:
						found["paid t0+48h"] = true
					case 2*day + 1:
						found["paid t0+48h+1ns"] = true
					}
				}
			}
			continue
		}
		if _, ok := firstMsgLine[k]; !ok {
			firstMsgLine[k] = i
			for _, ts := range paidLine[k] {
				if ts >= e.TS {
					found["paid filed before its chat"] = true
				}
			}
		}
		switch e.Sender {
		case event.Buyer:
			if prev, ok := lastBuyer[k]; ok && e.TS-prev > 2*day {
				found["buyer >48h later"] = true
			}
			if _, ok := firstBuyer[k]; !ok {
				firstBuyer[k] = e.TS
			}
			lastBuyer[k] = e.TS
		case event.Agent:
			if t0, ok := lastBuyer[k]; ok {
				switch d := e.TS - t0; {
				case d == day:
					found["reply 24h"] = true
				case d == day+1:
					found["reply 24h+1ns"] = true
				case d > 2*day:
					found["reply >48h"] = true
				}
			}
		}
	}
	for _, want := range []string{"midnight", "midnight-1ns", "midnight+1ns", "paid t0+48h", "paid t0+48h+1ns",
		"paid filed before its chat", "buyer >48h later", "reply 24h", "reply 24h+1ns", "reply >48h"} {
		if !found[want] {
			t.Errorf("seed %d: no %q case", cfg.Seed, want)
		}
	}
	if cfg.Seed == 1 {
		t.Logf("boundary cases found: %v", found)
	}
}

func TestTestLogLinesParse(t *testing.T) {
	var n int
	for _, l := range Lines(testLogConfig(9, 1000)) {
		if _, err := jsonl.Parse(l); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1000 {
		t.Fatalf("%d lines", n)
	}
}

// TestTestLogInterleavings consumes the log partition by partition in several interleavings,
// with the streaming path's rules (duplicates remembered per topic-partition, too_old against
// the global stream time), and checks every line gets the outcome it gets in file order.
func TestTestLogInterleavings(t *testing.T) {
	for _, seed := range []int64{11, 12, 13, 14, 15} {
		cfg := testLogConfig(seed, 5000)
		cfg.Disorder = seed > 13
		ls := Lines(cfg)
		want := Consume(t, ls, cfg.Now)
		const parts = 4
		type tp struct {
			topic event.Topic
			part  int
		}
		queues := map[tp][]int{}
		var order []tp
		for i, o := range want {
			h := 0
			for _, c := range o.Rec.Key {
				h = h*31 + int(c)
			}
			q := tp{o.Rec.Topic, (h%parts + parts) % parts}
			if _, ok := queues[q]; !ok {
				order = append(order, q)
			}
			queues[q] = append(queues[q], i)
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 0))
		for round := 0; round < 6; round++ {
			type seenKey struct {
				q  tp
				id string
			}
			seen := map[seenKey]int64{}
			partStream := map[tp]int64{}
			var stream int64
			have := false
			pos := map[tp]int{}
			left := len(ls)
			for left > 0 {
				// Rounds 0 and 1 drain one topic first; the others interleave at random.
				q := drainFirst(order, func(c tp) bool { return pos[c] < len(queues[c]) }, round,
					func(c tp) bool { return c.topic == event.Orders }, rng)
				n := 1 + rng.IntN(50)
				for ; n > 0 && pos[q] < len(queues[q]); n-- {
					i := queues[q][pos[q]]
					pos[q]++
					left--
					w := want[i]
					got := Outcome{Reason: w.Reason}
					if w.Reason == event.OK || w.Reason == event.TooOld || w.Reason == event.Future {
						got.Reason = event.OK
						k := seenKey{q, w.Ev.ID}
						// The service's rule: anchored at the topic-partition's stream time.
						anchor := max(w.Ev.TS, partStream[q])
						if a, ok := seen[k]; ok && partStream[q] <= a+int64(time.Hour) {
							got.Dup = true
						} else if w.Ev.Spam {
							got.Spam = true
							seen[k] = anchor
						} else if got.Reason = w.Ev.CheckTime(stream, have, cfg.Now.UnixNano()); got.Reason == event.OK {
							seen[k] = anchor
							stream = max(stream, w.Ev.TS)
							partStream[q] = max(partStream[q], w.Ev.TS)
							have = true
						}
					}
					if got.Reason != w.Reason || got.Dup != w.Dup || got.Spam != w.Spam {
						t.Fatalf("seed %d round %d line %d: %+v in file order, %+v interleaved\n%s", seed, round, i,
							[]any{w.Reason, w.Dup, w.Spam}, []any{got.Reason, got.Dup, got.Spam}, ls[i])
					}
				}
			}
		}
	}
}

// drainFirst picks the next queue to read: in round 0 orders before messages, in round 1
// messages before orders, otherwise any at random.
func drainFirst[T any](qs []T, ready func(T) bool, round int, isOrders func(T) bool, rng *rand.Rand) T {
	var readyQs []T
	for _, c := range qs {
		if ready(c) {
			readyQs = append(readyQs, c)
		}
	}
	if round < 2 {
		for _, c := range readyQs {
			if isOrders(c) == (round == 0) {
				return c
			}
		}
		return readyQs[0]
	}
	return readyQs[rng.IntN(len(readyQs))]
}
