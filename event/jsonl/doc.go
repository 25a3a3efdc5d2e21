// Package jsonl owns the event file format shared by `cskpi produce`, `cskpi recompute` and
// the generators: one record per line, routed to the messages or orders topic, either an
// event line or the envelope `kcat -C -J` prints around a record it consumed, so that
// records taken from a real cluster can be replayed and recomputed (docs/EVENTS.md).
package jsonl
