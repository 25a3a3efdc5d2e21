// Package synth owns synthetic traffic: the live-looking stream that feeds `cskpi demo`,
// `cskpi loadgen` and the benchmarks (Generator), and the adversarial logs the differential
// tests replay through both the streaming path and the reference (TestLog).
//
// Both are deterministic from a seed, because a failing benchmark or differential test is only
// useful if it can be replayed byte for byte. Both write the jsonl event format, so anything
// they produce can also be published with `cskpi produce` or recomputed offline.
//
// The Generator is a discrete-event simulation: each buyer arrival schedules its whole
// conversation (and the orders, payments and refunds it leads to) into a heap, and lines come
// out in ts order. Scheduling whole conversations up front is what keeps a conversation's
// lines ordered without any per-conversation state at emission time.
//
// TestLog trades realism for coverage: every rejection reason, the exact boundaries of the
// 24 h and 48 h horizons and of local midnight, and cross-topic disorder, under constraints
// that make every Kafka consumption interleaving give the same result.
package synth
