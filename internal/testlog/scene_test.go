package testlog

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/traffic/synth"
)

// decodesScene says event.Decode reads the scene of a buyer message, rejecting a bad one.
func decodesScene() bool {
	_, r := event.Decode(event.Messages, []byte(`{"event_id":"e1","shop_id":"s1","buyer_id":"b1","sender":"buyer",`+
		`"scene":"refund","ts":"2025-06-01T08:00:00Z"}`))
	return r != event.OK
}

// sender is the sender a record value names, read apart from event.Decode (which rejects
// some of them).
func sender(value []byte) string {
	var v struct {
		Sender json.RawMessage `json:"sender"`
	}
	if json.Unmarshal(value, &v) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(v.Sender, &s) != nil {
		return ""
	}
	return s
}

// TestTestLogScenesAndPayments: the logs hold every spelling of the scene, valid or not, on
// buyer messages and elsewhere, after-sale chats after orders, and every case of
// cskpi_orders_created_paid_24h: paid within 24 h and later (at the boundaries), twice,
// never, and read before the order_created (by days under Disorder).
func TestTestLogScenesAndPayments(t *testing.T) {
	for _, tc := range []struct {
		name     string
		seed     int64
		disorder bool
	}{
		{"in order", 21, false},
		{"in order, another seed", 22, false},
		{"disorder", 23, true},
		{"disorder, another seed", 24, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testLogConfig(tc.seed, 5000)
			cfg.Disorder = tc.disorder
			ls := Lines(cfg)
			outs := Consume(t, ls, cfg.Now)
			t.Run("scenes", func(t *testing.T) { checkScenes(t, outs) })
			t.Run("payments", func(t *testing.T) { checkPayments(t, outs, tc.disorder) })
		})
	}
}

func checkScenes(t *testing.T, outs []Outcome) {
	buyer := map[string]int{}  // applied buyer messages by their scene as written ("" absent)
	shop := map[string]int{}   // applied agent and auto messages by their scene
	faults := map[string]int{} // buyer messages with a bad scene, by "scene reason"
	orderedBefore := map[string]int64{}
	afterOrder, afterChats := 0, 0
	for _, o := range outs {
		if o.Applied() && o.Ev.Topic == event.Orders {
			if ts, ok := orderedBefore[o.Ev.Conversation()]; !ok || o.Ev.TS < ts {
				orderedBefore[o.Ev.Conversation()] = o.Ev.TS
			}
		}
	}
	for _, o := range outs {
		if o.Rec.Topic != event.Messages {
			continue
		}
		scene, _ := RawScene(o.Rec.Value)
		valid := scene == "" || scene == `"presale"` || scene == `"aftersale"` || scene == "null"
		switch {
		case sender(o.Rec.Value) == "buyer" && !valid:
			faults[scene+" "+string(o.Reason)]++
			if decodesScene() {
				want := event.InvalidValue
				if !strings.HasPrefix(scene, `"`) {
					want = event.Malformed
				}
				if o.Reason != want {
					t.Errorf("buyer message with scene %s: %q, want %q", scene, o.Reason, want)
				}
			}
		case !o.Applied():
		case o.Ev.Sender == event.Buyer:
			buyer[scene]++
			if scene == `"aftersale"` && !strings.HasPrefix(o.Ev.Buyer, "edge-") {
				afterChats++
				if ts, ok := orderedBefore[o.Ev.Conversation()]; ok && ts < o.Ev.TS {
					afterOrder++
				}
			}
		default:
			shop[scene]++
		}
	}
	t.Logf("buyer messages by scene %v; agent and auto %v; scene faults %v; %d of %d random after-sale messages after an order of theirs",
		buyer, shop, faults, afterOrder, afterChats)
	for _, s := range []string{"", `"presale"`, "null", `"aftersale"`} {
		if buyer[s] < 2 {
			t.Errorf("%d applied buyer messages with scene %q", buyer[s], s)
		}
	}
	for _, s := range []string{`"refund"`, "7", `"aftersale"`, `"presale"`} {
		if shop[s] == 0 {
			t.Errorf("no applied agent or auto message with scene %s (ignored there)", s)
		}
	}
	n := 0
	for _, c := range faults {
		n += c
	}
	if n < len(synth.BadScenes)+len(synth.BadSceneTypes) {
		t.Errorf("%d buyer messages with a bad scene: %v", n, faults)
	}
	if !decodesScene() {
		t.Log("event.Decode does not read the scene yet: the bad scenes' outcomes are not checked")
	}
	if afterOrder == 0 || afterChats < len(outs)/100 {
		t.Errorf("%d random after-sale buyer messages, %d of them after an order of their conversation", afterChats, afterOrder)
	}
}

func checkPayments(t *testing.T, outs []Outcome, disorder bool) {
	const day = int64(24 * time.Hour)
	type order struct {
		created int64 // 0 while no order_created is read
		paid    []int64
		ids     []string
	}
	orders := map[string]*order{}
	for _, o := range outs {
		if !o.Applied() {
			continue
		}
		e := o.Ev
		if e.Kind != event.OrderCreated && e.Kind != event.OrderPaid {
			continue
		}
		k := e.Shop + "/" + e.OrderID
		od := orders[k]
		if od == nil {
			od = &order{}
			orders[k] = od
		}
		if e.Kind == event.OrderCreated {
			od.created = e.TS
			continue
		}
		od.paid = append(od.paid, e.TS)
		od.ids = append(od.ids, e.ID)
	}
	found := map[string]int{}
	for _, o := range orders {
		if len(o.ids) > 1 {
			found["paid twice"]++
		}
		if o.created == 0 {
			continue
		}
		if len(o.paid) == 0 {
			found["never paid"]++
			continue
		}
		within := false
		for _, p := range o.paid {
			d := p - o.created
			switch {
			case d == day:
				found["paid at created+24h"]++
			case d == day+1:
				found["paid at created+24h+1ns"]++
			case d == 0:
				found["paid at created"]++
			case d == -1:
				found["paid 1ns before created"]++
			}
			within = within || d >= 0 && d <= day
		}
		if within {
			found["paid within 24h"]++
			if len(o.paid) > 1 {
				found["paid twice, within 24h"]++
			}
		} else {
			found["paid, not within 24h"]++
		}
	}
	// Read before the order_created: in consumption order.
	seen := map[string]int64{} // order -> stream time at its first order_paid, while no order_created was read
	created := map[string]bool{}
	var stream int64
	for _, o := range outs {
		if !o.Applied() {
			continue
		}
		stream = max(stream, o.Ev.TS)
		k := o.Ev.Shop + "/" + o.Ev.OrderID
		switch o.Ev.Kind {
		case event.OrderPaid:
			if _, ok := seen[k]; !ok && !created[k] {
				seen[k] = stream
			}
		case event.OrderCreated:
			created[k] = true
			if s, ok := seen[k]; ok {
				found["paid read before created"]++
				if stream-s > day {
					found["paid read over a day before created"]++
				}
			}
		}
	}
	t.Logf("%v", found)
	want := []string{"paid at created+24h", "paid at created+24h+1ns", "paid at created", "paid 1ns before created",
		"paid within 24h", "paid, not within 24h", "never paid", "paid twice", "paid twice, within 24h", "paid read before created"}
	if disorder {
		want = append(want, "paid read over a day before created")
	}
	for _, w := range want {
		if found[w] == 0 {
			t.Errorf("no order %s", w)
		}
	}
}
