package faults_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// TestCrashLoopRejoin: a pod in a crash loop. `serve` is started and SIGKILLed three times
// within three seconds — each kill at a random point of its start-up, so some die while
// their JoinGroup waits and some after the group gave them partitions — and then a
// fourth instance is left running, with the default session, heartbeat and rebalance
// timeouts. It must own every partition number and have consumed the whole log (lag 0)
// within the session timeout plus the rebalance timeout plus a margin: no run may stall.
//
// Each run uses its own group and key prefix, so it starts from an empty group and
// consumes the whole log. `make test-long` runs it twice; CSKPI_CRASHLOOP_RUNS=10 gives the
// distribution of docs/RELIABILITY.md.
//
// It is a long case, and not parallel: the defaults it is about make each run 15–20 s, and
// its bound is a time, which tests running beside it on 2 cores would stretch.
func TestCrashLoopRejoin(t *testing.T) {
	long(t, "two crash loops under the default session and rebalance timeouts, each held to a bound in seconds")
	runs := 2
	if v := os.Getenv("CSKPI_CRASHLOOP_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CSKPI_CRASHLOOP_RUNS=%q: want a number of runs ≥ 1", v)
		}
		runs = n
	}
	const (
		seed    = 20261130
		records = 8000
		// The bound a run must meet: the default session timeout (10 s), the default
		// rebalance timeout (5 s), and 15 s for joins, start-up and consuming the log.
		bound = 30 * time.Second
		stall = 120 * time.Second
	)
	f := difftest.NewFixture(t, seed, records, testenv.RedisOptions{})
	rdb := f.Redis.Client(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	logPath := t.TempDir() + "/serve.log"
	var took []time.Duration
	for run := range runs {
		group := fmt.Sprintf("loop%d", run)
		args := []string{
			"--kafka.brokers=" + strings.Join(f.Kafka.Brokers, ","),
			"--kafka.group=" + group,
			"--redis.addr=" + f.Redis.Addr,
			"--redis.key-prefix=" + group,
			"--clock=event",
		}
		began := time.Now()
		for i := range 3 {
			p := difftest.StartServe(t, bin, difftest.ServeOptions{Name: fmt.Sprintf("%s#%d", group, i+1), LogPath: logPath, Args: args})
			testenv.WaitFor(t, 30*time.Second, "serve to answer /-/healthy", func() bool {
				code, _, err := p.Get("/-/healthy")
				return err == nil && code == 200
			})
			// Somewhere in the join: before it is sent, while it waits, after the answer.
			waitFor(time.Duration(rng.IntN(900)) * time.Millisecond)
			p.Kill()
		}
		killed := time.Since(began)
		start := time.Now()
		p := difftest.StartServe(t, bin, difftest.ServeOptions{Name: group + "#survivor", Args: args})
		// Polled here rather than with testenv.WaitFor so that a stalled run is counted
		// and the next run still measured.
		var owned, lag float64
		done := false
		for deadline := time.Now().Add(stall); !done && time.Now().Before(deadline); {
			if m, err := p.Metrics(); err == nil {
				owned, lag = sumOf(m, "cskpi_partitions_owned"), sumOf(m, "cskpi_consumer_lag")
				done = owned == partitions && lag == 0 && difftest.ProgressOfPrefix(rdb, group, partitions) == records
			}
			if !done {
				waitFor(100 * time.Millisecond)
			}
		}
		d := time.Since(start)
		took = append(took, d)
		switch {
		case !done:
			t.Errorf("run %d: stalled: after %v the survivor owns %v partitions, lag %v", run+1, stall, owned, lag)
		case d > bound:
			t.Errorf("run %d: the survivor took %v to own every partition and consume the log, want ≤ %v", run+1, d.Round(time.Millisecond), bound)
		default:
			t.Logf("run %d: 3 SIGKILLs within %v, then the survivor owned all %d partitions with lag 0 after %v",
				run+1, killed.Round(time.Millisecond), partitions, d.Round(time.Millisecond))
		}
		// How the group got there, for the record (go test -v).
		for _, l := range strings.Split(p.Log(), "\n") {
			if strings.Contains(l, "generation") || strings.Contains(l, "rejoin") || strings.Contains(l, "kafka:") || strings.Contains(l, "joining") {
				t.Logf("  survivor: %s", l)
			}
		}
		p.Stop()
	}
	slices.Sort(took)
	t.Logf("recovery after a crash loop over %d runs: min %v, median %v, max %v; all: %v",
		runs, took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), roundAll(took))
}

// waitFor lets d pass: the point of a kill is a moment of the process's life, not a
// condition to wait for.
func waitFor(d time.Duration) { <-time.After(d) }

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(100 * time.Millisecond)
	}
	return out
}
