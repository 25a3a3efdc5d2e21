package deploy

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cskpi/cskpi/deploy/prometheus/rules"
	"github.com/cskpi/cskpi/internal/testenv"
)

// The compose stack and the Kubernetes manifests cannot run here (no container engine, no
// cluster); these tests check what can be checked offline: every file parses, the files
// refer to each other consistently, promtool accepts the Prometheus config, and the
// PrometheusRule carries exactly the rules of deploy/prometheus.

// decodeAll parses every YAML document of a file.
func decodeAll(t *testing.T, name string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return yamlDocs(t, name, data)
}

// yamlDocs parses every YAML document of a stream; what names it in a failure.
func yamlDocs(t *testing.T, what string, data []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: YAML does not parse: %v", what, err)
		}
		docs = append(docs, doc)
	}
}

func decodeOne(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestEveryYAMLFileParses(t *testing.T) {
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(p); !d.IsDir() && (ext == ".yml" || ext == ".yaml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d YAML files under deploy/: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if docs := decodeAll(t, f); len(docs) == 0 {
				t.Error("no YAML document")
			}
		})
	}
}

// compose is the part of a compose file these checks read.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       map[string]string `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		DependsOn   yaml.Node         `yaml:"depends_on"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeStack(t *testing.T) {
	var c compose
	decodeOne(t, "docker-compose.yml", &c)
	for _, want := range []string{"kafka", "kafka-topics", "redis", "cskpi", "loadgen", "prometheus", "alertmanager", "grafana"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("service %s missing", want)
		}
	}
	kafka := c.Services["kafka"]
	if !strings.Contains(kafka.Environment["KAFKA_PROCESS_ROLES"], "controller") {
		t.Error("kafka is not in KRaft mode (KAFKA_PROCESS_ROLES without controller)")
	}
	for k := range kafka.Environment {
		if strings.Contains(strings.ToLower(k), "zookeeper") {
			t.Errorf("kafka has ZooKeeper setting %s; KRaft needs none", k)
		}
	}
	if cmd := strings.Join(c.Services["redis"].Command, " "); !strings.Contains(cmd, "--appendonly yes") {
		t.Errorf("redis runs without AOF: %q", cmd)
	}
	if b := c.Services["cskpi"].Build; b["dockerfile"] == "" {
		t.Error("cskpi is not built from the Dockerfile")
	} else if _, err := os.Stat(filepath.Join(b["context"], b["dockerfile"])); err != nil {
		t.Errorf("cskpi build: %v", err)
	}
	if c.Services["loadgen"].Image != c.Services["cskpi"].Image || c.Services["loadgen"].Command[0] != "loadgen" {
		t.Error("loadgen should run `cskpi loadgen` from the cskpi image")
	}
	for _, svc := range []string{"cskpi", "loadgen"} {
		if got := c.Services[svc].Environment["CSKPI_KAFKA_BROKERS"]; got != "kafka:9092" {
			t.Errorf("%s: CSKPI_KAFKA_BROKERS = %q, want the kafka service", svc, got)
		}
	}
	if got := c.Services["cskpi"].Environment["CSKPI_REDIS_ADDR"]; got != "redis:6379" {
		t.Errorf("cskpi: CSKPI_REDIS_ADDR = %q, want the redis service", got)
	}
	mounts := map[string]string{} // container path -> host path
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			host, container := parts[0], parts[1]
			if strings.HasPrefix(host, ".") {
				if _, err := os.Stat(host); err != nil {
					t.Errorf("%s mounts %s: %v", name, host, err)
				}
				mounts[container] = host
			} else if _, ok := c.Volumes[host]; !ok {
				t.Errorf("%s uses volume %s, not declared", name, host)
			}
		}
	}
	// The Prometheus config and Grafana provisioning the services mount are these files.
	for container, want := range map[string]string{
		"/etc/prometheus":           "./prometheus",
		"/etc/alertmanager":         "./alertmanager",
		"/etc/grafana/provisioning": "./grafana/provisioning",
	} {
		if mounts[container] != want {
			t.Errorf("%s mounted from %q, want %q", container, mounts[container], want)
		}
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	decodeOne(t, filepath.Join("prometheus", "prometheus.yml"), &prom)
	if sel := rules.Default().Selector; sel != `job="cskpi"` {
		t.Fatalf("selector %s: update this test and the scrape config together", sel)
	}
	found := false
	for _, sc := range prom.ScrapeConfigs {
		if sc.JobName == "cskpi" && len(sc.StaticConfigs) > 0 && slices.Contains(sc.StaticConfigs[0].Targets, "cskpi:9470") {
			found = true
		}
	}
	if !found {
		t.Error(`prometheus.yml has no job "cskpi" scraping cskpi:9470, which the alerts select`)
	}
}

