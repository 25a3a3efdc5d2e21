// Package produce owns publishing event lines to Kafka: `cskpi produce` (a jsonl file),
// `cskpi loadgen` (live synthetic traffic) and the demo and tests that need records on a
// broker.
//
// It is where CONTRACT §1's producer side is honoured: records keyed "<shop_id>/<buyer_id>" with
// murmur2 partitioning, so a conversation's messages and orders share a partition number, and
// published in file order with acknowledgement from all in-sync replicas, so that a count
// returned is a count the consumer will see.
package produce
