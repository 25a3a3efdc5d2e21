package synth

import (
	"strings"

	"github.com/cskpi/cskpi/pipeline/event"
	"github.com/cskpi/cskpi/pipeline/jsonl"
)

// Variant counts per content reason; breakRecord takes the variant modulo these, so callers
// can walk them all (the test log) or draw at random (the generator).
const (
	malformedVariants    = 9
	missingFieldVariants = 7
	invalidValueVariants = 8
	oversizeVariants     = 2
)

// breakRecord turns the valid object o into the line of a record a consumer must reject for
// the content reason r (oversize, malformed, missing_field, invalid_value). The record keeps
// o's topic and conversation key, so it lands on the partition of the conversation it claims
// to belong to, as a producer's broken record would. The caller gives o a fresh event_id.
func breakRecord(o obj, r event.Reason, variant int) []byte {
	key := o.key()
	topic := o.topicOf()
	o = o.clone().set("key", key)
	typ, _ := o.get("type")
	sender, _ := o.get("sender")
	switch r {
	case event.Oversize:
		if variant%oversizeVariants == 0 {
			// Valid in every other respect: size alone must reject it.
			return o.set("note", strings.Repeat("x", event.MaxRecordBytes+512)).bytes()
		}
		// Several faults at once: oversize ranks first.
		return jsonl.Raw(topic, key, []byte("{"+strings.Repeat("\xff", event.MaxRecordBytes+1)))

	case event.Malformed:
		switch variant % malformedVariants {
		case 0:
			return jsonl.Raw(topic, key, []byte("event_id=broken; shop_id="+key))
		case 1:
			b := o.del("key").del("topic").bytes()
			return jsonl.Raw(topic, key, b[:len(b)/2])
		case 2:
			return jsonl.Raw(topic, key, append(append([]byte("["), o.del("key").del("topic").bytes()...), ']'))
		case 3:
			buyer, _ := o.get("buyer_id")
			return jsonl.Raw(topic, key, o.del("key").del("topic").set("buyer_id", buyer+"\xff\xfe").bytes())
		case 4:
			switch {
			case typ == "order_created" || typ == "order_paid":
				return o.setLit("amount", "89.5").bytes()
			case topic == event.Orders:
				return o.setLit("order_id", "20240501").bytes()
			default:
				return o.set("spam", "false").bytes()
			}
		case 5:
			return o.setLit("ts", "1714528800").bytes()
		case 6:
			return o.setLit("shop_id", "1001").bytes()
		case 7:
			return jsonl.Raw(topic, key, nil)
		default:
			return jsonl.Raw(topic, key, []byte(`"order_paid"`))
		}

	case event.MissingField:
		switch variant % missingFieldVariants {
		case 0:
			return o.del("ts").bytes()
		case 1:
			return o.setLit("buyer_id", "null").bytes()
		case 2:
			return o.set("event_id", "").bytes()
		case 3:
			if topic == event.Messages {
				return o.del("sender").bytes()
			}
			return o.del("type").bytes()
		case 4:
			switch {
			case sender == "agent" || sender == "auto":
				return o.del("agent_id").bytes()
			case topic == event.Messages:
				return o.del("shop_id").bytes()
			case typ == "order_created" || typ == "order_paid":
				return o.setLit("amount", "null").bytes()
			case typ == "refund_completed":
				return o.del("refund_requested_at").bytes()
			default:
				return o.del("refund_id").bytes()
			}
		case 5:
			if topic == event.Orders {
				return o.del("order_id").bytes()
			}
			return o.set("shop_id", "").bytes()
		default:
			// Missing outranks invalid.
			if topic == event.Messages {
				return o.del("ts").set("sender", "customer").bytes()
			}
			return o.del("ts").set("type", "order_shipped").bytes()
		}

	case event.InvalidValue:
		switch variant % invalidValueVariants {
		case 0:
			if topic == event.Messages {
				return o.set("sender", "customer").bytes()
			}
			return o.set("type", "order_shipped").bytes()
		case 1:
			return o.set("ts", "2024-05-01T10:00:00").bytes()
		case 2:
			return o.set("ts", "2024-05-01 10:00:00+08:00").bytes()
		case 3:
			return o.set("shop_id", "shop 001").bytes()
		case 4:
			switch {
			case typ == "order_created" || typ == "order_paid":
				bad := [...]string{"12.345", "-5.00", "1,299.00", "¥89.00", "1234567890123.00", ".50", "89."}
				return o.set("amount", bad[variant/invalidValueVariants%len(bad)]).bytes()
			case typ == "refund_completed":
				if variant/invalidValueVariants%2 == 0 {
					return o.set("completed_by", "buyer").bytes()
				}
				ts, _ := o.get("ts")
				return o.set("refund_requested_at", ts).set("ts", "2000-01-01T00:00:00Z").bytes()
			case topic == event.Orders:
				return o.set("refund_id", strings.Repeat("r", 129)).bytes()
			case sender == "agent" || sender == "auto":
				return o.set("agent_id", "agent 01").bytes()
			default:
				return o.set("buyer_id", strings.Repeat("b", 129)).bytes()
			}
		case 5:
			return o.set("event_id", strings.Repeat("e", 129)).bytes()
		case 6:
			return o.set("ts", "2024-02-30T10:00:00Z").bytes()
		default:
			// Invalid outranks too_old: a bad enum on a record that is also ancient.
			if topic == event.Messages {
				return o.set("sender", "robot").set("ts", "2001-01-01T00:00:00Z").bytes()
			}
			return o.set("type", "paid").set("ts", "2001-01-01T00:00:00Z").bytes()
		}
	}
	return o.bytes()
}
