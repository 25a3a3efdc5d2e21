package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// disorderSpan makes the logs of these tests long enough that the service drops state by
// the too-old horizon (28 days + 1 hour behind stream time) while it reads them.
const disorderSpan = 33 * 24 * time.Hour

// trickle publishes f's lines while the service runs: 300 lines every 100 ms.
func trickle(t *testing.T, f *difftest.Fixture) func() time.Duration {
	return difftest.Trickle(t, f.Kafka.Brokers, f.Lines, 300, 100*time.Millisecond)
}

// checkOutcomes compares one instance's outcome counts with recompute's.
func checkOutcomes(t *testing.T, f *difftest.Fixture, health map[string]float64) {
	t.Helper()
	for k, n := range f.Ref.Events {
		name := map[string]string{"messages": topicM, "orders": topicO}[k[0]]
		key := "cskpi_events_total{outcome=" + k[1] + ",topic=" + name + "}"
		if health[key] != float64(n) {
			t.Errorf("%s = %v, recompute %d", key, health[key], n)
		}
	}
}

// TestDisorderTrickled: a log with the disorder CONTRACT §1 allows — orders up to two days
// late, conversations interleaved out of ts order, adjacent re-published copies of late
// events — spanning 33 days, trickled into the broker while one instance consumes it.
// Its series and outcome counts equal recompute's.
func TestDisorderTrickled(t *testing.T) {
	t.Parallel()
	const records = 30000
	f := difftest.NewFixtureWith(t, difftest.Options{Lines: difftest.DisorderLog(61, records, disorderSpan), Publish: -1})
	p := startServe(t, f, "serve", "disorder")
	published := trickle(t, f)()
	began := time.Now()
	health := difftest.AwaitMatchFunc(t, p.Scrape, f.Want, records, 120*time.Second)
	checkOutcomes(t, f, health)
	t.Logf("%d records trickled in over %v; all %d series and the outcome counts equal recompute's %v after the last was published (duplicates: %v)",
		records, published.Round(time.Millisecond), len(f.Want), time.Since(began).Round(time.Millisecond), f.Ref.Events)
	p.Stop()
}

// TestDisorderSIGKILL (issue "Guided cohorts lost across restarts"): late payments, the log
// trickled in while serve runs, ten SIGKILLs at varied points of it, several seeds. Every
// run ends exactly at recompute's series, and the last life gives an outcome to exactly the
// records Redis had not committed.
func TestDisorderSIGKILL(t *testing.T) {
	t.Parallel()
	const (
		records = 20000
		kills   = 10
	)
	for _, seed := range []int64{67, 71, 73} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel() // each seed has its own broker, Redis, group and log
			f := difftest.NewFixtureWith(t, difftest.Options{Lines: difftest.DisorderLog(seed, records, disorderSpan), Publish: -1})
			rdb := f.Redis.Client(t)
			progress := func() int64 { return difftest.Progress(rdb) }
			rng := rand.New(rand.NewPCG(uint64(seed), 2))
			logPath := t.TempDir() + "/serve.log"
			published := trickle(t, f)
			group := fmt.Sprintf("disorder-kill-%d", seed)
			var at []int64
			for i := range kills {
				// Each kill lands at a random point of its own tenth of 5%..95% of the log.
				target := int64(records) * int64(5+9*i+rng.IntN(9)) / 100
				before := progress()
				p := difftest.StartServe(t, bin, difftest.ServeOptions{Name: fmt.Sprintf("serve#%d", i+1), LogPath: logPath,
					Args: serveArgs(f.Kafka.Brokers, f.Redis.Addr, group)})
				testenv.WaitFor(t, 60*time.Second, "serve to commit a batch", func() bool { return progress() > before })
				testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("serve to apply %d records", target), func() bool {
					return progress() >= max(target, before+1)
				})
				p.Kill()
				at = append(at, progress())
			}
			last := progress()
			p := difftest.StartServe(t, bin, difftest.ServeOptions{Name: "serve#final", LogPath: logPath,
				Args: serveArgs(f.Kafka.Brokers, f.Redis.Addr, group)})
			took := published()
			// The outcome counters are gathered apart from the series: wait for both.
			health := difftest.AwaitMatchFunc(t, p.Scrape, f.Want, records-int(last), 120*time.Second)
			if got, want := difftest.Consumed(health), records-int(last); got != want {
				t.Errorf("last life gave %d records an outcome, want %d (records - committed at the last kill)", got, want)
			}
			t.Logf("seed %d: %d records trickled in over %v, %d SIGKILLs at %v committed records; all %d series equal recompute's",
				seed, records, took.Round(time.Millisecond), kills, at, len(f.Want))
			p.Stop()
		})
	}
}

