package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRecomputeGolden(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"recompute", "--file", filepath.Join("testdata", "events.jsonl"),
		"--now", "2026-11-21T00:00:00Z"}, &out, &errb, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	golden := filepath.Join("testdata", "recompute.prom")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("recompute output differs from %s (run go test -update to accept):\n%s", golden, out.String())
	}
	for _, line := range []string{
		`cskpi_responses{shop="shop-001",window="15m"} 2`,
		`cskpi_response_time_seconds_sum{shop="shop-001",window="15m"} 27.25`,
		`cskpi_inquiries_guided{shop="shop-001",window="24h"} 1`,
		`cskpi_guided_gmv_yuan{shop="shop-001",window="24h"} 89`,
		`cskpi_events_total{outcome="duplicate",topic="cs.messages"} 1`,
		`cskpi_events_rejected_total{reason="malformed",topic="cs.orders"} 1`,
	} {
		if !strings.Contains(out.String(), line+"\n") {
			t.Errorf("missing %s", line)
		}
	}
}

func TestFlagsAndEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		err  string
	}{
		{"help", []string{"--help"}, nil, 0, ""},
		{"unknown command", []string{"nope"}, nil, 2, "expected command"},
		{"bad threshold", []string{"recompute", "--file", "testdata/events.jsonl", "--response.thresholds", "1500ms"}, nil, 1, "whole number of seconds"},
		{"env fallback", []string{"recompute", "--file", "testdata/events.jsonl"}, map[string]string{"CSKPI_TIMEZONE": "Mars/Olympus"}, 1, "--timezone"},
		{"flag beats env", []string{"recompute", "--file", "testdata/events.jsonl", "--timezone", "UTC"}, map[string]string{"CSKPI_TIMEZONE": "Mars/Olympus"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := Main(context.Background(), tc.args, &out, &errb, nil)
			if code != tc.code || !strings.Contains(errb.String(), tc.err) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, tc.code, errb.String(), tc.err)
			}
		})
	}
}
