// Package sinks owns what cskpi shows the world: the KPI collector, which exports a snapshot
// of const gauges refreshed explicitly (so a shop that went quiet leaves no stale series),
// the Prometheus text rendering used by `cskpi recompute`, and the HTTP server with
// /metrics, /-/healthy and /-/ready behind exporter-toolkit's TLS and basic auth.
package sinks
