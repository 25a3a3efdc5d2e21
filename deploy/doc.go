// Package deploy is the operations kit: Prometheus recording and alerting rules
// (deploy/prometheus), Grafana dashboards (deploy/grafana), Docker Compose
// (deploy/docker-compose.yml) and Kubernetes manifests (deploy/k8s).
//
// Rules and dashboards are generated from Go (packages prometheus/rules and
// grafana/dashboards) by `make generate`, and the output is committed, the mixin habit of
// the Prometheus ecosystem: operators use plain YAML and JSON, and the tests here fail when
// the committed files drift from their source. The tests also validate the compose and
// Kubernetes files offline, and run the whole kit end to end: a real Prometheus scrapes
// `cskpi demo`, evaluates the rules and answers every dashboard query.
package deploy
