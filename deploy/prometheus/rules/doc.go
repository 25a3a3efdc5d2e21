// Package rules is the source of cskpi's Prometheus rules, in the mixin habit of the
// Prometheus ecosystem (node_exporter's docs/node-mixin, thanos' examples/alerts): Go
// instead of jsonnet, generated into deploy/prometheus/*.yml and the PrometheusRule of
// deploy/k8s by `make generate`, and checked by promtool.
//
// Recording rules (level:metric:operations) aggregate every KPI family over the
// instances that share the partitions (`sum without (instance, pod)`; the oldest wait is a
// `max`) and turn CONTRACT §4's numerators and denominators into ratios. A ratio is absent,
// never 0, NaN or ±Inf, while its denominator is 0: "no buyer wrote" is not "0% replied",
// and an absent ratio can neither trip nor clear an alert by accident. The window label
// (15m, 24h, 28d) is kept, so one rule serves every window a family has. A family or KPI
// with the scene label is recorded twice: per scene (shop_scene:…, the label kept) and for
// both scenes together (shop:…, the name it had before the label existed).
//
// Every threshold and `for` duration of the alerts lives in Config; Default holds the
// shipped values and docs/RUNBOOK.md explains them.
package rules
