package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestLoadgenShopPrefix: a prefix that makes invalid shop ids is a usage error naming the
// flag, from the command line or CSKPI_SHOP_PREFIX, before anything is published.
func TestLoadgenShopPrefix(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		err  string
	}{
		{"a space", []string{"--shop.prefix=my shop-"}, "", `cskpi: --shop.prefix: "my shop-": a shop id holds only letters, digits, '.', '_' and '-'`},
		{"empty", []string{"--shop.prefix="}, "", `cskpi: --shop.prefix: empty`},
		{"too long", []string{"--shop.prefix=" + strings.Repeat("x", 62)}, "", `cskpi: --shop.prefix: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx": the shop ids would be 65 bytes, over 64`},
		{"too long for the shops", []string{"--shop.prefix=" + strings.Repeat("x", 61), "--shops=1000"}, "", `the shop ids would be 65 bytes, over 64`},
		{"from the environment", nil, "商店-", `cskpi: --shop.prefix (from CSKPI_SHOP_PREFIX): "商店-"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("CSKPI_SHOP_PREFIX", tc.env)
			}
			var out, errb bytes.Buffer
			args := append([]string{"loadgen", "--kafka.brokers=" + closedAddr(t), "--duration=1s"}, tc.args...)
			if code := Main(context.Background(), args, &out, &errb, nil); code != 2 || !strings.Contains(errb.String(), tc.err) {
				t.Errorf("exit %d (want 2), stderr %q (want %q)", code, errb.String(), tc.err)
			}
		})
	}
}

// TestLoadgenEndsAnswered: a --duration run ends with the buyers it left waiting answered,
// and its last log line says how many.
func TestLoadgenEndsAnswered(t *testing.T) {
	errb := loadgenOnOwnBroker(t, "--rate=200", "--duration=1s")
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, `msg="loadgen stopped"`) || !strings.Contains(last, "answered_at_end=") || !strings.Contains(last, "left_waiting=0") {
		t.Errorf("last line %q, want how many buyers the end answered and none left waiting", last)
	}
	if !strings.Contains(errb.String(), "shop_prefix=load-") {
		t.Errorf("stderr:\n%s", errb.String())
	}
}

// loadgenOnOwnBroker runs loadgen with args on a broker of its own, and returns its stderr; a run
// that does not exit 0 fails the test.
func loadgenOnOwnBroker(t *testing.T, args ...string) *bytes.Buffer {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "cs.messages", "cs.orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"loadgen", "--kafka.brokers=" + strings.Join(c.ListenAddrs(), ",")}, args...), &out, &errb, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	return &errb
}
