package synth

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/pipeline/event"
	"github.com/cskpi/cskpi/pipeline/jsonl"
)

func testLogConfig(seed int64, records int) TestLogConfig {
	now := time.Date(2026, 3, 20, 9, 30, 0, 0, time.UTC)
	return TestLogConfig{Seed: seed, Records: records, Start: now.Add(-20 * 24 * time.Hour).Add(1234567891), Shops: 3, Now: now}
}

func TestTestLogDeterministic(t *testing.T) {
	a, b := TestLog(testLogConfig(5, 3000)), TestLog(testLogConfig(5, 3000))
	if len(a) != 3000 || len(b) != 3000 {
		t.Fatalf("got %d and %d lines, want 3000", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("line %d differs", i)
		}
	}
	c := TestLog(testLogConfig(6, 3000))
	same := 0
	for i := range a {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("seeds 5 and 6 give the same log")
	}
	if n := len(TestLog(testLogConfig(5, 10))); n < 200 {
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
	TestLog(cfg)
}

func TestTestLogContents(t *testing.T) {
	for _, seed := range []int64{1, 2, 3, 4} {
		cfg := testLogConfig(seed, 4000)
		cfg.Shops = int(seed) // clamped to 2..4
		ls := TestLog(cfg)
		outs := consume(t, ls, cfg.Now)
		checkTestLog(t, cfg, ls, outs)
	}
}

func checkTestLog(t *testing.T, cfg TestLogConfig, ls [][]byte, outs []outcome) {
	t.Helper()
	start := cfg.Start.UnixNano()

	// Every rejection reason, duplicates and spam.
	r := reasons(outs)
	for _, want := range event.Reasons {
		if r[want] < 2 {
			t.Errorf("seed %d: %d %s records: %v", cfg.Seed, r[want], want, r)
		}
	}
	var dups, spam int
	shops := map[string]bool{}
	buyers := map[string]bool{}
	for _, o := range outs {
		if o.dup {
			dups++
		}
		if o.spam {
			spam++
		}
		if o.applied() {
			shops[o.ev.Shop] = true
			if !strings.HasPrefix(o.ev.Buyer, "edge-") {
				buyers[o.ev.Conversation()] = true
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
		case o.reason == event.Malformed && bytes.Contains(ls[i], []byte(`"raw_b64"`)) && !strings.HasPrefix(string(o.rec.Value), "{"):
			notJSON = true
		case o.reason == event.Malformed && bytes.Contains(ls[i], []byte(`"amount":89.5`)):
			wrongType = true
		case o.reason == event.Malformed && strings.HasPrefix(string(o.rec.Value), "{") && !isUTF8(o.rec.Value):
			badUTF8 = true
		case o.reason == event.MissingField && bytes.Contains(ls[i], []byte(`null`)):
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
		if o.reason == event.TooOld && !o.dup {
			if !seen[convTopic{string(o.rec.Key), o.rec.Topic}] {
				t.Errorf("seed %d line %d: too_old before any applied record of %s", cfg.Seed, i, o.rec.Key)
			}
			if o.ev.TS > start-int64(39*24*time.Hour) {
				t.Errorf("seed %d line %d: too_old ts only %v before Start", cfg.Seed, i, time.Duration(start-o.ev.TS))
			}
		}
		if o.applied() {
			seen[convTopic{string(o.rec.Key), o.rec.Topic}] = true
			lo, hi = min(lo, o.ev.TS), max(hi, o.ev.TS)
		}
		if o.reason == event.Future && o.ev.TS < cfg.Now.Add(47*time.Hour).UnixNano() {
			t.Errorf("seed %d line %d: future ts %v", cfg.Seed, i, time.Unix(0, o.ev.TS))
		}
	}
	if lo < start || time.Duration(hi-lo) >= 10*24*time.Hour {
		t.Errorf("seed %d: valid ts span %v..%v", cfg.Seed, time.Unix(0, lo), time.Unix(0, hi))
	}

	// Per conversation, valid messages in ts order; duplicates are exact copies of an earlier
	// line, placed while the file's ts is at most 30 minutes past the original's.
	checkConversationOrder(t, outs)
	first := map[string]int{}
	var fileTS int64
	for i, o := range outs {
		if o.applied() {
			fileTS = max(fileTS, o.ev.TS)
		}
		if j, ok := first[string(ls[i])]; ok {
			if outs[j].reason == event.OK && fileTS-outs[j].ev.TS > int64(30*time.Minute) {
				t.Errorf("seed %d line %d: copy of line %d placed %v later", cfg.Seed, i, j, time.Duration(fileTS-outs[j].ev.TS))
			}
			continue
		}
		first[string(ls[i])] = i
		if o.dup {
			t.Errorf("seed %d line %d: duplicate id but not a copy of an earlier line", cfg.Seed, i)
		}
	}

	checkBoundaries(t, cfg, outs)
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "") == string(b) }

// checkBoundaries finds each boundary case in the applied records.
func checkBoundaries(t *testing.T, cfg TestLogConfig, outs []outcome) {
	t.Helper()
	const day = int64(24 * time.Hour)
	found := map[string]bool{}
	firstBuyer := map[string]int64{} // conversation -> first buyer message ts
	lastBuyer := map[string]int64{}  // conversation -> latest buyer message ts
	firstMsgLine := map[string]int{} // conversation -> line of its first message
	paidLine := map[string][]int64{} // conversation -> ts of payments filed before any message
	for i, o := range outs {
		if !o.applied() {
			continue
		}
		e := o.ev
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
	for _, l := range TestLog(testLogConfig(9, 1000)) {
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
	for _, seed := range []int64{11, 12, 13} {
		cfg := testLogConfig(seed, 5000)
		ls := TestLog(cfg)
		want := consume(t, ls, cfg.Now)
		const parts = 4
		type tp struct {
			topic event.Topic
			part  int
		}
		queues := map[tp][]int{}
		var order []tp
		for i, o := range want {
			h := 0
			for _, c := range o.rec.Key {
				h = h*31 + int(c)
			}
			q := tp{o.rec.Topic, (h%parts + parts) % parts}
			if _, ok := queues[q]; !ok {
				order = append(order, q)
			}
			queues[q] = append(queues[q], i)
		}
		rng := New(Config{Seed: seed}).rng
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
					got := outcome{reason: w.reason}
					if w.reason == event.OK || w.reason == event.TooOld || w.reason == event.Future {
						got.reason = event.OK
						k := seenKey{q, w.ev.ID}
						if ts, ok := seen[k]; ok && partStream[q] <= ts+int64(time.Hour) {
							got.dup = true
						} else if w.ev.Spam {
							got.spam = true
							seen[k] = w.ev.TS
						} else if got.reason = w.ev.CheckTime(stream, have, cfg.Now.UnixNano()); got.reason == event.OK {
							seen[k] = w.ev.TS
							stream = max(stream, w.ev.TS)
							partStream[q] = max(partStream[q], w.ev.TS)
							have = true
						}
					}
					if got.reason != w.reason || got.dup != w.dup || got.spam != w.spam {
						t.Fatalf("seed %d round %d line %d: %+v in file order, %+v interleaved\n%s", seed, round, i,
							[]any{w.reason, w.dup, w.spam}, []any{got.reason, got.dup, got.spam}, ls[i])
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
