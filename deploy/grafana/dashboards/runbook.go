package dashboards

import (
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/text"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
)

// runbookURL is the address of docs/RUNBOOK.md: the rules' own setting, so that a
// deployment that moves the runbook moves the alerts' links and the dashboards' together.
func runbookURL(cfg rules.Config) string { return cfg.RunbookURL }

// alertPrefix starts every alert name of deploy/prometheus; the alert lists show those only,
// whatever else the Grafana shows.
const alertPrefix = "Cskpi"

// audience is who a dashboard is for, and so which alerts it lists.
type audience uint8

const (
	forShops audience = iota
	forAgents
	forService
)

// audienceOf sorts an alert by the recording rules it watches: the agents' (shop_agent:…),
// the shops' (shop:…) or cskpi's own.
func audienceOf(r rules.Rule) audience {
	switch {
	case strings.Contains(r.Expr, rules.AgentLevel+":"):
		return forAgents
	case strings.Contains(r.Expr, rules.ShopLevel+":"):
		return forShops
	}
	return forService
}

// alertLink is one alert of a runbook panel.
type alertLink struct {
	name, url  string
	severities []string
}

// alertsFor lists the alerts of the audience, each once, in the rules' order, with the
// runbook link the alert itself carries.
func alertsFor(cfg rules.Config, a audience) []alertLink {
	var out []alertLink
	for _, g := range rules.Alerts(cfg) {
		for _, r := range g.Rules {
			if audienceOf(r) != a {
				continue
			}
			sev := r.Labels["severity"]
			if i := slices.IndexFunc(out, func(l alertLink) bool { return l.name == r.Alert }); i >= 0 {
				if !slices.Contains(out[i].severities, sev) {
					out[i].severities = append(out[i].severities, sev)
				}
				continue
			}
			out = append(out, alertLink{name: r.Alert, url: r.Annotations["runbook_url"], severities: []string{sev}})
		}
	}
	return out
}

// runbookPanel links the runbook and the section of each alert the dashboard is about.
func runbookPanel(cfg rules.Config, a audience) *text.PanelBuilder {
	var b strings.Builder
	b.WriteString("**[Runbook](" + runbookURL(cfg) + ")**: what an alert means, what to check, what to do; " +
		"thresholds in [Where the thresholds live](" + runbookURL(cfg) + "#" + rules.Anchor("Where the thresholds live") + ").\n\n")
	for _, l := range alertsFor(cfg, a) {
		b.WriteString("- [" + l.name + "](" + l.url + ") (" + strings.Join(l.severities, ", ") + ")\n")
	}
	return text.NewPanelBuilder().
		Title("Runbook").
		Height(alertsH).
		Span(fullW - alertsW).
		Mode(text.TextModeMarkdown).
		Content(b.String())
}

// alertList shows the firing and pending alerts of deploy/prometheus whose labels match
// filter (PromQL matchers, dashboard variables allowed), from every rule source Grafana
// knows: the Prometheus data source's rules among them.
func alertList(description, filter string) *dashboard.PanelBuilder {
	return dashboard.NewPanelBuilder().
		Type("alertlist").
		Title("Alerts").
		Description(description).
		Height(alertsH).
		Span(alertsW).
		Options(map[string]any{
			"viewMode":                 "list",
			"groupMode":                "default",
			"groupBy":                  []string{},
			"maxItems":                 20,
			"sortOrder":                3, // importance: critical first
			"dashboardAlerts":          false,
			"alertName":                "",
			"alertInstanceLabelFilter": filter,
			"showInstances":            true,
			"stateFilter": map[string]bool{
				"firing": true, "pending": true, "recovering": false, "noData": false, "normal": false, "error": true,
			},
		})
}

// alertFilter is the alert list's label filter: cskpi's alerts, and of those the ones whose
// labels match the dashboard's selection (${var:regex}: the picked values as one regex).
func alertFilter(vars ...string) string {
	ms := []string{`alertname=~"` + alertPrefix + `.*"`}
	for _, v := range vars {
		ms = append(ms, v+`=~"${`+v+`:regex}"`)
	}
	return "{" + strings.Join(ms, ", ") + "}"
}

// withAlerts adds the alert list and the runbook links side by side.
func withAlerts(b *dashboard.DashboardBuilder, cfg rules.Config, a audience, description string, vars ...string) {
	b.WithPanel(alertList(description, alertFilter(vars...)))
	b.WithPanel(runbookPanel(cfg, a))
}
