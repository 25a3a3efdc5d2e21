package faults_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/reference"
	"github.com/cskpi/cskpi/windows/shops"
)

// TestShopDirectory: `serve --shops.file` equals `recompute` with the same directory —
// business-time sums and each shop's own local dates included; it exports the directory
// (info, open at A, response target); an invalid edit is refused whole with
// cskpi_config_last_reload_successful 0 and the previous directory kept; a valid edit is
// taken on SIGHUP.
func TestShopDirectory(t *testing.T) {
	t.Parallel()
	const records = 6000
	start := time.Now().Add(-13 * 24 * time.Hour).Truncate(time.Hour)
	lines := difftest.TestLog(83, records)
	f := difftest.NewFixtureWith(t, difftest.Options{Lines: lines})
	yaml := difftest.TestShops(start)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	dir, err := shops.ParseDirectory([]byte(yaml), loc)
	if err != nil {
		t.Fatal(err)
	}
	ref, want := difftest.ReferenceWith(t, lines, reference.Options{Shops: dir})
	path := filepath.Join(t.TempDir(), "shops.yml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, f, "serve", "shops", "--shops.file="+path)
	difftest.AwaitMatchFunc(t, p.Scrape, want, records, 90*time.Second)

	info := func(team string) []string { return []string{"shop", "shop-001", "name", "旗舰店", "team", team} }
	p.AwaitMetric(10*time.Second, func(v float64) bool { return v == 1 }, "cskpi_shop_info", info("east")...)
	if v, _ := p.Metric("cskpi_shop_response_target_seconds", "shop", "shop-001"); v != 30 {
		t.Errorf("shop-001 response target %v, want 30", v)
	}
	if v, _ := p.Metric("cskpi_shop_response_target_seconds", "shop", "shop-003"); v != 15 {
		t.Errorf("shop-003 response target %v, want the default 15", v)
	}
	for _, id := range []string{"shop-001", "shop-002", "shop-003"} {
		want := 0.0
		if dir.Shop(id).OpenAt(ref.At) {
			want = 1
		}
		if v, ok := p.Metric("cskpi_shop_open", "shop", id); !ok || v != want {
			t.Errorf("cskpi_shop_open{shop=%s} = %v (%v), want %v at A", id, v, ok, want)
		}
	}
	if v, _ := p.Metric("cskpi_config_last_reload_successful"); v != 1 {
		t.Errorf("reload successful = %v after a valid start", v)
	}

	// The waiting API lists exactly the episodes the waiting gauges count, scene by scene.
	for _, shop := range []string{"shop-001", "shop-002", "shop-003"} {
		for _, scene := range []string{"presale", "aftersale"} {
			for _, q := range []struct{ minWait, gauge string }{{"0s", ""}, {"15s", "15"}, {"1h", "3600"}} {
				code, body, err := p.Get("/api/v1/waiting?limit=1000&shop=" + shop + "&scene=" + scene + "&min_wait=" + q.minWait)
				if err != nil || code != 200 {
					t.Fatalf("waiting API: %d %v %s", code, err, body)
				}
				var r struct {
					Data struct {
						Total int `json:"total"`
					} `json:"data"`
				}
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatal(err)
				}
				name, kv := "cskpi_waiting_conversations", []string{"shop", shop, "scene", scene}
				if q.gauge != "" {
					name, kv = "cskpi_waiting_conversations_over", []string{"shop", shop, "scene", scene, "seconds", q.gauge}
				}
				if v, _ := p.Metric(name, kv...); float64(r.Data.Total) != v || want[key(name, kv...)] != v {
					t.Errorf("%s %s min_wait=%s: the API lists %d, the gauge says %v, recompute %v", shop, scene, q.minWait, r.Data.Total, v, want[key(name, kv...)])
				}
			}
		}
	}
	if code, _, _ := p.Get("/api/v1/waiting?shop=no-such-shop"); code != 404 {
		t.Errorf("an unknown shop: %d, want 404", code)
	}

	// An invalid edit (picked up by the content poll) is refused whole.
	if err := os.WriteFile(path, []byte(strings.Replace(yaml, "America/New_York", "Mars/Olympus", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.AwaitMetric(20*time.Second, func(v float64) bool { return v == 0 }, "cskpi_config_last_reload_successful")
	if v, ok := p.Metric("cskpi_shop_info", info("east")...); !ok || v != 1 {
		t.Errorf("the previous directory is no longer in force after a refused reload")
	}
	if n := difftest.CountLines(p.Log(), "shop directory refused", "Mars/Olympus"); n != 1 {
		t.Errorf("%d ERROR lines for the refused file, want 1 (no repeat per poll)", n)
	}

	// A valid edit, and SIGHUP.
	if err := os.WriteFile(path, []byte(strings.Replace(yaml, "team: east", "team: north", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Signal(syscall.SIGHUP)
	p.AwaitMetric(20*time.Second, func(v float64) bool { return v == 1 }, "cskpi_shop_info", info("north")...)
	p.AwaitMetric(5*time.Second, func(v float64) bool { return v == 1 }, "cskpi_config_last_reload_successful")
	if _, ok := p.Metric("cskpi_shop_info", info("east")...); ok {
		t.Error("the old team's info series is still exported")
	}
	t.Logf("%d records with a directory of 3 shops equal recompute's %d series; invalid edit refused, valid edit taken on SIGHUP", records, len(want))
	p.Stop()
}

// key spells a KPI series key (kpi.Series.Key) from a name and label pairs.
func key(name string, kv ...string) string {
	s := kpi.Series{Name: name}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Set(kv[i], kv[i+1])
	}
	return s.Key()
}
