// Package sinks owns what cskpi shows the world: the KPI collector, which builds const
// gauges from the service's state when a scrape asks (so a shop that went quiet leaves no
// stale series),
// the Prometheus text rendering used by `cskpi recompute`, and the HTTP server with
// /metrics, /-/healthy, /-/ready, GET /api/v1/waiting and /shops (an HTML table per shop,
// worst first, read from the collector's own Source in one pass) behind exporter-toolkit's
// TLS and basic auth, and a landing page at / that links them.
package sinks
