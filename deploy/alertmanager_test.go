package deploy

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
	"github.com/cskpi/cskpi/internal/testenv"
)

const amtoolInstall = "apt-get install -y prometheus-alertmanager (Debian's package ships amtool)"

// TestAlertmanagerRouting: amtool accepts deploy/alertmanager/alertmanager.yml, and its
// routing tree sends every alert the rules declare where docs/DEPLOYING.md says: each KPI
// alert to the receiver of the shop's team (each team of the demo directory has one), to
// shop-leads without a team or for a team without a route; every service alert to oncall,
// and the heads-ups (severity info) to oncall-info.
func TestAlertmanagerRouting(t *testing.T) {
	amtool := testenv.RequireTool(t, "amtool", amtoolInstall)
	config := filepath.Join("alertmanager", "alertmanager.yml")
	if out, err := exec.Command(amtool, "check-config", config).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	route := func(labels ...string) string {
		t.Helper()
		cmd := exec.Command(amtool, append([]string{"config", "routes", "test", "--config.file=" + config}, labels...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("amtool config routes test %s: %v", strings.Join(labels, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	var shops struct {
		Shops map[string]struct {
			Team string `yaml:"team"`
		} `yaml:"shops"`
	}
	decodeOne(t, filepath.Join(root, "demo", "shops.yml"), &shops)
	var teams []string
	for _, s := range shops.Shops {
		if s.Team != "" && !slices.Contains(teams, s.Team) {
			teams = append(teams, s.Team)
		}
	}
	if len(teams) < 2 {
		t.Fatalf("the demo directory has teams %v; the routing by team checks little", teams)
	}
	seen := map[string]bool{}
	for _, g := range rules.Alerts(rules.Default()) {
		for _, r := range g.Rules {
			if seen[r.Alert+"/"+r.Labels["severity"]] {
				continue // the same alert for another scene or threshold routes alike
			}
			seen[r.Alert+"/"+r.Labels["severity"]] = true
			labels := []string{"alertname=" + r.Alert, "severity=" + r.Labels["severity"], "job=cskpi", "instance=a:9470"}
			if g.Name == "cskpi.kpi.alerts" {
				labels = append(labels, "shop=shop-002", "scene=presale")
				for _, team := range teams {
					if got := route(append(labels, "team="+team)...); got != "team-"+team {
						t.Errorf("%s of team %s goes to %q, want team-%s", r.Alert, team, got, team)
					}
				}
				for _, l := range [][]string{labels, append(labels, "team=no-route")} {
					if got := route(l...); got != "shop-leads" {
						t.Errorf("%s with %v goes to %q, want shop-leads", r.Alert, l[len(l)-1], got)
					}
				}
			} else {
				want := "oncall"
				if r.Labels["severity"] == rules.Info {
					want = "oncall-info"
				}
				if got := route(labels...); got != want {
					t.Errorf("%s (%s) goes to %q, want %s", r.Alert, r.Labels["severity"], got, want)
				}
			}
		}
	}
	t.Logf("%d alerts routed as documented, teams %v", len(seen), teams)
}
