package faults_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// owned is an instance's cskpi_partitions_owned (-1 when it does not answer).
func owned(p *difftest.Proc) float64 {
	v, ok := p.Metric("cskpi_partitions_owned")
	if !ok {
		return -1
	}
	return v
}

// awaitOwned waits until each instance owns the given number of partitions, and returns
// how long that took.
func awaitOwned(t *testing.T, timeout time.Duration, procs []*difftest.Proc, want ...float64) time.Duration {
	t.Helper()
	began := time.Now()
	testenv.WaitFor(t, timeout, fmt.Sprintf("partitions owned to be %v", want), func() bool {
		for i, p := range procs {
			if owned(p) != want[i] {
				return false
			}
		}
		return true
	})
	return time.Since(began)
}

// TestRebalance: two instances of one group share the partitions; one is frozen
// (SIGSTOP) long enough to lose its membership — a zombie that still believes it owns its
// partitions and holds fetched records — while the other takes them over; the zombie is
// resumed, rejoins, and is then SIGKILLed mid-stream; the survivor takes over again; a
// third instance joins. Every record arrives in chunks between the faults, so each fault
// lands mid-stream. The sum of the KPI series of the live instances is exactly recompute's.
func TestRebalance(t *testing.T) {
	t.Parallel()
	const records = 40000
	f := difftest.NewFixtureWith(t, difftest.Options{Seed: 53, Records: records, Publish: -1})
	rdb := f.Redis.Client(t)
	progress := func() int64 { return difftest.Progress(rdb) }
	chunk := func(i int) [][]byte { return f.Lines[i*records/4 : (i+1)*records/4] }

	a := startServe(t, f, "A", "rebalance")
	b := startServe(t, f, "B", "rebalance")
	awaitOwned(t, 30*time.Second, []*difftest.Proc{a, b}, 2, 2)
	difftest.Publish(t, f.Kafka.Brokers, nil, chunk(0))
	testenv.WaitFor(t, 60*time.Second, "15% applied by A and B", func() bool { return progress() >= records*15/100 })

	// B frozen mid-stream: its session lapses and A takes its partitions over.
	b.Signal(syscall.SIGSTOP)
	frozenAt := progress()
	difftest.Publish(t, f.Kafka.Brokers, nil, chunk(1))
	takeover1 := awaitOwned(t, 30*time.Second, []*difftest.Proc{a}, 4)
	testenv.WaitFor(t, 60*time.Second, "A to apply past the frozen B", func() bool { return progress() >= records*40/100 })
	// B wakes up with fetched records of partitions A has since moved on: whatever batch it
	// builds on its stale mirrors is refused by the fence; then it rejoins.
	b.Signal(syscall.SIGCONT)
	rejoin := awaitOwned(t, 30*time.Second, []*difftest.Proc{a, b}, 2, 2)
	zombieFenced := difftest.CountLines(b.Log(), "partition state moved on under us")

	// B SIGKILLed mid-stream: A takes over again.
	difftest.Publish(t, f.Kafka.Brokers, nil, chunk(2))
	testenv.WaitFor(t, 60*time.Second, "55% applied", func() bool { return progress() >= records*55/100 })
	b.Kill()
	killedAt := progress()
	takeover2 := awaitOwned(t, 30*time.Second, []*difftest.Proc{a}, 4)

	// A third instance joins while the last chunk is consumed; A hands half back.
	difftest.Publish(t, f.Kafka.Brokers, nil, chunk(3))
	c := startServe(t, f, "C", "rebalance")
	handover := awaitOwned(t, 30*time.Second, []*difftest.Proc{a, c}, 2, 2)

	began := time.Now()
	health := difftest.AwaitSumMatch(t, []*difftest.Proc{a, c}, f.Want, nil, 120*time.Second)
	t.Logf("%d records: B frozen at %d committed, A owned all 4 partitions %v later; B resumed and rejoined in %v (fenced %d stale batch(es)); B killed at %d committed, A owned all 4 %v later; C joined and A handed 2 back in %v; sum over A and C equals all %d series of recompute %v after C joined (A gave %d records an outcome, C %d)",
		records, frozenAt, takeover1.Round(time.Millisecond), rejoin.Round(time.Millisecond), zombieFenced,
		killedAt, takeover2.Round(time.Millisecond), handover.Round(time.Millisecond), len(f.Want),
		time.Since(began).Round(time.Millisecond), difftest.Consumed(health[0]), difftest.Consumed(health[1]))
	a.Stop()
	c.Stop()
}

// TestZombieTwoGroups: two live instances in different consumer groups over one Redis
// key prefix, so that each believes it owns every partition — the situation of a zombie
// that lost its group membership without noticing. They race on every batch; the fence
// lets exactly one commit of each through and the loser reloads. Both end exactly at
// recompute's series, and their outcome counts add up to the number of records: no record
// applied twice.
func TestZombieTwoGroups(t *testing.T) {
	t.Parallel()
	const records = 20000
	f := difftest.NewFixture(t, 59, records, testenv.RedisOptions{})
	x := startServe(t, f, "X", "zombie-x")
	y := startServe(t, f, "Y", "zombie-y")
	began := time.Now()
	hx := difftest.AwaitMatchFunc(t, x.Scrape, f.Want, -1, 120*time.Second)
	hy := difftest.AwaitMatchFunc(t, y.Scrape, f.Want, -1, 120*time.Second)
	elapsed := time.Since(began)
	cx, cy := difftest.Consumed(hx), difftest.Consumed(hy)
	if cx+cy != records {
		t.Errorf("X gave %d records an outcome and Y %d: %d in all for %d records", cx, cy, cx+cy, records)
	}
	fx, fy := difftest.CountLines(x.Log(), "partition state moved on under us"), difftest.CountLines(y.Log(), "partition state moved on under us")
	if fx+fy == 0 {
		t.Errorf("two instances owning every partition never collided: the fence was not exercised")
	}
	t.Logf("%d records through two instances that both own all %d partitions: %d + %d batches refused by the fence and reloaded; %d + %d = %d outcomes; both equal all %d series of recompute after %v",
		records, partitions, fx, fy, cx, cy, cx+cy, len(f.Want), elapsed.Round(time.Millisecond))
	x.Stop()
	y.Stop()
}
