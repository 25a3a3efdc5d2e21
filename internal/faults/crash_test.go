package faults_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// TestCrashSIGKILL: `serve` SIGKILLed at 12 random points of a replay — two of them during
// start-up, before its first commit, the others mid-consumption — and restarted each time,
// ends exactly at recompute's series, and the last life gives an outcome to exactly the
// records Redis had not committed: nothing applied twice, nothing skipped.
func TestCrashSIGKILL(t *testing.T) {
	t.Parallel()
	const (
		seed    = 20261125
		records = 60000
		kills   = 12
		startup = 2 // of the kills, how many land during start-up
	)
	f := difftest.NewFixture(t, seed, records, testenv.RedisOptions{})
	rdb := f.Redis.Client(t)
	progress := func() int64 { return difftest.Progress(rdb) }
	rng := rand.New(rand.NewPCG(seed, 1))

	// Kill points are fractions of the log read from the offsets committed in Redis, so
	// each lands mid-consumption however fast the machine is; start-up kills are placed
	// at random among them.
	// Each mid-stream kill lands at a random point of its own tenth of 5%..95% of the log.
	plan := make([]int64, 0, kills) // -1: kill during start-up
	for i := range kills - startup {
		plan = append(plan, int64(records)*int64(5+9*i+rng.IntN(9))/100)
	}
	for range startup {
		i := rng.IntN(len(plan) + 1)
		plan = slices.Insert(plan, i, -1)
	}

	logPath := t.TempDir() + "/serve.log"
	var recoveries []time.Duration
	for i, target := range plan {
		before := progress()
		began := time.Now()
		p := difftest.StartServe(t, bin, difftest.ServeOptions{Name: fmt.Sprintf("serve#%d", i+1), LogPath: logPath,
			Args: serveArgs(f.Kafka.Brokers, f.Redis.Addr, "crash")})
		what := ""
		if target < 0 {
			// During start-up: as soon as the HTTP server answers, before the group is
			// joined or anything is committed.
			testenv.WaitFor(t, 30*time.Second, "serve to answer /-/healthy", func() bool {
				code, _, err := p.Get("/-/healthy")
				return err == nil && code == 200
			})
			what = "during start-up"
		} else {
			target = max(target, before+1)
			testenv.WaitFor(t, 60*time.Second, "serve to commit its first batch", func() bool { return progress() > before })
			recoveries = append(recoveries, time.Since(began))
			testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("serve to apply %d records", target), func() bool {
				return progress() >= target
			})
			what = fmt.Sprintf("mid-stream (target %d), first commit %v after start", target, recoveries[len(recoveries)-1].Round(time.Millisecond))
		}
		p.Kill()
		if target < 0 {
			// See awaitGroupEmpty: the in-process broker would keep the killed joiner.
			what += fmt.Sprintf(" (broker dropped the dead joiner after %v)",
				awaitGroupEmpty(t, f.Kafka.Brokers, "crash", 30*time.Second).Round(time.Millisecond))
		}
		at := progress()
		kc := kafkaCommitted(t, f.Kafka.Brokers, "crash")
		t.Logf("kill %2d %s: %d of %d records committed in redis; kafka's committed offsets lag by %d (records a consumer trusting them would apply twice)",
			i+1, what, at, records, at-kc)
	}

	last := progress()
	began := time.Now()
	p := difftest.StartServe(t, bin, difftest.ServeOptions{Name: "serve#final", LogPath: logPath,
		Args: serveArgs(f.Kafka.Brokers, f.Redis.Addr, "crash")})
	// The outcome counters are gathered apart from the series: wait for both.
	health := difftest.AwaitMatchFunc(t, p.Scrape, f.Want, records-int(last), 120*time.Second)
	// The last life starts at Redis's offsets: it gives an outcome to exactly the records
	// after them, none that an earlier life applied.
	if got, want := difftest.Consumed(health), records-int(last); got != want {
		t.Errorf("last life gave %d records an outcome, want %d (records - committed at the last kill)", got, want)
	}
	slices.Sort(recoveries)
	t.Logf("%d records, %d SIGKILLs (%d during start-up): final life consumed the %d uncommitted records and matched all %d series in %v; restart-to-first-commit min %v median %v max %v",
		records, kills, startup, records-int(last), len(f.Want), time.Since(began).Round(time.Millisecond),
		recoveries[0].Round(time.Millisecond), recoveries[len(recoveries)/2].Round(time.Millisecond), recoveries[len(recoveries)-1].Round(time.Millisecond))
	p.Stop()
}
