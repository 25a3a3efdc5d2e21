package deploy

import (
	"fmt"
	"path"

	"github.com/cskpi/cskpi/deploy/grafana/dashboards"
	"github.com/cskpi/cskpi/deploy/prometheus/rules"
)

// Generated files, relative to the repository root.
const (
	RecordingRulesFile = "deploy/prometheus/rules.yml"
	AlertingRulesFile  = "deploy/prometheus/alerts.yml"
	PrometheusRuleFile = "deploy/k8s/prometheusrule.yaml"
	DashboardsDir      = "deploy/grafana/provisioning/dashboards"
)

// prometheusRule is the Prometheus Operator's resource carrying the same groups as the
// rule files.
type prometheusRule struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec rules.File `yaml:"spec"`
}

// RuleFiles renders the recording and the alerting rule file for cfg.
func RuleFiles(cfg rules.Config) (recording, alerting []byte, err error) {
	if recording, err = rules.Marshal(rules.File{Groups: rules.Recording(cfg)}); err != nil {
		return nil, nil, err
	}
	if alerting, err = rules.Marshal(rules.File{Groups: rules.Alerts(cfg)}); err != nil {
		return nil, nil, err
	}
	return recording, alerting, nil
}

// Files renders every generated file of the shipped configuration, by path.
func Files() (map[string][]byte, error) {
	cfg := rules.Default()
	out := map[string][]byte{}
	rec, alerts, err := RuleFiles(cfg)
	if err != nil {
		return nil, fmt.Errorf("rule files: %w", err)
	}
	out[RecordingRulesFile], out[AlertingRulesFile] = rec, alerts

	var pr prometheusRule
	pr.APIVersion = "monitoring.coreos.com/v1"
	pr.Kind = "PrometheusRule"
	pr.Metadata.Name = "cskpi"
	pr.Metadata.Labels = map[string]string{"app.kubernetes.io/name": "cskpi", "app.kubernetes.io/component": "rules"}
	pr.Spec.Groups = append(rules.Recording(cfg), rules.Alerts(cfg)...)
	if out[PrometheusRuleFile], err = rules.Marshal(pr); err != nil {
		return nil, fmt.Errorf("PrometheusRule: %w", err)
	}

	boards, err := dashboards.All(cfg)
	if err != nil {
		return nil, err
	}
	for _, b := range boards {
		if out[path.Join(DashboardsDir, b.File)], err = dashboards.JSON(b.Dashboard); err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", b.File, err)
		}
	}
	return out, nil
}
