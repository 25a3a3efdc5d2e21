// Package kpi owns the output contract of CONTRACT §3: one table that defines every metric
// family once (name, help, labels, windows, unit, how it accumulates), and the exact
// conversion of integer state (milliseconds, fen) to exported values. The streaming path's
// state layout, both paths' series and the exposition are derived from the table.
package kpi