// TestDisorderTwoInstances: the disorder log trickled into two instances of one group; one
// is SIGKILLed halfway and restarted, so partitions move mid-stream. The sum over the
// instances equals recompute's series.
func TestDisorderTwoInstances(t *testing.T) {
	t.Parallel()
	const records = 30000
	f := difftest.NewFixtureWith(t, difftest.Options{Lines: difftest.DisorderLog(79, records, disorderSpan), Publish: -1})
	rdb := f.Redis.Client(t)
	progress := func() int64 { return difftest.Progress(rdb) }
	a := startServe(t, f, "A", "disorder-two")
	b := startServe(t, f, "B", "disorder-two")
	published := trickle(t, f)
	testenv.WaitFor(t, 60*time.Second, "half the log applied", func() bool { return progress() >= records/2 })
	b.Kill()
	killedAt := progress()
	b = startServe(t, f, "B2", "disorder-two")
	took := published()
	difftest.AwaitSumMatch(t, []*difftest.Proc{a, b}, f.Want, nil, 120*time.Second)
	t.Logf("%d records trickled in over %v into two instances, one SIGKILLed at %d committed and restarted: the sum equals all %d series of recompute",
		records, took.Round(time.Millisecond), killedAt, len(f.Want))
	a.Stop()
	b.Stop()
}

// TestRedisClusterTwoInstances: the disorder log trickled into two instances of one group
// that keep their state in a Redis Cluster of three masters (each partition's keys share a
// hash tag, so each batch's script runs on one of them); one instance is SIGKILLed halfway
// and restarted. The sum over the instances equals recompute's series.
func TestRedisClusterTwoInstances(t *testing.T) {
	t.Parallel()
	const records = 20000
	f := difftest.NewFixtureWith(t, difftest.Options{Lines: difftest.DisorderLog(83, records, disorderSpan), Publish: -1})
	rc := testenv.StartRedisCluster(t, 3)
	rdb := rc.Client(t)
	progress := func() int64 { return difftest.Progress(rdb) }
	start := func(name string) *difftest.Proc {
		return difftest.StartServe(t, bin, difftest.ServeOptions{Name: name, Args: serveArgs(f.Kafka.Brokers, rc.Addr(), "cluster-two")})
	}
	a, b := start("A"), start("B")
	published := trickle(t, f)
	testenv.WaitFor(t, 60*time.Second, "half the log applied", func() bool { return progress() >= records/2 })
	b.Kill()
	killedAt := progress()
	b = start("B2")
	took := published()
	difftest.AwaitSumMatch(t, []*difftest.Proc{a, b}, f.Want, nil, 120*time.Second)
	held := 0
	for _, n := range rc.Nodes {
		if k, err := n.Client(t).DBSize(context.Background()).Result(); err == nil && k > 0 {
			held++
		}
	}
	if held < 2 {
		t.Errorf("the state is on %d of 3 masters: the partitions did not spread", held)
	}
	t.Logf("%d records trickled in over %v into two instances on a 3-master Redis Cluster (state on %d masters), one SIGKILLed at %d committed and restarted: the sum equals all %d series of recompute",
		records, took.Round(time.Millisecond), held, killedAt, len(f.Want))
	a.Stop()
	b.Stop()
}
