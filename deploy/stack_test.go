package deploy

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// What a fresh clone deploys, rendered as `kubectl apply -k` and `docker compose` would
// render it, without a cluster or a container engine: kustomize's own library (krusty)
// builds the manifests, and a kustomize or kubectl binary, where one is installed, must
// build the same; compose's own loader (compose-go, what `docker compose config` runs)
// validates the compose file.

const (
	deployingFile = "docs/DEPLOYING.md"
	// The defaults of serve's flags the manifests rely on (README, "Flags").
	defaultGroup    = "cskpi"
	defaultMessages = "cs.messages"
	defaultOrders   = "cs.orders"
)

// kustomize renders the kustomization in dir (relative to this package) into its
// documents, keyed by kind/name.
func kustomize(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	docs := byKindName(t, dir, out)
	// The binary users run must agree with the library: kustomize itself, or kubectl's.
	var cmd *exec.Cmd
	if p, err := exec.LookPath("kustomize"); err == nil {
		cmd = exec.Command(p, "build", dir)
	} else if p, err := exec.LookPath("kubectl"); err == nil {
		cmd = exec.Command(p, "kustomize", dir)
	}
	if cmd != nil {
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		bin, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
		}
		if got := byKindName(t, dir, bin); !reflect.DeepEqual(got, docs) {
			t.Errorf("%s renders differently from the kustomize library:\n%s\nlibrary:\n%s", strings.Join(cmd.Args, " "), bin, out)
		}
	} else {
		t.Logf("no kustomize or kubectl binary: rendered with the kustomize library alone")
	}
	return docs
}

func byKindName(t *testing.T, dir string, out []byte) map[string]map[string]any {
	t.Helper()
	docs := map[string]map[string]any{}
	for _, doc := range yamlDocs(t, dir+" (rendered)", out) {
		kind, _ := doc["kind"].(string)
		name, _ := dig(doc, "metadata", "name").(string)
		if kind == "" || name == "" || doc["apiVersion"] == nil {
			t.Errorf("%s: a rendered document without apiVersion, kind or metadata.name: %v", dir, doc)
		}
		if docs[kind+"/"+name] != nil {
			t.Errorf("%s: %s/%s rendered twice", dir, kind, name)
		}
		docs[kind+"/"+name] = doc
	}
	return docs
}

