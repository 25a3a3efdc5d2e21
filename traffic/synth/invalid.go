package synth

import (
	"strings"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
)

// Variant counts per content reason; Break takes the variant modulo these, so callers
// can walk them all (the test log) or draw at random (the generator).
const (
	MalformedVariants    = 10
	MissingFieldVariants = 7
	InvalidValueVariants = 9
	OversizeVariants     = 2
)

// The variants that bend the scene of a buyer message (CONTRACT §1: a string other than
// "presale" and "aftersale" is invalid_value, another JSON type malformed). On any other
// record the scene is ignored, so these variants also bend a field that rejects it.
const (
	MalformedScene    = 9
	InvalidValueScene = 8
)

// BadScenes are the invalid_value spellings of a scene, and BadSceneTypes the malformed
// ones; Break takes variant/InvalidValueVariants (variant/MalformedVariants) modulo their
// lengths, as it does for amounts.
var (
	BadScenes     = []string{"refund", "Aftersale", "after-sale", "售后"}
	BadSceneTypes = []string{"1", "true", `["aftersale"]`}
)

// Break turns the valid object o into the line of a record a consumer must reject for
// the content reason r (oversize, malformed, missing_field, invalid_value). The record keeps
// o's topic and conversation key, so it lands on the partition of the conversation it claims
// to belong to, as a producer's broken record would. The caller gives o a fresh event_id.
func Break(o Record, r event.Reason, variant int) []byte {
	key := o.Key()
	topic := o.TopicOf()
	o = o.Clone().Set("key", key)
	typ, _ := o.Get("type")
	sender, _ := o.Get("sender")
	switch r {
	case event.Oversize:
		if variant%OversizeVariants == 0 {
			// Valid in every other respect: size alone must reject it.
			return o.Set("note", strings.Repeat("x", event.MaxRecordBytes+512)).Bytes()
		}
		// Several faults at once: oversize ranks first.
		return jsonl.Raw(topic, key, []byte("{"+strings.Repeat("\xff", event.MaxRecordBytes+1)))

	case event.Malformed:
		switch variant % MalformedVariants {
		case 0:
			return jsonl.Raw(topic, key, []byte("event_id=broken; shop_id="+key))
		case 1:
			b := o.Del("key").Del("topic").Bytes()
			return jsonl.Raw(topic, key, b[:len(b)/2])
		case 2:
			return jsonl.Raw(topic, key, append(append([]byte("["), o.Del("key").Del("topic").Bytes()...), ']'))
		case 3:
			buyer, _ := o.Get("buyer_id")
			return jsonl.Raw(topic, key, o.Del("key").Del("topic").Set("buyer_id", buyer+"\xff\xfe").Bytes())
		case 4:
			switch {
			case typ == "order_created" || typ == "order_paid":
				return o.SetLit("amount", "89.5").Bytes()
			case topic == event.Orders:
				return o.SetLit("order_id", "20240501").Bytes()
			default:
				return o.Set("spam", "false").Bytes()
			}
		case 5:
			return o.SetLit("ts", "1714528800").Bytes()
		case 6:
			return o.SetLit("shop_id", "1001").Bytes()
		case 7:
			return jsonl.Raw(topic, key, nil)
		case 8:
			return jsonl.Raw(topic, key, []byte(`"order_paid"`))
		default: // MalformedScene
			bad := BadSceneTypes[variant/MalformedVariants%len(BadSceneTypes)]
			switch {
			case sender == "buyer":
				return o.SetLit("scene", bad).Bytes()
			case topic == event.Messages:
				return o.SetLit("scene", bad).SetLit("agent_id", "7").Bytes()
			default:
				return o.SetLit("scene", bad).SetLit("order_id", "20240501").Bytes()
			}
		}

	case event.MissingField:
		switch variant % MissingFieldVariants {
		case 0:
			return o.Del("ts").Bytes()
		case 1:
			return o.SetLit("buyer_id", "null").Bytes()
		case 2:
			return o.Set("event_id", "").Bytes()
		case 3:
			if topic == event.Messages {
				return o.Del("sender").Bytes()
			}
			return o.Del("type").Bytes()
		case 4:
			switch {
			case sender == "agent" || sender == "auto":
				return o.Del("agent_id").Bytes()
			case topic == event.Messages:
				return o.Del("shop_id").Bytes()
			case typ == "order_created" || typ == "order_paid":
				return o.SetLit("amount", "null").Bytes()
			case typ == "refund_completed":
				return o.Del("refund_requested_at").Bytes()
			default:
				return o.Del("refund_id").Bytes()
			}
		case 5:
			if topic == event.Orders {
				return o.Del("order_id").Bytes()
			}
			return o.Set("shop_id", "").Bytes()
		default:
			// Missing outranks invalid.
			if topic == event.Messages {
				return o.Del("ts").Set("sender", "customer").Bytes()
			}
			return o.Del("ts").Set("type", "order_shipped").Bytes()
		}

	case event.InvalidValue:
		switch variant % InvalidValueVariants {
		case 0:
			if topic == event.Messages {
				return o.Set("sender", "customer").Bytes()
			}
			return o.Set("type", "order_shipped").Bytes()
		case 1:
			return o.Set("ts", "2024-05-01T10:00:00").Bytes()
		case 2:
			return o.Set("ts", "2024-05-01 10:00:00+08:00").Bytes()
		case 3:
			return o.Set("shop_id", "shop 001").Bytes()
		case 4:
			switch {
			case typ == "order_created" || typ == "order_paid":
				bad := [...]string{"12.345", "-5.00", "1,299.00", "¥89.00", "1234567890123.00", ".50", "89."}
				return o.Set("amount", bad[variant/InvalidValueVariants%len(bad)]).Bytes()
			case typ == "refund_completed":
				if variant/InvalidValueVariants%2 == 0 {
					return o.Set("completed_by", "buyer").Bytes()
				}
				ts, _ := o.Get("ts")
				return o.Set("refund_requested_at", ts).Set("ts", "2000-01-01T00:00:00Z").Bytes()
			case topic == event.Orders:
				return o.Set("refund_id", strings.Repeat("r", 129)).Bytes()
			case sender == "agent" || sender == "auto":
				return o.Set("agent_id", "agent 01").Bytes()
			default:
				return o.Set("buyer_id", strings.Repeat("b", 129)).Bytes()
			}
		case 5:
			return o.Set("event_id", strings.Repeat("e", 129)).Bytes()
		case 6:
			return o.Set("ts", "2024-02-30T10:00:00Z").Bytes()
		case InvalidValueScene:
			bad := BadScenes[variant/InvalidValueVariants%len(BadScenes)]
			switch {
			case sender == "buyer":
				return o.Set("scene", bad).Bytes()
			case topic == event.Messages:
				return o.Set("scene", bad).Set("agent_id", "agent 01").Bytes()
			default:
				return o.Set("scene", bad).Set("type", "order_refunded").Bytes()
			}
		default:
			// Invalid outranks too_old: a bad enum on a record that is also ancient.
			if topic == event.Messages {
				return o.Set("sender", "robot").Set("ts", "2001-01-01T00:00:00Z").Bytes()
			}
			return o.Set("type", "paid").Set("ts", "2001-01-01T00:00:00Z").Bytes()
		}
	}
	return o.Bytes()
}
