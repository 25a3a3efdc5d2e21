package deploy

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
	"github.com/cskpi/cskpi/windows/kpi"
)

// The tables of the docs that restate the KPI table, the catalogue or the alerts are
// generated from the same Go as the rules, between markers
//
//	<!-- generated:NAME begin (make generate) -->
//	<!-- generated:NAME end -->
//
// so that a doc cannot drift from what runs: `make generate` rewrites them and
// TestGeneratedFilesUpToDate fails while one is out of date.
const (
	RunbookFile  = "docs/RUNBOOK.md"
	ContractFile = "docs/CONTRACT.md"
	ReadmeFile   = "README.md"
)

// DocSections renders every generated section, by doc and section name.
func DocSections(cfg rules.Config) map[string]map[string]string {
	return map[string]map[string]string{
		RunbookFile: {"alerts": alertTable(cfg)},
		ReadmeFile:  {"families": familyList()},
		ContractFile: {
			"families": familyTable(),
			"ratios":   ratioTable(),
		},
	}
}

// Splice replaces each named section of doc with its content; a section the doc does not
// mark is an error, so that a removed marker is noticed.
func Splice(doc []byte, sections map[string]string) ([]byte, error) {
	for name, content := range sections {
		begin := []byte("<!-- generated:" + name + " begin (make generate) -->\n")
		end := []byte("<!-- generated:" + name + " end -->")
		i := bytes.Index(doc, begin)
		j := bytes.Index(doc, end)
		if i < 0 || j < i {
			return nil, fmt.Errorf("no section %q (markers %q ... %q)", name, strings.TrimSpace(string(begin)), end)
		}
		var out []byte
		out = append(out, doc[:i+len(begin)]...)
		out = append(out, content...)
		out = append(out, doc[j:]...)
		doc = out
	}
	return doc, nil
}

// alertTable is the runbook's table of alerts, from the rules themselves.
func alertTable(cfg rules.Config) string {
	var b strings.Builder
	b.WriteString("| alert | severity | fires when | `for` |\n|---|---|---|---|\n")
	for _, g := range rules.Alerts(cfg) {
		for _, r := range g.Rules {
			f := r.For
			if f == "" {
				f = "—"
			}
			fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s |\n", r.Alert, rules.Anchor(r.Alert), r.Labels["severity"], r.When, f)
		}
	}
	return b.String()
}

// familyTable is CONTRACT §3's table of the KPI families, from windows/kpi.
func familyTable() string {
	var b strings.Builder
	b.WriteString("| metric | labels | windows | meaning |\n|---|---|---|---|\n")
	for _, f := range kpi.Families() {
		windows := "—"
		if len(f.Windows) > 0 {
			windows = strings.Join(f.Windows, " ")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Name, strings.Join(f.LabelNames(), ", "), windows, f.Help)
	}
	return b.String()
}

// ratioTable is CONTRACT §4's catalogue of the KPIs that are quotients, from windows/kpi,
// with the recording rules of each: both scenes together, and per scene where it exists.
func ratioTable() string {
	var b strings.Builder
	b.WriteString("| KPI | level | over a window | windows | recording rule | per scene |\n|---|---|---|---|---|---|\n")
	for _, r := range kpi.Ratios() {
		level := "shop"
		if r.Level() == kpi.AgentWindow {
			level = "agent"
		}
		perScene := "—"
		if rec := rules.SceneRecord(r.ID); rec != "" {
			perScene = "`" + rec + "`"
		}
		fmt.Fprintf(&b, "| %s %s | %s | %s / %s | %s | `%s` | %s |\n", r.Local, r.Name, level,
			strings.TrimPrefix(r.Num.Name(), "cskpi_"), strings.TrimPrefix(r.Den.Name(), "cskpi_"),
			strings.Join(r.Windows(), " "), rules.Record(r.ID), perScene)
	}
	return b.String()
}

// familyList is the README's short list of the KPI families by level, from windows/kpi.
func familyList() string {
	names := func(levels ...kpi.Level) string {
		var out []string
		for _, f := range kpi.Families() {
			for _, l := range levels {
				if f.Level == l {
					var extra []string
					if f.Scene {
						extra = append(extra, "scene")
					}
					switch f.Kind {
					case kpi.PerThreshold:
						extra = append(extra, "le")
					case kpi.PerWaitThreshold:
						extra = append(extra, "seconds")
					}
					n := f.Name
					if len(extra) > 0 {
						n += "{" + strings.Join(extra, ",") + "}"
					}
					out = append(out, "`"+n+"`")
				}
			}
		}
		return strings.Join(out, ", ")
	}
	return "Shop level (`shop`, `window`): " + names(kpi.ShopWindow) + "; without window: " + names(kpi.ShopOnly) + ".\n\n" +
		"Agent level (`shop`, `agent`, `window`): " + names(kpi.AgentWindow) + "; without window: " + names(kpi.AgentOnly) + ".\n"
}
