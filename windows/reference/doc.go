// Package reference owns the offline computation behind `cskpi recompute`: it reads an event
// file, gives every record its outcome exactly as CONTRACT §1 and docs/SEMANTICS.md say, keeps
// every applied event, and computes each KPI of CONTRACT §3 at one as-of time straight from the
// definitions of CONTRACT §2.
//
// It is the oracle the streaming path in windows/ is tested against, so it trades speed and
// memory for being obviously right: plain maps and slices, no incremental state, no buckets
// kept between events, and no code shared with the streaming path beyond the input decoder
// (event), the file format (event/jsonl) and the output names (windows/kpi).
package reference
