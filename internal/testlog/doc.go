// Package testlog writes the differential tests' event logs (Lines) and says what a
// consumer reading one in order decides for each line (Consume).
//
// A log trades realism for coverage: every rejection reason, the exact boundaries of the
// 24 h and 48 h horizons and of local midnight, the scene of after-sale chats spelled every
// way, payments twice or before their order, and cross-topic disorder, under constraints
// that make every Kafka consumption interleaving give the same result. It is deterministic
// from a seed, so that a failing differential test can be replayed byte for byte, and is
// built with traffic/synth's record builder.
package testlog
