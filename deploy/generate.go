package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path"

	"go.yaml.in/yaml/v3"

	"github.com/cskpi/cskpi/deploy/grafana/dashboards"
	"github.com/cskpi/cskpi/deploy/prometheus/rules"
)

// Generated files, relative to the repository root.
const (
	RecordingRulesFile = "deploy/prometheus/rules.yml"
	AlertingRulesFile  = "deploy/prometheus/alerts.yml"
	PrometheusRuleFile = "deploy/k8s/prometheusrule.yaml"
	DashboardsDir      = "deploy/grafana/provisioning/dashboards"
	// ConfigFile holds the settings of `make generate` a deployment changes.
	ConfigFile = "deploy/generate.yml"
)

// Settings are the fields of ConfigFile: the addresses the alerts link to, which only the
// deployment knows.
type Settings struct {
	// RunbookURL is where docs/RUNBOOK.md of your copy of cskpi is served; each alert's
	// runbook_url is its anchor there.
	RunbookURL string `yaml:"runbook_url"`
	// WaitingAPI is serve's GET /api/v1/waiting as whoever is paged reaches it.
	WaitingAPI string `yaml:"waiting_api"`
}

// LoadConfig is rules.Default() with the settings of the file at path.
func LoadConfig(path string) (rules.Config, error) {
	cfg := rules.Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	var s Settings
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if s.RunbookURL == "" || s.WaitingAPI == "" {
		return cfg, fmt.Errorf("%s: runbook_url and waiting_api are required", path)
	}
	cfg.RunbookURL, cfg.WaitingAPI = s.RunbookURL, s.WaitingAPI
	return cfg, nil
}

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

// Files renders every generated file for cfg, by path.
func Files(cfg rules.Config) (map[string][]byte, error) {
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
