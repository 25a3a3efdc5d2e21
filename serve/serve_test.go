package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/version"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/pipeline"
	"github.com/cskpi/cskpi/traffic/produce"
	"github.com/cskpi/cskpi/windows"
)

// unreachableOptions are serve's options with a broker and a Redis that are both closed,
// logging to log.
func unreachableOptions(t *testing.T, log io.Writer) Options {
	return Options{
		Pipeline: pipeline.Options{
			Brokers: []string{closedAddr(t)},
			Group:   "cskpi-test",
			Topics:  pipeline.Topics{Messages: "cs.messages", Orders: "cs.orders"},
			Windows: windows.Config{Location: time.UTC, Thresholds: []int64{15000}},
		},
		Redis:         &redis.UniversalOptions{Addrs: []string{closedAddr(t)}},
		ListenAddress: "127.0.0.1:0",
		Logger:        slog.New(slog.NewTextHandler(log, nil)),
	}
}

// TestBuildInfo: the registry serve makes for itself exports cskpi_build_info = 1, labelled
// with what runs (prometheus/common/version). Neither Kafka nor Redis needs to answer for
// that; both addresses here are closed.
func TestBuildInfo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		opt := unreachableOptions(t, io.Discard)
		opt.OnListen = func(a net.Addr) { addr <- a }
		done <- Run(ctx, opt)
	}()
	url := metricsURL(t, addr, done)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	mf := families["cskpi_build_info"]
	if mf == nil || len(mf.GetMetric()) != 1 {
		t.Fatalf("/metrics has no single cskpi_build_info series: %v", mf)
	}
	m := mf.GetMetric()[0]
	if v := m.GetGauge().GetValue(); v != 1 {
		t.Errorf("cskpi_build_info = %v, want 1", v)
	}
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	for name, want := range map[string]string{
		"version":   version.Version,
		"revision":  version.GetRevision(),
		"branch":    version.Branch,
		"goversion": runtime.Version(),
		"goos":      runtime.GOOS,
		"goarch":    runtime.GOARCH,
	} {
		if got, ok := labels[name]; !ok || got != want {
			t.Errorf("cskpi_build_info{%s=%q}, want %q (labels %v)", name, got, want, labels)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Error("serve did not stop within 30 s of its context's end")
	}
}

// closedAddr is a loopback address nothing listens on.
// metricsURL waits for Run to listen (its OnListen sends to addr) and returns its
// /metrics; Run ending first (on done) or 10 s without listening fails the test.
func metricsURL(t *testing.T, addr <-chan net.Addr, done <-chan error) string {
	t.Helper()
	select {
	case a := <-addr:
		return "http://" + a.String() + "/metrics"
	case err := <-done:
		t.Fatalf("serve ended before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not listen within 10 s")
	}
	return ""
}

func closedAddr(t *testing.T) string {
	return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
}

// TestBadShopsFileAtStart: a directory that does not load refuses the start with an error
// naming the file, the line, the shop and the key; no log line talks of a previous
// directory staying in force, as there is none.
func TestBadShopsFileAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shops.yml")
	if err := os.WriteFile(path, []byte("shops:\n  shop-001:\n    name: a\n  shop-002:\n    nmae: b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	opt := unreachableOptions(t, &log)
	opt.ShopsFile = path
	err := Run(context.Background(), opt)
	want := "--shops.file: " + path + `: line 5: shop shop-002: unknown field "nmae" (did you mean "name"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("Run: %v\nwant %s", err, want)
	}
	if strings.Contains(log.String(), "previous") || strings.Contains(log.String(), "stays in force") {
		t.Errorf("the start-up log speaks of a previous directory:\n%s", log.String())
	}
}

// TestStartAndStopLines: serve says what it serves when it starts (the bound address, the
// brokers, group and topics, Redis, the clock), and when its context ends, why it stopped,
// the partitions it released, the records it applied and how long it ran; a stop that its
// context asked for is not an error.
func TestStartAndStopLines(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "cs.messages", "cs.orders", "cs.deadletter"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	mr := miniredis.RunT(t)
	now := time.Now().UTC()
	var lines [][]byte
	for i, sender := range []string{"buyer", "agent"} {
		lines = append(lines, fmt.Appendf(nil, `{"topic":"messages","event_id":"m-%d","shop_id":"shop-001","buyer_id":"b1","sender":%q,"agent_id":"shop-001:a","ts":%q}`,
			i, sender, now.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano)))
	}
	if _, err := produce.Lines(t.Context(), lines, produce.Options{Brokers: cluster.ListenAddrs()}); err != nil {
		t.Fatal(err)
	}

	log := &testenv.SyncBuffer{}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Pipeline: pipeline.Options{
				Brokers: cluster.ListenAddrs(),
				Group:   "cskpi-lines",
				Topics:  pipeline.Topics{Messages: "cs.messages", Orders: "cs.orders", Deadletter: "cs.deadletter"},
				Windows: windows.Config{Location: time.UTC, Thresholds: []int64{15000}},
			},
			Redis:         &redis.UniversalOptions{Addrs: []string{mr.Addr()}},
			ListenAddress: "127.0.0.1:0",
			OnListen:      func(a net.Addr) { addr <- a },
			Logger:        slog.New(slog.NewTextHandler(log, nil)),
		})
	}()
	url := metricsURL(t, addr, done)
	testenv.WaitFor(t, 30*time.Second, "both records applied", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `cskpi_events_total{outcome="applied",topic="cs.messages"} 2`)
	})
	cancel(errors.New("terminated signal received")) // what signal.NotifyContext's cause says
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v, want nil for a stop its context asked for", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30 s of its context's end")
	}
	out := log.String()
	for _, want := range []string{
		`msg="cskpi serving" version=`,
		` listen=` + strings.TrimPrefix(url[:strings.LastIndex(url, "/")], "http://") + ` brokers=[` + cluster.ListenAddrs()[0] + `] group=cskpi-lines topics="[cs.messages cs.orders]" deadletter=cs.deadletter redis=[` + mr.Addr() + `] key_prefix=cskpi clock=wall timezone=UTC`,
		`msg="cskpi stopped" reason="terminated signal received" partitions_released="[0 1]" records_applied=2 uptime=`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the log:\n%s", want, out)
		}
	}
}
