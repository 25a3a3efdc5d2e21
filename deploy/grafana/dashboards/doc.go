// Package dashboards builds cskpi's Grafana dashboards with the Grafana Foundation SDK:
// the shop overview (every KPI of CONTRACT §4, the response times and waiting buyers per
// scene against each scene's target, live waiting breaches, the worst shops now),
// the agent leaderboard (load bands, response and first-response time, 问答比, conversion,
// scorecard; the worst agents now, bots left out) and service health (lag, throughput,
// rejects, freshness). Each has an alert list and links to docs/RUNBOOK.md; the KPI
// dashboards have a shop selector and a window selector, so that no panel mixes windows,
// and the leaderboard an agent selector. `make generate` writes them as JSON into
// deploy/grafana/provisioning/dashboards, where Grafana's file provider loads them; a test
// fails when the committed JSON is not what this package builds, and another when it does
// not pass the SDK's dashboard schema (Validate).
//
// Panels query the recording rules of deploy/prometheus/rules by their names, never the
// raw gauges of several instances, so a panel and an alert can never disagree. Rankings
// (topk, bottomk) keep the tables to a few dozen rows whether 6 shops are selected or 500.
package dashboards
