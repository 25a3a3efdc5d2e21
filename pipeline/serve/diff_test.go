package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/pipeline"
	"github.com/cskpi/cskpi/pipeline/jsonl"
	"github.com/cskpi/cskpi/pipeline/produce"
	"github.com/cskpi/cskpi/pipeline/serve"
	"github.com/cskpi/cskpi/pipeline/synth"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/reference"
)

const (
	topicM, topicO, topicDL = "cs.messages", "cs.orders", "cs.deadletter"
	partitions              = 4
)

// fixture is one seeded event log published to a fresh broker, and its reference result.
type fixture struct {
	kafka *testenv.Kafka
	redis *testenv.Redis
	lines [][]byte
	ref   reference.Result
	want  map[string]float64
}

func newFixture(t *testing.T, seed int64, records int, redisOpt testenv.RedisOptions) *fixture {
	t.Helper()
	f := &fixture{
		kafka: testenv.StartKafka(t, partitions, topicM, topicO, topicDL),
		redis: testenv.StartRedis(t, redisOpt),
	}
	start := time.Now().Add(-13 * 24 * time.Hour).Truncate(time.Hour)
	f.lines = synth.TestLog(synth.TestLogConfig{Seed: seed, Records: records, Start: start, Shops: 3})
	var recs []jsonl.Record
	for i, l := range f.lines {
		r, err := jsonl.Parse(l)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		recs = append(recs, r)
	}
	ref, err := reference.ComputeRecords(recs, reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.ref = ref
	f.want = map[string]float64{}
	for _, s := range ref.Series {
		f.want[s.Key()] = s.Value
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := produce.Lines(ctx, f.lines, produce.Options{Brokers: f.kafka.Brokers, Topics: produce.Topics{Messages: topicM, Orders: topicO}})
	if err != nil || n != int64(len(f.lines)) {
		t.Fatalf("produce: %d of %d: %v", n, len(f.lines), err)
	}
	return f
}

// kpiSeries parses an exposition and keeps the KPI families, keyed like kpi.Series.Key.
func kpiSeries(t *testing.T, text []byte) (map[string]float64, map[string]float64) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parsing exposition: %v", err)
	}
	fams := map[string]bool{}
	for _, f := range kpi.Families() {
		fams[f.Name] = true
	}
	out, health := map[string]float64{}, map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := kpi.Series{Name: name}
			var rest []string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "shop":
					s.Shop = lp.GetValue()
				case "agent":
					s.Agent = lp.GetValue()
				case "window":
					s.Window = lp.GetValue()
				case "le":
					s.Le = lp.GetValue()
				default:
					rest = append(rest, lp.GetName()+"="+lp.GetValue())
				}
			}
			switch {
			case fams[name]:
				out[s.Key()] = m.GetGauge().GetValue()
			case name == "cskpi_events_total" || name == "cskpi_consumer_lag":
				v := m.GetCounter().GetValue()
				if name == "cskpi_consumer_lag" {
					v = m.GetGauge().GetValue()
				}
				sort.Strings(rest)
				health[name+"{"+strings.Join(rest, ",")+"}"] = v
			}
		}
	}
	return out, health
}

// diff lists the series that differ, at most max of them.
func diff(got, want map[string]float64, max int) []string {
	var out []string
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		g, gok := got[k]
		w, wok := want[k]
		if gok == wok && g == w {
			continue
		}
		out = append(out, fmt.Sprintf("%s: serve=%s recompute=%s", k, show(g, gok), show(w, wok)))
	}
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("... and %d more", len(out)-max))
	}
	return out
}