// only returns the single rendered document of a kind.
func only(t *testing.T, docs map[string]map[string]any, kind string) map[string]any {
	t.Helper()
	var found []map[string]any
	for k, d := range docs {
		if strings.HasPrefix(k, kind+"/") {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d documents of kind %s, want 1", len(found), kind)
	}
	return found[0]
}

// documentedImage is what `make image` tags with its defaults: $(IMAGE):$(VERSION).
func documentedImage(t *testing.T) string {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	image := regexp.MustCompile(`(?m)^IMAGE\s*\?=\s*(\S+)`).FindSubmatch(mk)
	tag := regexp.MustCompile(`(?m)^IMAGE_TAG\s*\?=\s*\$\(VERSION\)`).Find(mk)
	if image == nil || tag == nil {
		t.Fatal("the Makefile does not define IMAGE ?= and IMAGE_TAG ?= $(VERSION) for `make image`")
	}
	version, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return string(image[1]) + ":" + strings.TrimSpace(string(version))
}

// TestKustomizeStack: deploy/k8s renders, each document parses, and the Deployment runs the
// image `make image` builds from this checkout (docs/DEPLOYING.md, "The image"), not a tag
// nobody publishes.
func TestKustomizeStack(t *testing.T) {
	docs := kustomize(t, "k8s")
	for _, kind := range []string{"ConfigMap", "Service", "Deployment", "ServiceMonitor", "PrometheusRule"} {
		only(t, docs, kind)
	}
	if len(docs) != 5 {
		t.Errorf("%d documents rendered, want the 5 above: %v", len(docs), slices.Sorted(maps.Keys(docs)))
	}
	for k, d := range docs {
		if dig(d, "metadata", "labels", "app.kubernetes.io/part-of") != "cskpi" {
			t.Errorf("%s lacks the label app.kubernetes.io/part-of=cskpi", k)
		}
	}
	dep, cm := only(t, docs, "Deployment"), only(t, docs, "ConfigMap")
	containers, _ := dig(dep, "spec", "template", "spec", "containers").([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers", len(containers))
	}
	want := documentedImage(t)
	if got := dig(containers[0], "image"); got != want {
		t.Errorf("the Deployment runs image %v, want %s: what `make image` builds (set newTag in deploy/k8s/kustomization.yaml to the VERSION file)", got, want)
	}
	envFrom, _ := dig(containers[0], "envFrom").([]any)
	if len(envFrom) != 1 || dig(envFrom[0], "configMapRef", "name") != dig(cm, "metadata", "name") {
		t.Errorf("the container reads ConfigMap %v, rendered as %v", envFrom, dig(cm, "metadata", "name"))
	}
	deploying, err := os.ReadFile(filepath.Join(root, deployingFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"make image", "make image-push", "kubectl apply -k deploy/k8s"} {
		if !bytes.Contains(deploying, []byte(s)) {
			t.Errorf("%s does not say %q", deployingFile, s)
		}
	}
}

// documentedPartitions is the partition count of the topics as docs/DEPLOYING.md and the
// compose stack create them: every `--partitions N` in either, all the same.
func documentedPartitions(t *testing.T) int {
	t.Helper()
	n := 0
	for _, f := range []string{filepath.Join(root, deployingFile), "docker-compose.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ms := regexp.MustCompile(`--partitions[ =](\d+)`).FindAllSubmatch(b, -1)
		if len(ms) == 0 {
			t.Fatalf("%s creates no topic with --partitions", f)
		}
		for _, m := range ms {
			v, _ := strconv.Atoi(string(m[1]))
			if n != 0 && v != n {
				t.Fatalf("%s: --partitions %d, elsewhere %d: the topics must have equal partition counts (CONTRACT §1)", f, v, n)
			}
			n = v
		}
	}
	return n
}

// TestKEDAScaledObject: the optional component scales the Deployment (and nothing else) on
// the consumer lag of cskpi's group on both input topics, never beyond the partition count
// docs/DEPLOYING.md has the topics created with, and takes its brokers from the ConfigMap.
func TestKEDAScaledObject(t *testing.T) {
	docs := kustomize(t, filepath.Join("overlays", "keda"))
	dep, cm, so := only(t, docs, "Deployment"), only(t, docs, "ConfigMap"), only(t, docs, "ScaledObject")
	if dig(so, "apiVersion") != "keda.sh/v1alpha1" {
		t.Errorf("ScaledObject apiVersion %v", dig(so, "apiVersion"))
	}
	target := dig(so, "spec", "scaleTargetRef")
	if dig(target, "name") != dig(dep, "metadata", "name") || dig(target, "kind") != "Deployment" || dig(target, "apiVersion") != "apps/v1" {
		t.Errorf("scaleTargetRef %v is not the Deployment %v", target, dig(dep, "metadata", "name"))
	}
	if r, ok := dig(dep, "spec").(map[string]any)["replicas"]; ok {
		t.Errorf("the Deployment keeps replicas: %v; every apply would undo the autoscaler's", r)
	}
	partitions := documentedPartitions(t)
	maxR, _ := dig(so, "spec", "maxReplicaCount").(int)
	minR, _ := dig(so, "spec", "minReplicaCount").(int)
	if maxR < 1 || maxR > partitions {
		t.Errorf("maxReplicaCount %d, want 1..%d: an instance beyond the partition count owns nothing", maxR, partitions)
	}
	if minR < 1 || minR > maxR {
		t.Errorf("minReplicaCount %d, want 1..maxReplicaCount %d", minR, maxR)
	}

	data, _ := dig(cm, "data").(map[string]any)
	brokers, _ := data["CSKPI_KAFKA_BROKERS"].(string)
	group, topics := defaultGroup, []string{defaultMessages, defaultOrders}
	if g, ok := data["CSKPI_KAFKA_GROUP"].(string); ok {
		group = g
	}
	triggers, _ := dig(so, "spec", "triggers").([]any)
	var seen []string
	for i, tr := range triggers {
		md, _ := dig(tr, "metadata").(map[string]any)
		if dig(tr, "type") != "kafka" || md["consumerGroup"] != group || md["bootstrapServers"] != brokers {
			t.Errorf("trigger %d is not the lag of consumer group %q at %q: %v", i, group, brokers, tr)
		}
		if md["allowIdleConsumers"] != "false" {
			t.Errorf("trigger %d: allowIdleConsumers %v, want \"false\": replicas capped at the partition count", i, md["allowIdleConsumers"])
		}
		if lag, err := strconv.Atoi(toString(md["lagThreshold"])); err != nil || lag <= 0 {
			t.Errorf("trigger %d: lagThreshold %v", i, md["lagThreshold"])
		}
		topic, _ := md["topic"].(string)
		seen = append(seen, topic)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, topics) {
		t.Errorf("triggers on topics %v, want the lag of both input topics %v", seen, topics)
	}
}

// TestKEDABrokersFollowConfigMap: an overlay that points the pods at other brokers points
// the scaler there too, and the cap holds in the overlay a user writes from the docs.
func TestKEDABrokersFollowConfigMap(t *testing.T) {
	dir := t.TempDir()
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, here)
	if err != nil {
		t.Fatal(err)
	}
	overlay := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [` + filepath.ToSlash(filepath.Join(rel, "k8s")) + `]
components: [` + filepath.ToSlash(filepath.Join(rel, "k8s", "keda")) + `]
configMapGenerator:
  - name: cskpi
    behavior: merge
    literals: ["CSKPI_KAFKA_BROKERS=b1.kafka.internal:9092,b2.kafka.internal:9092"]
`
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(overlay), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	so := only(t, byKindName(t, dir, out), "ScaledObject")
	triggers, _ := dig(so, "spec", "triggers").([]any)
	for i, tr := range triggers {
		if got := dig(tr, "metadata", "bootstrapServers"); got != "b1.kafka.internal:9092,b2.kafka.internal:9092" {
			t.Errorf("trigger %d: bootstrapServers %v, not the ConfigMap's brokers", i, got)
		}
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	}
	return ""
}

// TestComposeConfig: deploy/docker-compose.yml as `docker compose config` sees it: compose's
// own loader validates it against the compose specification and resolves every reference
// (depends_on, volumes, build context); where the docker compose plugin is installed, it
// must accept the file too.
func TestComposeConfig(t *testing.T) {
	ctx := context.Background()
	details, err := loader.LoadConfigFiles(ctx, []string{"docker-compose.yml"}, ".")
	if err != nil {
		t.Fatal(err)
	}
	details.Environment = types.Mapping{}
	project, err := loader.LoadWithContext(ctx, *details)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if project.Name != "cskpi" {
		t.Errorf("project name %q", project.Name)
	}
	for name, s := range project.Services {
		for dep := range s.DependsOn {
			if _, ok := project.Services[dep]; !ok {
				t.Errorf("%s depends on undefined service %s", name, dep)
			}
		}
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeVolume:
				if _, ok := project.Volumes[v.Source]; !ok {
					t.Errorf("%s mounts undeclared volume %s", name, v.Source)
				}
			case types.VolumeTypeBind:
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s binds %s: %v", name, v.Source, err)
				}
			}
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s builds from %s: %v", name, s.Build.Context, err)
			}
		}
		if s.Image == "" {
			t.Errorf("%s has no image", name)
		}
	}
	// The services that need the topics wait for their creation, and cskpi for Redis.
	for svc, deps := range map[string][]string{"cskpi": {"kafka-topics", "redis"}, "loadgen": {"kafka-topics"}, "kafka-topics": {"kafka"}} {
		for _, d := range deps {
			if _, ok := project.Services[svc].DependsOn[d]; !ok {
				t.Errorf("%s does not wait for %s", svc, d)
			}
		}
	}
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err != nil {
		t.Logf("no docker compose plugin (%v: %s): validated with compose-go alone", err, bytes.TrimSpace(out))
		return
	}
	if out, err := exec.Command("docker", "compose", "-f", "docker-compose.yml", "config", "--quiet").CombinedOutput(); err != nil {
		t.Errorf("docker compose config: %v\n%s", err, out)
	}
}
