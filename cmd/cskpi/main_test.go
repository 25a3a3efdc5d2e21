package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/prometheus/common/version"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRecomputeGolden(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"recompute", "--file", filepath.Join("testdata", "events.jsonl"),
		"--now", "2026-11-21T00:00:00Z"}, &out, &errb, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	golden(t, "recompute.prom", out.String())
	for _, line := range []string{
		`cskpi_responses{scene="presale",shop="shop-001",window="24h"} 2`,
		`cskpi_response_time_seconds_sum{scene="presale",shop="shop-001",window="24h"} 27.25`,
		`cskpi_responses{scene="aftersale",shop="shop-001",window="15m"} 1`,
		`cskpi_response_time_seconds_sum{scene="aftersale",shop="shop-001",window="15m"} 90`,
		`cskpi_orders_created_paid_24h{shop="shop-001",window="24h"} 1`,
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

// TestRecomputeKcat: `kcat -C -J` output of the topics is the same log as the event file
// that was published to them (events.kcat.jsonl is events.jsonl as kcat shows it).
func TestRecomputeKcat(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"default topics", nil, 0, ""},
		{"other topic names", []string{"--kafka.topic.messages=shop.chat"}, 1, `events.kcat.jsonl: line 1: kcat envelope of topic \"cs.messages\", which is neither the messages topic \"shop.chat\"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"recompute", "--file", filepath.Join("testdata", "events.kcat.jsonl"), "--now", "2026-11-21T00:00:00Z"}, tc.args...)
			code := Main(context.Background(), args, &out, &errb, nil)
			if code != tc.code || !strings.Contains(errb.String(), tc.err) {
				t.Fatalf("exit %d (want %d): %s", code, tc.code, errb.String())
			}
			if code != 0 {
				return
			}
			// Not golden(): -update must not let this file rewrite the other's result.
			want, err := os.ReadFile(filepath.Join("testdata", "recompute.prom"))
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Errorf("recompute of the kcat dump differs from testdata/recompute.prom:\n%s", out.String())
			}
		})
	}
}

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n%s", path, got)
	}
}

// TestHelp pins each command's --help, so that a flag a command does not read cannot creep
// back into its help.
func TestHelp(t *testing.T) {
	t.Setenv("COLUMNS", "80") // kingpin wraps help to the terminal's width
	for _, tc := range []struct {
		cmd    string
		absent []string // flags that command must not offer
	}{
		{"", []string{"--kafka.", "--redis.", "--web."}},
		{"serve", nil},
		{"demo", []string{"--kafka.brokers", "--kafka.group", "--kafka.topic", "--kafka.tls", "--kafka.sasl", "--redis.", "--clock"}}, // its own broker's --kafka.listen-address only
		{"produce", []string{"--redis.", "--web.", "--kafka.group", "--kafka.topic.deadletter", "--timezone"}},
		{"loadgen", []string{"--redis.", "--web.", "--kafka.group", "--kafka.topic.deadletter", "--timezone"}},
		{"recompute", []string{"--redis.", "--web.", "--kafka.brokers", "--kafka.tls", "--kafka.sasl", "--kafka.group", "--clock"}},
		{"check", []string{"--redis.", "--web.", "--kafka.brokers", "--kafka.tls", "--kafka.sasl", "--kafka.group", "--clock", "--timezone", "--shops.file"}},
	} {
		name := tc.cmd
		if name == "" {
			name = "cskpi"
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"--help"}
			if tc.cmd != "" {
				args = []string{tc.cmd, "--help"}
			}
			var out, errb bytes.Buffer
			if code := Main(context.Background(), args, &out, &errb, nil); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			for _, a := range tc.absent {
				if strings.Contains(errb.String(), a) {
					t.Errorf("%s --help offers %s, which it does not use", name, a)
				}
			}
			golden(t, filepath.Join("help", name+".txt"), errb.String())
		})
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
		{"bad threshold", []string{"recompute", "--file", "testdata/events.jsonl", "--response.thresholds", "1500ms"}, nil, 2, "--response.thresholds: 1500ms is not a whole number of seconds"},
		{"env fallback", []string{"recompute", "--file", "testdata/events.jsonl"}, map[string]string{"CSKPI_TIMEZONE": "Mars/Olympus"}, 2, "--timezone (from CSKPI_TIMEZONE)"},
		{"flag beats env", []string{"recompute", "--file", "testdata/events.jsonl", "--timezone", "UTC"}, map[string]string{"CSKPI_TIMEZONE": "Mars/Olympus"}, 0, ""},
		{"bad enum names its flag", []string{"serve", "--clock=bogus"}, nil, 2, `cskpi: --clock: must be one of wall,event, got "bogus"`},
		{"bad enum from env names its variable", []string{"serve"}, map[string]string{"CSKPI_LOG_FORMAT": "xml"}, 2, `--log.format (from CSKPI_LOG_FORMAT): must be one of logfmt,json, got "xml"`},
		{"bad number names its flag", []string{"loadgen", "--rate=fast"}, nil, 2, `--rate: not a number: "fast"`},
		{"bad duration names its flag", []string{"loadgen", "--duration=soon"}, nil, 2, `--duration: invalid duration "soon"`},
		{"bad bool names its flag", []string{"serve"}, map[string]string{"CSKPI_KAFKA_TLS": "maybe"}, 2, `--kafka.tls (from CSKPI_KAFKA_TLS): not true or false: "maybe"`},
		{"a flag another command reads", []string{"demo", "--redis.addr=localhost:6379"}, nil, 2, "unknown long flag '--redis.addr'"},
		{"a bare bool flag is true", []string{"serve", "--kafka.tls", "--kafka.tls.ca-file=testdata/absent.pem"}, nil, 1, "kafka tls: open testdata/absent.pem"},
		{"help once", []string{"--help"}, nil, 0, "Commands:"},
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
			if n := strings.Count(errb.String(), "usage: "); n > 1 {
				t.Errorf("usage printed %d times", n)
			}
		})
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
}

// TestBusyPortFailsFirst: with the listen address taken, serve must stop on that alone,
// before it dials Redis or Kafka, rather than log their warnings first (the last of them a
// "context canceled" that the listen failure caused).
func TestBusyPortFailsFirst(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"serve", "--web.listen-address=" + busy.Addr().String(),
		"--redis.addr=" + closedAddr(t), "--kafka.brokers=" + closedAddr(t)}, &out, &errb, nil)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "address already in use") || !strings.Contains(lines[0], busy.Addr().String()) {
		t.Errorf("want the listen error alone, got:\n%s", errb.String())
	}
}

// TestLoadgenOffTerminal: away from a terminal (compose, CI) loadgen keeps to its two log
// lines; the spinner and its plain summary line are for terminals
// (traffic/produce's TestLoadgenProgressOnTerminal).
func TestLoadgenOffTerminal(t *testing.T) {
	errb := loadgenOnOwnBroker(t, "--rate=100", "--duration=500ms")
	if !strings.Contains(errb.String(), `msg="loadgen stopped" records=`) || strings.Contains(errb.String(), "produced ") {
		t.Errorf("stderr:\n%s", errb.String())
	}
}

// TestVersion: --version prints what runs on stdout, in Prometheus' form, after any
// command too; CSKPI_VERSION in the environment is not --version.
func TestVersion(t *testing.T) {
	defer func(v, r string) { version.Version, version.Revision = v, r }(version.Version, version.Revision)
	version.Version, version.Revision = "0.6.0-test", "0123456789abcdef0123456789abcdef01234567"
	for _, args := range [][]string{{"--version"}, {"serve", "--version"}} {
		var out, errb bytes.Buffer
		if code := Main(context.Background(), args, &out, &errb, nil); code != 0 || errb.Len() != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errb.String())
		}
		for _, want := range []string{
			"cskpi, version 0.6.0-test (branch: ",
			"revision: 0123456789abcdef0123456789abcdef01234567)\n",
			"\n  go version:       " + runtime.Version() + "\n",
			"\n  platform:         " + runtime.GOOS + "/" + runtime.GOARCH + "\n",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: no %q in\n%s", args, want, out.String())
			}
		}
	}
	t.Setenv("CSKPI_VERSION", "true")
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"recompute", "--file", filepath.Join("testdata", "events.jsonl"),
		"--now", "2026-11-21T00:00:00Z"}, &out, &errb, nil)
	if code != 0 || strings.Contains(out.String(), "cskpi, version") {
		t.Errorf("with CSKPI_VERSION set, recompute exited %d and printed:\n%.200s", code, out.String())
	}
}

// TestVersionOfABuild builds the binary as go build does without make build's -ldflags, and
// as make build does: either way --version names the git revision it was built from and
// the Go that built it.
func TestVersionOfABuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout, or no git: %v", err)
	}
	rev := strings.TrimSpace(string(head))
	// The go command stamps a build only where it finds a .git directory; a linked git
	// worktree has a .git file, and its builds say "revision: unknown" (cmd/go's vcs
	// package looks for .git with isDir). make build stamps the revision itself there too.
	linked := false
	if top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output(); err == nil {
		fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git"))
		linked = err == nil && !fi.IsDir()
	}
	gov, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	const pkg = "github.com/prometheus/common/version"
	for _, tc := range []struct {
		name    string
		ldflags string
		version string // "": any non-empty
	}{
		// -buildvcs=true: a GOFLAGS=-buildvcs=false in the environment must not hide the
		// revision this test is about.
		{"go build", "", ""},
		{"ldflags", "-X " + pkg + ".Version=0.6.0-dev -X " + pkg + ".Revision=" + rev + " -X " + pkg + ".Branch=main", "0.6.0-dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if linked && tc.ldflags == "" {
				t.Skip("SKIPPING: a linked git worktree (.git is a file), which the go command does not stamp; run this in a clone")
			}
			bin := filepath.Join(t.TempDir(), "cskpi")
			build := exec.Command("go", "build", "-buildvcs=true", "-ldflags="+tc.ldflags, "-o", bin, ".")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			out, err := exec.Command(bin, "--version").Output()
			if err != nil {
				t.Fatalf("cskpi --version: %v", err)
			}
			first, _, _ := strings.Cut(string(out), "\n")
			// The tree may have changes beside the commit: Go's stamp says so with
			// "-modified", as make build does.
			if !strings.Contains(first, "revision: "+rev+")") && !strings.Contains(first, "revision: "+rev+"-modified)") {
				t.Errorf("--version does not name revision %s:\n%s", rev, out)
			}
			if !strings.Contains(string(out), "\n  go version:       "+strings.TrimSpace(string(gov))+"\n") {
				t.Errorf("--version does not name %s:\n%s", gov, out)
			}
			if v, _, _ := strings.Cut(strings.TrimPrefix(first, "cskpi, version "), " "); v == "" || (tc.version != "" && v != tc.version) {
				t.Errorf("--version names version %q, want %q:\n%s", v, tc.version, out)
			}
		})
	}
}

// TestDemoStopsCleanly: a demo ended by SIGINT or SIGTERM, as Ctrl-C ends `make demo`,
// exits 0 (a stop asked for is success), whether it was still starting or serving, and
// says so in its last lines.
func TestDemoStopsCleanly(t *testing.T) {
	args := []string{"demo", "--web.listen-address=127.0.0.1:0", "--kafka.listen-address=", "--log.level=info"}
	t.Run("before it starts", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errors.New("interrupt signal received"))
		var out, errb bytes.Buffer
		if code := Main(ctx, args, &out, &errb, nil); code != 0 {
			t.Fatalf("exit %d, want 0:\n%s", code, errb.String())
		}
		if !strings.Contains(errb.String(), `msg="demo: stopped" reason="interrupt signal received" records_published=`) {
			t.Errorf("no stop line:\n%s", errb.String())
		}
	})
	t.Run("SIGINT while it serves", func(t *testing.T) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		var out bytes.Buffer
		errb := &testenv.SyncBuffer{}
		done := make(chan int, 1)
		go func() { done <- Main(ctx, args, &out, errb, nil) }()
		testenv.WaitFor(t, 30*time.Second, "the demo consuming", func() bool {
			return strings.Contains(errb.String(), "consumer group generation")
		})
		if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("exit %d, want 0:\n%s", code, errb.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the demo did not stop within 30 s of SIGINT")
		}
		for _, want := range []string{
			`msg="cskpi stopped" reason="interrupt signal received" partitions_released="[0 1 2 3]" records_applied=`,
			`msg="demo: stopped" reason="interrupt signal received" records_published=`,
		} {
			if !strings.Contains(errb.String(), want) {
				t.Errorf("no %q in:\n%s", want, errb.String())
			}
		}
		if strings.Contains(errb.String(), "level=ERROR") {
			t.Errorf("an error logged on a requested stop:\n%s", errb.String())
		}
	})
}
