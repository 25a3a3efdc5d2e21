// Package event owns the input contract of CONTRACT §1: the two event kinds, their decoding from
// Kafka record values, and the validation that gives each record at most one rejection
// reason. Both the streaming path and the offline reference decode through it, so the two
// can only differ in what they compute, never in what they accept.
package event