// TestPromtoolCheckConfig: promtool accepts the compose Prometheus config and the rule
// files it loads.
func TestPromtoolCheckConfig(t *testing.T) {
	promtool := testenv.RequireTool(t, "promtool", "apt-get install -y prometheus")
	out, err := exec.Command(promtool, "check", "config", filepath.Join("prometheus", "prometheus.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "rules found") {
		t.Errorf("promtool did not check the rule files:\n%s", out)
	}
}

func TestAlertmanagerConfig(t *testing.T) {
	var am struct {
		Route struct {
			Receiver string `yaml:"receiver"`
			Routes   []struct {
				Receiver string   `yaml:"receiver"`
				Matchers []string `yaml:"matchers"`
				GroupBy  []string `yaml:"group_by"`
				Routes   []struct {
					Receiver string   `yaml:"receiver"`
					Matchers []string `yaml:"matchers"`
				} `yaml:"routes"`
			} `yaml:"routes"`
		} `yaml:"route"`
		Receivers []struct {
			Name string `yaml:"name"`
		} `yaml:"receivers"`
		InhibitRules []struct {
			SourceMatchers []string `yaml:"source_matchers"`
			TargetMatchers []string `yaml:"target_matchers"`
			Equal          []string `yaml:"equal"`
		} `yaml:"inhibit_rules"`
	}
	decodeOne(t, filepath.Join("alertmanager", "alertmanager.yml"), &am)
	receivers := map[string]bool{}
	for _, r := range am.Receivers {
		receivers[r.Name] = true
	}
	used := []string{am.Route.Receiver}
	var matchers []string
	byTeam := false
	for _, r := range am.Route.Routes {
		used = append(used, r.Receiver)
		matchers = append(matchers, r.Matchers...)
		for _, sub := range r.Routes {
			used = append(used, sub.Receiver)
			for _, m := range sub.Matchers {
				byTeam = byTeam || strings.HasPrefix(m, "team=")
			}
		}
		if slices.Contains(r.Matchers, `alertname=~"CskpiResponseTimeHigh|CskpiBuyerWaiting|CskpiAgentOverloaded"`) && !slices.Contains(r.GroupBy, "team") {
			t.Errorf("the KPI alerts' route does not group by team: %v", r.GroupBy)
		}
	}
	if !byTeam {
		t.Error("no route matches on the team label of the KPI alerts (CONTRACT §4)")
	}
	for _, r := range used {
		if !receivers[r] {
			t.Errorf("route to undefined receiver %q", r)
		}
	}
	for _, ir := range am.InhibitRules {
		matchers = append(append(matchers, ir.SourceMatchers...), ir.TargetMatchers...)
		// A critical alert of one scene (a pre-sale buyer over 3 minutes) must not silence a
		// warning of the other (an after-sale buyer over its target).
		if slices.Contains(ir.SourceMatchers, `severity="critical"`) && !slices.Contains(ir.Equal, "scene") {
			t.Errorf("the critical-over-warning inhibition does not keep the scenes apart: equal %v", ir.Equal)
		}
	}
	// Every alert name the routing mentions must exist, or a rename would silently
	// unroute it.
	names := map[string]bool{}
	for _, g := range rules.Alerts(rules.Default()) {
		for _, r := range g.Rules {
			names[r.Alert] = true
		}
	}
	alertName := regexp.MustCompile(`Cskpi[A-Za-z]+`)
	for _, m := range matchers {
		for _, n := range alertName.FindAllString(m, -1) {
			if !names[n] {
				t.Errorf("matcher %q names unknown alert %s", m, n)
			}
		}
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			Type      string `yaml:"type"`
			URL       string `yaml:"url"`
			IsDefault bool   `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	decodeOne(t, filepath.Join("grafana", "provisioning", "datasources", "prometheus.yml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" || !ds.Datasources[0].IsDefault {
		t.Errorf("datasource %+v, want the default prometheus at the compose service", ds.Datasources)
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeOne(t, filepath.Join("grafana", "provisioning", "dashboards", "cskpi.yml"), &prov)
	if len(prov.Providers) != 1 || prov.Providers[0].Options.Path != "/etc/grafana/provisioning/dashboards" {
		t.Errorf("dashboard provider %+v, want the mounted provisioning/dashboards directory", prov.Providers)
	}
}

func TestKustomization(t *testing.T) {
	var k struct {
		Resources []string `yaml:"resources"`
		Images    []struct {
			Name string `yaml:"name"`
		} `yaml:"images"`
		ConfigMapGenerator []struct {
			Name     string   `yaml:"name"`
			Literals []string `yaml:"literals"`
		} `yaml:"configMapGenerator"`
	}
	decodeOne(t, filepath.Join("k8s", "kustomization.yaml"), &k)
	kinds := map[string]map[string]any{}
	for _, r := range k.Resources {
		for _, doc := range decodeAll(t, filepath.Join("k8s", r)) {
			kind, _ := doc["kind"].(string)
			if kind == "" || doc["apiVersion"] == nil || dig(doc, "metadata", "name") == nil {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", r)
			}
			kinds[kind] = doc
		}
	}
	for _, want := range []string{"Deployment", "Service", "ServiceMonitor", "PrometheusRule"} {
		if kinds[want] == nil {
			t.Fatalf("kustomization has no %s", want)
		}
	}
	dep, svc, sm := kinds["Deployment"], kinds["Service"], kinds["ServiceMonitor"]

	podLabels, _ := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
	if !subset(dig(dep, "spec", "selector", "matchLabels"), podLabels) || !subset(dig(svc, "spec", "selector"), podLabels) {
		t.Error("the Deployment's or Service's selector does not match the pod labels")
	}
	svcLabels, _ := dig(svc, "metadata", "labels").(map[string]any)
	if !subset(dig(sm, "spec", "selector", "matchLabels"), svcLabels) {
		t.Error("the ServiceMonitor does not select the Service")
	}
	if name := dig(svc, "metadata", "name"); name != "cskpi" {
		t.Errorf("Service %v: its name is the job label the alerts select (job=\"cskpi\")", name)
	}
	ports, _ := dig(svc, "spec", "ports").([]any)
	endpoints, _ := dig(sm, "spec", "endpoints").([]any)
	if len(ports) != 1 || len(endpoints) != 1 || dig(ports[0], "name") != dig(endpoints[0], "port") {
		t.Error("the ServiceMonitor endpoint does not name the Service's port")
	}
	containers, _ := dig(dep, "spec", "template", "spec", "containers").([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	c := containers[0]
	cports, _ := dig(c, "ports").([]any)
	if len(cports) != 1 || dig(cports[0], "name") != dig(ports[0], "targetPort") || dig(cports[0], "containerPort") != 9470 {
		t.Error("the Service's targetPort is not the container's port 9470")
	}
	if dig(c, "readinessProbe", "httpGet", "path") != "/-/ready" || dig(c, "livenessProbe", "httpGet", "path") != "/-/healthy" {
		t.Error("probes should use /-/ready and /-/healthy")
	}
	if dig(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true ||
		dig(c, "securityContext", "allowPrivilegeEscalation") != false ||
		dig(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("the pod must run as non-root, read-only, without privilege escalation")
	}
	if len(k.Images) != 1 || dig(c, "image") != k.Images[0].Name {
		t.Error("the kustomization's image override does not name the container's image")
	}
	envFrom, _ := dig(c, "envFrom").([]any)
	if len(k.ConfigMapGenerator) != 1 || len(envFrom) != 1 || dig(envFrom[0], "configMapRef", "name") != k.ConfigMapGenerator[0].Name {
		t.Error("the container does not take its settings from the generated ConfigMap")
	}
	for _, l := range k.ConfigMapGenerator[0].Literals {
		if !strings.HasPrefix(l, "CSKPI_") {
			t.Errorf("ConfigMap literal %q is no cskpi setting (CSKPI_*)", l)
		}
	}
}

// TestPrometheusRuleMatchesRuleFiles: the PrometheusRule carries the very groups of
// deploy/prometheus/rules.yml and alerts.yml, compared after parsing.
func TestPrometheusRuleMatchesRuleFiles(t *testing.T) {
	var pr struct {
		Kind string     `yaml:"kind"`
		Spec rules.File `yaml:"spec"`
	}
	decodeOne(t, filepath.Join("k8s", "prometheusrule.yaml"), &pr)
	var rec, alerts rules.File
	decodeOne(t, filepath.Join("prometheus", "rules.yml"), &rec)
	decodeOne(t, filepath.Join("prometheus", "alerts.yml"), &alerts)
	want := append(rec.Groups, alerts.Groups...)
	if pr.Kind != "PrometheusRule" || !reflect.DeepEqual(pr.Spec.Groups, want) {
		t.Errorf("deploy/k8s/prometheusrule.yaml differs from deploy/prometheus/{rules,alerts}.yml; run `make generate`")
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	from := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(from) < 2 {
		t.Fatalf("%d FROM lines, want a multi-stage build", len(from))
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil || !strings.HasPrefix(from[0][1], "golang:"+string(goVersion[1])) {
		t.Errorf("build stage %s does not match go.mod's Go %s", from[0][1], goVersion[1])
	}
	final := df[strings.LastIndex(df, "FROM"):]
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(final)
	if user == nil || strings.HasPrefix(user[1], "0") || strings.HasPrefix(user[1], "root") {
		t.Errorf("the final stage must set a non-root USER, got %v", user)
	}
	if !strings.Contains(final, "distroless/static") || !strings.Contains(df, "CGO_ENABLED=0") {
		t.Error("want a static binary on distroless/static, for a small image")
	}
	if !strings.Contains(final, `ENTRYPOINT ["/usr/local/bin/cskpi"]`) {
		t.Error("the image's entrypoint should be the cskpi binary")
	}
}

// dig walks nested YAML maps.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// subset reports whether every label of sel is in labels (and sel is not empty).
func subset(sel any, labels map[string]any) bool {
	m, ok := sel.(map[string]any)
	if !ok || len(m) == 0 {
		return false
	}
	for k, v := range m {
		if labels[k] != v {
			return false
		}
	}
	return true
}
