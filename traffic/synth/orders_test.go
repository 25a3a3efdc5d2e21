package synth_test

import (
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/internal/testlog"
	"github.com/cskpi/cskpi/traffic/synth"
)

// orderSeen is what a generated log says about one order, in consumption (file) order.
type orderSeen struct {
	conv          string
	convs         int     // conversations its events name
	created       int64   // ts of its order_created; 0 while none is read
	createdLine   int     // line of the order_created
	createdStream int64   // the file's stream time when the order_created was read
	paid          []int64 // ts of its order_paid records, in file order
	paidLine      int     // line of the first order_paid
	paidStream    int64   // the file's stream time at the first order_paid
}

// readOrders reads the orders of a log by (shop, order_id), as a consumer reading it in
// order sees them.
func readOrders(outs []testlog.Outcome) map[string]*orderSeen {
	orders := map[string]*orderSeen{}
	var stream int64
	for i, o := range outs {
		if !o.Applied() {
			continue
		}
		e := o.Ev
		stream = max(stream, e.TS)
		if e.Topic != event.Orders {
			continue
		}
		id := e.Shop + "/" + e.OrderID
		od := orders[id]
		if od == nil {
			od = &orderSeen{conv: e.Conversation(), convs: 1}
			orders[id] = od
		}
		if od.conv != e.Conversation() {
			od.convs++
		}
		switch e.Kind {
		case event.OrderCreated:
			od.created, od.createdLine, od.createdStream = e.TS, i, stream
		case event.OrderPaid:
			if len(od.paid) == 0 {
				od.paidLine, od.paidStream = i, stream
			}
			od.paid = append(od.paid, e.TS)
		}
	}
	return orders
}

// createdPaid counts the orders created in the log by what cskpi_orders_created_paid_24h
// makes of them: an order_paid in [created.ts, created.ts+24h], only outside it, or none.
func createdPaid(orders map[string]*orderSeen) (within, later, never int) {
	for _, o := range orders {
		if o.created == 0 {
			continue
		}
		in, out := false, false
		for _, p := range o.paid {
			if p >= o.created && p <= o.created+int64(24*time.Hour) {
				in = true
			} else {
				out = true
			}
		}
		switch {
		case in:
			within++
		case out:
			later++
		default:
			never++
		}
	}
	return within, later, never
}

// TestGeneratorOrders: orders are paid within 24 h of their creation, later or never; some
// payments are re-published with a new event_id; some are read before their order_created,
// by up to days; an order's events are its buyer's.
func TestGeneratorOrders(t *testing.T) {
	start := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	// A low rate, so that the lines span two days and more: payments after 24 h, order_created
	// records filed days late.
	cfg := synth.Config{Seed: 11, Shops: 6, SlowShops: 2, Start: start, Rate: 1}
	g := synth.New(cfg)
	outs := testlog.Consume(t, lines(g, 200000), start.Add(60*24*time.Hour))
	orders := readOrders(outs)
	st := g.Stats()
	t.Logf("%+v", st)

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"an order's events carry its buyer", func(t *testing.T) {
			for id, o := range orders {
				if o.convs != 1 {
					t.Fatalf("order %s has events of %d conversations", id, o.convs)
				}
			}
		}},
		{"created_paid: within 24 h, later, never", func(t *testing.T) {
			within, later, never := createdPaid(orders)
			created := within + later + never
			t.Logf("of %d orders created: %d paid within 24 h, %d only later, %d never (in the log)", created, within, later, never)
			if within < created*3/4 || later == 0 || never == 0 {
				t.Errorf("of %d orders created: %d paid within 24 h, %d only later, %d never", created, within, later, never)
			}
		}},
		{"payments re-published with a new event_id", func(t *testing.T) {
			twice, paid := 0, 0
			for _, o := range orders {
				if len(o.paid) > 0 {
					paid++
				}
				if len(o.paid) > 1 {
					twice++
				}
			}
			t.Logf("%d of %d paid orders paid twice (%.3f)", twice, paid, float64(twice)/float64(paid))
			if twice == 0 || twice > paid/20 {
				t.Errorf("%d of %d paid orders paid twice", twice, paid)
			}
		}},
		{"payments read before their order_created", func(t *testing.T) {
			early, days, paid := 0, 0, 0
			for _, o := range orders {
				if len(o.paid) == 0 {
					continue
				}
				paid++
				if o.created != 0 && o.createdLine > o.paidLine {
					early++
					if o.createdStream-o.paidStream > int64(24*time.Hour) {
						days++
					}
				}
			}
			t.Logf("%d of %d paid orders read before their order_created (%.3f), %d of them over a day of stream time before",
				early, paid, float64(early)/float64(paid), days)
			if early == 0 || days == 0 || early > paid/10 {
				t.Errorf("%d of %d paid orders read before their order_created, %d by over a day", early, paid, days)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.check)
	}
}
