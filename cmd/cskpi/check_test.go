package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/internal/testlog"
)

// checkNow keeps the future check of the golden files from moving with the clock.
const checkNow = "--now=2026-11-21T00:00:00Z"

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string // "" means none
	}{
		{"rejects", []string{"testdata/check.jsonl"}, 1, ""},
		{"clean", []string{"testdata/check-ok.jsonl"}, 0, ""},
		{"not records", []string{"testdata/check-bad.jsonl"}, 2, ""},
		{"several files", []string{"testdata/check-ok.jsonl", "testdata/events.jsonl", "testdata/events.kcat.jsonl"}, 1, ""},
		{"kcat topics named otherwise", []string{"testdata/events.kcat.jsonl", "--kafka.topic.orders=shop.orders"}, 2, ""},
		{"missing file", []string{"testdata/absent.jsonl"}, 2, "open testdata/absent.jsonl: no such file or directory"},
		{"no file", nil, 2, "required argument 'file' not provided"},
		{"bad now", []string{"testdata/check-ok.jsonl", "--now=yesterday"}, 2, `--now: not an RFC 3339 time such as 2026-11-21T08:00:00+08:00: "yesterday"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"check"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--now") {
				args = append(args, checkNow)
			}
			code := Main(context.Background(), args, &out, &errb, nil)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.code, errb.String())
			}
			if tc.stderr == "" && errb.Len() > 0 || !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr %q, want %q", errb.String(), tc.stderr)
			}
			if tc.stderr == "" {
				golden(t, filepath.Join("check", strings.ReplaceAll(tc.name, " ", "-")+".txt"), out.String())
			}
		})
	}
}

func TestCheckStdin(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "check-ok.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdin := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = stdin })
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"check", checkNow, "-"}, &out, &errb, nil); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "Checking -\n") || !strings.Contains(out.String(), "SUCCESS: 3 records") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestCheckAgreesWithRecompute: on a log with every outcome and every reject reason, check
// counts what recompute exports in cskpi_events_total and cskpi_events_rejected_total.
func TestCheckAgreesWithRecompute(t *testing.T) {
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	lines := testlog.Lines(testlog.Config{Seed: 5, Records: 2000, Start: now.Add(-20 * 24 * time.Hour), Now: now})
	path := filepath.Join(t.TempDir(), "log.jsonl")
	if err := os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	nowFlag := "--now=" + now.Format(time.RFC3339)

	var rec, errb bytes.Buffer
	if code := Main(context.Background(), []string{"recompute", "--file", path, nowFlag}, &rec, &errb, nil); code != 0 {
		t.Fatalf("recompute: exit %d: %s", code, errb.String())
	}
	want := map[string]int{} // "outcome/role" or "  reason/role" as check's rows name them
	counter := regexp.MustCompile(`(?m)^cskpi_events_(?:total\{outcome|rejected_total\{reason)="([a-z_]+)",topic="cs\.([a-z]+)"\} ([0-9]+)$`)
	for _, m := range counter.FindAllStringSubmatch(rec.String(), -1) {
		n, _ := strconv.Atoi(m[3])
		key := m[1]
		if strings.HasPrefix(m[0], "cskpi_events_rejected_total") {
			key = "  " + key
		}
		want[key+"/"+m[2]] += n
	}

	var out bytes.Buffer
	errb.Reset()
	if code := Main(context.Background(), []string{"check", path, nowFlag}, &out, &errb, nil); code != 1 {
		t.Fatalf("check: exit %d: %s", code, errb.String())
	}
	got := map[string]int{}
	row := regexp.MustCompile(`(?m)^  ((?:  )?[a-z_]+) +([0-9]+) +([0-9]+) +[0-9]+$`)
	for _, m := range row.FindAllStringSubmatch(out.String(), -1) {
		msgs, _ := strconv.Atoi(m[2])
		orders, _ := strconv.Atoi(m[3])
		got[m[1]+"/messages"] += msgs
		got[m[1]+"/orders"] += orders
	}
	for k, v := range got {
		if v == 0 {
			delete(got, k)
		}
	}
	reasons := 0
	for k := range want {
		if strings.HasPrefix(k, "  ") {
			reasons++
		}
	}
	if reasons != 2*len(event.Reasons) {
		t.Errorf("the log has %d (reason, topic) pairs, not all %d: %v", reasons, 2*len(event.Reasons), want)
	}
	if len(got) != len(want) {
		t.Errorf("check counted %v\nrecompute %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: check %d, recompute %d", k, got[k], v)
		}
	}
}
