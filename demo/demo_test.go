package demo

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
)

// TestDemoServesEveryFamily: within 10 s of start the demo exports every KPI family of
// CONTRACT §3 and the health metrics, with the slow shop visibly slower.
func TestDemoServesEveryFamily(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	table := &testenv.SyncBuffer{}
	began := time.Now()
	go func() {
		done <- Run(ctx, Options{
			ListenAddress: "127.0.0.1:0",
			Windows:       windows.Config{Location: loc, Thresholds: []int64{15000, 180000}},
			Out:           table,
			Every:         time.Second,
			Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
			OnListen:      func(a net.Addr) { addr <- a },
		})
	}()
	url := "http://" + (<-addr).String() + "/metrics"
	want := []string{"cskpi_events_total", "cskpi_consumer_lag", "cskpi_stream_time_seconds", "cskpi_redis_up",
		"cskpi_batch_apply_seconds", "cskpi_freshness_seconds",
		// The demo's own shop directory: two shops on different hours and zones.
		`cskpi_shop_info{name="杭州旗舰店",shop="shop-002",team="hangzhou"} 1`,
		`cskpi_shop_response_target_seconds{shop="shop-003"} 60`, `cskpi_shop_open{shop="shop-003"}`,
		"cskpi_config_last_reload_successful 1",
		// What runs (serve's own registry has it too: TestBuildInfo in serve/).
		"cskpi_build_info{"}
	for _, f := range kpi.Families() {
		want = append(want, f.Name+"{")
	}
	var missing []string
	testenv.WaitFor(t, 10*time.Second-time.Since(began), "every metric family on /metrics", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		missing = missing[:0]
		for _, w := range want {
			if !strings.Contains(string(body), w) {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0
	})
	testenv.WaitFor(t, 5*time.Second, "the KPI table", func() bool { return strings.Contains(table.String(), "avg response 15m") })
	t.Logf("all families served after %v", time.Since(began).Round(time.Millisecond))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("demo: %v", err)
	}
	t.Logf("table:\n%s", table.String())
}

// TestBusyWebPort: a taken web address ends the demo at once with an error naming it,
// before a broker starts or history is published.
func TestBusyWebPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var brokers []string
	err = Run(context.Background(), Options{
		ListenAddress: taken.Addr().String(),
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnBrokers:     func(b []string) { brokers = b },
	})
	if err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("Run on a taken address: %v, want an error naming %s", err, taken.Addr())
	}
	if brokers != nil {
		t.Errorf("a broker was started (%v) before the busy port was found", brokers)
	}
}

// TestBadShopsFile: a shop directory that does not load ends the demo at once with the
// error serve would give, before a broker starts, history is published or the banner printed.
func TestBadShopsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shops.yml")
	if err := os.WriteFile(path, []byte("shops:\n  shop-002:\n    nmae: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var brokers []string
	var out bytes.Buffer
	err := Run(context.Background(), Options{
		ListenAddress: "127.0.0.1:0",
		ShopsFile:     path,
		Out:           &out,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnBrokers:     func(b []string) { brokers = b },
	})
	want := "--shops.file: " + path + `: line 3: shop shop-002: unknown field "nmae" (did you mean "name"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("Run: %v\nwant %s", err, want)
	}
	if brokers != nil || out.Len() > 0 {
		t.Errorf("a broker was started (%v) or the banner printed (%q) before the directory was refused", brokers, out.String())
	}
}

// TestBanner: the commands the banner suggests run as printed: with the cskpi the demo runs
// as (go run's, or the executable's path), against the demo's broker.
func TestBanner(t *testing.T) {
	for _, tc := range []struct {
		command string
		want    []string
	}{
		{"go run ./cmd/cskpi", []string{
			"  go run ./cmd/cskpi produce --kafka.brokers=127.0.0.1:9092 --file=events.jsonl\n",
			"  go run ./cmd/cskpi loadgen --kafka.brokers=127.0.0.1:9092 --rate=50 --duration=1m   (shops of its own, load-001…)\n",
			"(go run: from the repository's root, where make demo runs.)\n",
		}},
		{"/home/me/bin/cskpi", []string{
			"  /home/me/bin/cskpi produce --kafka.brokers=127.0.0.1:9092 --file=events.jsonl\n",
			"  /home/me/bin/cskpi loadgen --kafka.brokers=127.0.0.1:9092 --rate=50 --duration=1m",
		}},
	} {
		var b bytes.Buffer
		banner(&b, Options{Shops: 6, Rate: 5, Every: 5 * time.Second, Command: tc.command}, "127.0.0.1:9092")
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("banner lacks %q:\n%s", w, b.String())
			}
		}
		if strings.Contains(b.String(), "\n  cskpi ") {
			t.Errorf("banner suggests a bare cskpi:\n%s", b.String())
		}
		if tc.command[0] == '/' && strings.Contains(b.String(), "go run") {
			t.Errorf("banner of a built cskpi mentions go run:\n%s", b.String())
		}
	}
}

// TestInvocation: go run's binary (in a go-build directory) is "go run ./cmd/cskpi"; a
// cskpi that is the one on the PATH is "cskpi"; any other, its absolute path.
func TestInvocation(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "cskpi")
	other := filepath.Join(t.TempDir(), "cskpi")
	for _, p := range []string{exe, other} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	onPath := func(string) (string, error) { return exe, nil }
	notOnPath := func(string) (string, error) { return "", os.ErrNotExist }
	for _, tc := range []struct {
		argv0, exe string
		lookPath   func(string) (string, error)
		want       string
	}{
		{"/tmp/go-build3409923751/b001/exe/cskpi", "/tmp/go-build3409923751/b001/exe/cskpi", onPath, "go run ./cmd/cskpi"},
		{"/var/cache/tmp/go-build123/b001/exe/cskpi", "/var/cache/tmp/go-build123/b001/exe/cskpi", notOnPath, "go run ./cmd/cskpi"},
		{"cskpi", exe, onPath, "cskpi"},
		{"./bin/cskpi", other, onPath, other},
		{"./bin/cskpi", exe, notOnPath, exe},
	} {
		if got := invocation(tc.argv0, tc.exe, tc.lookPath); got != tc.want {
			t.Errorf("invocation(%q, %q) = %q, want %q", tc.argv0, tc.exe, got, tc.want)
		}
	}
}
