// Package sinks owns what cskpi shows the world: the KPI collector, which builds const
// gauges from the service's state when a scrape asks (so a shop that went quiet leaves no
// stale series),
// the Prometheus text rendering used by `cskpi recompute`, and the HTTP server with
// /metrics, /-/healthy and /-/ready behind exporter-toolkit's TLS and basic auth.
package sinks