func show(v float64, ok bool) string {
	if !ok {
		return "absent"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func scrape(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return b.Bytes(), err
}

// awaitMatch polls /metrics until every KPI series equals the reference, or fails with the
// difference. Equality is only reachable once all records are applied, so polling to it is
// a wait on a condition, not on time.
func awaitMatch(t *testing.T, url string, want map[string]float64, records int, timeout time.Duration) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []string
	var health map[string]float64
	var settledSince time.Time
	for time.Now().Before(deadline) {
		text, err := scrape(url)
		if err == nil {
			var got map[string]float64
			got, health = kpiSeries(t, text)
			last = diff(got, want, 40)
			if len(last) == 0 {
				return health
			}
			// Once every record has an outcome and a few refreshes have passed, a
			// difference is final: fail now rather than at the deadline.
			if consumed(health) == records && records > 0 {
				if settledSince.IsZero() {
					settledSince = time.Now()
				} else if time.Since(settledSince) > 2*time.Second {
					break
				}
			}
		}
		time.Sleep(100 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
	t.Fatalf("serve did not match recompute (%d reference series); difference:\n%s\nhealth: %v",
		len(want), strings.Join(last, "\n"), health)
	return nil
}

// consumed sums cskpi_events_total over topics and outcomes (-1 when absent).
func consumed(health map[string]float64) int {
	n, seen := 0.0, false
	for k, v := range health {
		if strings.HasPrefix(k, "cskpi_events_total{") {
			n += v
			seen = true
		}
	}
	if !seen {
		return -1
	}
	return int(n)
}

func windowsConfig(t *testing.T) windows.Config {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return windows.Config{Location: loc, Thresholds: []int64{15000, 180000}}
}

// TestDifferential: seeded logs through the streaming service with the event clock give
// exactly recompute's series, series by series, and the same outcome counts.
func TestDifferential(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			f := newFixture(t, seed, 6000, testenv.RedisOptions{})
			ctx, cancel := context.WithCancel(context.Background())
			addr := make(chan net.Addr, 1)
			done := make(chan error, 1)
			reg := prometheus.NewRegistry()
			began := time.Now()
			go func() {
				done <- serve.Run(ctx, serve.Options{
					Pipeline: pipeline.Options{
						Brokers: f.kafka.Brokers, Group: "diff", Windows: windowsConfig(t), EventClock: true,
						Topics:         pipeline.Topics{Messages: topicM, Orders: topicO, Deadletter: topicDL},
						SessionTimeout: 2 * time.Second,
					},
					Redis:         &redis.UniversalOptions{Addrs: []string{f.redis.Addr}},
					ListenAddress: "127.0.0.1:0",
					OnListen:      func(a net.Addr) { addr <- a },
					Registry:      reg,
				})
			}()
			url := "http://" + (<-addr).String() + "/metrics"
			health := awaitMatch(t, url, f.want, len(f.lines), 90*time.Second)
			elapsed := time.Since(began)
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			for k, n := range f.ref.Events {
				name := map[string]string{"messages": topicM, "orders": topicO}[k[0]]
				key := "cskpi_events_total{outcome=" + k[1] + ",topic=" + name + "}"
				if health[key] != float64(n) {
					t.Errorf("%s = %v, recompute %d", key, health[key], n)
				}
			}
			t.Logf("%d records matched %d series in %v (%.0f records/s incl. start-up); redis used_memory %d bytes",
				len(f.lines), len(f.want), elapsed.Round(time.Millisecond), float64(len(f.lines))/elapsed.Seconds(), f.redis.UsedMemory(t))
		})
	}
}

// TestDifferentialKilled: the service SIGKILLed at random points and restarted still ends
// exactly at recompute's series.
func TestDifferentialKilled(t *testing.T) {
	bin := testenv.BuildCskpi(t)
	f := newFixture(t, 7, 60000, testenv.RedisOptions{})
	rng := rand.New(rand.NewPCG(7, 7))
	port := testenv.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve",
			"--kafka.brokers="+strings.Join(f.kafka.Brokers, ","), "--kafka.group=killed",
			"--kafka.session-timeout=2s", "--redis.addr="+f.redis.Addr, "--clock=event",
			"--batch.size=20", "--web.listen-address=127.0.0.1:"+strconv.Itoa(port))
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// Kill points are fractions of the log, read from the offsets committed in Redis, so
	// each kill lands mid-consumption however fast the machine is.
	rdb := f.redis.Client(t)
	progress := func() int64 {
		var n int64
		for p := range partitions {
			for _, topic := range []string{topicM, topicO} {
				v, _ := rdb.HGet(context.Background(), fmt.Sprintf("cskpi:{p%d}:meta", p), "off:"+topic).Int64()
				n += v
			}
		}
		return n
	}
	const kills = 5
	targets := make([]int64, kills)
	for i := range targets {
		targets[i] = int64(len(f.lines)) * int64(i*16+4+rng.IntN(10)) / 100
	}
	for i, target := range targets {
		cmd := start()
		testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("serve to apply %d records", target), func() bool {
			return progress() >= target
		})
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		t.Logf("kill %d at %d of %d records applied", i+1, progress(), len(f.lines))
	}
	cmd := start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("serve log:\n%s", b)
		}
	}()
	awaitMatch(t, base+"/metrics", f.want, -1, 120*time.Second)
	t.Logf("%d records, %d kills: matched %d series", len(f.lines), kills, len(f.want))
}
