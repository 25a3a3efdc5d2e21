// Package kpi owns the output contract of SPEC §3: metric family names, their labels and
// windows, and the exact conversion of integer state (milliseconds, fen) to exported values.
// The streaming path and the reference both emit []Series through it, so a name can only be
// spelled in one place.
package kpi
