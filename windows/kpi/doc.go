// Package kpi owns the output contract of CONTRACT §3 and §4, each thing declared once: the
// table of metric families (name, help, labels, windows, unit, how it accumulates), the
// catalogue of KPIs built on them (ratio.go: numerator, denominator, unit, names), the
// windows (window.go: name, bucket resolution, buckets), and the exact conversion of
// integer state (milliseconds, fen) to exported values. The streaming path's state layout,
// both paths' series, the exposition, the recording rules, dashboards, pages and the docs'
// tables are derived from these tables.
package kpi
