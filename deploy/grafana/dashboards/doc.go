// Package dashboards builds cskpi's Grafana dashboards with the Grafana Foundation SDK:
// the shop overview (every KPI of CONTRACT §4, a shop selector), the agent leaderboard
// (response time, buyers served against the load bands, conversion) and service health
// (lag, throughput, rejects, freshness). `make generate` writes them as JSON into
// deploy/grafana/provisioning/dashboards, where Grafana's file provider loads them; a test
// fails when the committed JSON is not what this package builds.
//
// Panels query the recording rules of deploy/prometheus/rules by their names, never the
// raw gauges of several instances, so a panel and an alert can never disagree.
package dashboards
