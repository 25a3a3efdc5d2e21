// Package synth owns synthetic traffic: the live-looking stream that feeds `cskpi demo`,
// `cskpi loadgen` and the benchmarks (Generator), and the record builder (Record, Break and
// its variants of every rejection reason) from which internal/testlog writes the
// adversarial logs the differential tests replay through both the streaming path and the
// reference.
//
// The Generator is deterministic from a seed, because a failing benchmark is only useful if
// it can be replayed byte for byte, and writes the jsonl event format, so anything it
// produces can also be published with `cskpi produce` or recomputed offline.
//
// The Generator is a discrete-event simulation: each buyer arrival schedules its whole
// pre-sale chat (and the orders, payments and refunds it leads to) into a heap, and lines come
// out in ts order, but for the order_created records filed after their payment (CONTRACT §1:
// the orders topic may be days out of ts order), which the heap orders by when they are
// filed. A buyer who ordered comes back for after-sale chats (scene "aftersale"): the order
// schedules the return, and when it is due the whole after-sale chat is scheduled, after any
// chat of that buyer still going on. Scheduling whole chats, one at a time per buyer, is what
// keeps a conversation's messages ordered without any per-conversation state at emission
// time.
package synth
