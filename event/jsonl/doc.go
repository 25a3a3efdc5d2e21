// Package jsonl owns the event file format shared by `cskpi produce`, `cskpi recompute` and
// the generators: one record per line, routed to the messages or orders topic.
package jsonl
