// Package deploy is the operations kit: Prometheus recording and alerting rules
// (deploy/prometheus), Grafana dashboards (deploy/grafana), Alertmanager routing
// (deploy/alertmanager), Docker Compose (deploy/docker-compose.yml) and Kubernetes
// manifests (deploy/k8s, with the optional KEDA component deploy/k8s/keda and the overlay
// deploy/overlays/keda). docs/DEPLOYING.md says how to use them.
//
// Rules and dashboards are generated from Go (packages prometheus/rules and
// grafana/dashboards) by `make generate`, and the output is committed, the mixin habit of
// the Prometheus ecosystem: operators use plain YAML and JSON, and the tests here fail when
// the committed files drift from their source. The tests also validate the compose and
// Kubernetes files offline (kustomize's library renders the manifests, compose's loader
// the compose file, amtool routes every alert), and run the whole kit end to end: a real
// Prometheus scrapes `cskpi demo`, evaluates the rules and answers every dashboard query.
package deploy
