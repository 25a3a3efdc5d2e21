package faults_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// TestRedisOutage: redis-server (AOF on) stopped for 10 s mid-stream and started again.
// The service does not crash, says it is not ready and that Redis is down, consumes
// nothing while it cannot commit (records keep arriving in Kafka meanwhile), then
// resumes by itself and ends exactly at recompute's series.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	const (
		records = 30000
		outage  = 10 * time.Second
	)
	f := difftest.NewFixtureWith(t, difftest.Options{Seed: 31, Records: records,
		Redis: testenv.RedisOptions{AOF: true}, Publish: records / 2})
	rdb := f.Redis.Client(t)
	p := startServe(t, f, "serve", "outage")

	// Mid-stream: part of the first half applied, the rest of it still to read.
	testenv.WaitFor(t, 60*time.Second, "a quarter of the log applied", func() bool {
		return difftest.Progress(rdb) >= records/4
	})
	awaitReady(t, p, 200, 30*time.Second)
	beforeStop := difftest.Progress(rdb)
	f.Redis.Stop(t)
	down := time.Now()
	notReady := awaitReady(t, p, 503, 10*time.Second)
	p.AwaitMetric(10*time.Second, func(v float64) bool { return v == 0 }, "cskpi_redis_up")
	// The second half arrives while Redis is down.
	published := time.Now()
	difftest.Publish(t, f.Kafka.Brokers, nil, f.Lines[records/2:])
	publishTook := time.Since(published)
	consumedAtDown := scrapeSum(p, "cskpi_events_total")

	// Watch the outage through: alive, not ready, Redis down, nothing given an outcome.
	var samples int
	for time.Since(down) < outage {
		if !p.Alive() {
			t.Fatalf("serve exited during the Redis outage: %v", p.ExitErr())
		}
		m, err := p.Metrics()
		if err != nil {
			t.Fatalf("scrape during the outage: %v", err)
		}
		if got := sumOf(m, "cskpi_events_total"); got != consumedAtDown {
			t.Fatalf("records were given an outcome while Redis was down: %v, then %v", consumedAtDown, got)
		}
		if m["cskpi_redis_up{}"] != 0 {
			t.Fatalf("cskpi_redis_up = %v while Redis is down", m["cskpi_redis_up{}"])
		}
		if code := p.Ready(); code != 503 {
			t.Fatalf("/-/ready answered %d while Redis is down", code)
		}
		samples++
		time.Sleep(250 * time.Millisecond) // sampling period of a fixed-length observation
	}
	lagDuring := scrapeSum(p, "cskpi_consumer_lag")

	f.Redis.Start(t)
	up := time.Now()
	ready := awaitReady(t, p, 200, 60*time.Second)
	p.AwaitMetric(10*time.Second, func(v float64) bool { return v == 1 }, "cskpi_redis_up")
	afterAOF := difftest.Progress(rdb)
	if afterAOF < beforeStop {
		t.Fatalf("Redis came back from its AOF with %d records committed, %d before the stop", afterAOF, beforeStop)
	}
	testenv.WaitFor(t, 60*time.Second, "the first commit after the outage", func() bool {
		return difftest.Progress(rdb) > afterAOF
	})
	resumed := time.Since(up)
	health := difftest.AwaitMatchFunc(t, p.Scrape, f.Want, -1, 120*time.Second)
	matched := time.Since(up)

	log := p.Log()
	for _, want := range []string{`level=ERROR msg="redis unreachable"`, `msg="redis reachable"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if got := difftest.Consumed(health); got > records {
		t.Errorf("%d outcomes for %d records: some record was counted twice", got, records)
	}
	t.Logf("redis down %v with %d records committed (kept by the AOF): /-/ready 503 after %v, %d more records published meanwhile (in %v), %d samples with nothing consumed (%v outcomes), lag %v records waiting; after restart ready in %v, first commit in %v, all %d series equal recompute %v after restart (%d outcomes for %d records)",
		outage, afterAOF, notReady.Round(time.Millisecond), records-records/2, publishTook.Round(time.Millisecond), samples, consumedAtDown, lagDuring,
		ready.Round(time.Millisecond), resumed.Round(time.Millisecond), len(f.Want), matched.Round(time.Millisecond),
		difftest.Consumed(health), records)
	p.Stop()
}

// TestRedisStateLost: Redis restarted empty (no persistence) while the group has
// committed offsets. The service must not rebuild from the middle of the topics and
// export wrong numbers: it refuses the partitions (not ready, cskpi_partition_state_missing
// 1 per partition, an ERROR line saying what to do) and writes nothing to Redis. When the
// operator restores Redis from a backup it notices by itself (it re-checks every 5 s) and
// goes on exactly. When the state is gone for good (FLUSHALL), a restart with
// --state.rebuild-missing replays every partition from the earliest offset and ends
// exactly at recompute's series.
func TestRedisStateLost(t *testing.T) {
	t.Parallel()
	const records = 20000
	f := difftest.NewFixtureWith(t, difftest.Options{Seed: 47, Records: records, Publish: records / 2})
	rdb := f.Redis.Client(t)
	p := startServe(t, f, "serve", "lost")
	testenv.WaitFor(t, 60*time.Second, "the first half applied", func() bool {
		return difftest.Progress(rdb) >= records/2
	})
	// Kafka's offsets are copied from Redis once a second; wait until every partition has
	// one, which is what tells lost state from a partition never consumed.
	testenv.WaitFor(t, 30*time.Second, "committed offsets in Kafka for every partition", func() bool {
		return committedPartitions(t, f.Kafka.Brokers, "lost") == partitions
	})
	committed := kafkaCommitted(t, f.Kafka.Brokers, "lost")
	backup := dumpKeys(t, rdb, "cskpi:*")

	f.Redis.Stop(t)
	f.Redis.Start(t) // no AOF: empty
	lost := time.Now()
	difftest.Publish(t, f.Kafka.Brokers, nil, f.Lines[records/2:])

	notReady := awaitReady(t, p, 503, 30*time.Second)
	for part := range partitions {
		p.AwaitMetric(30*time.Second, func(v float64) bool { return v == 1 },
			"cskpi_partition_state_missing", "partition", fmt.Sprint(part))
	}
	detected := time.Since(lost)
	testenv.WaitFor(t, 10*time.Second, "the REDIS STATE MISSING error for every partition", func() bool {
		return difftest.CountLines(p.Log(), "level=ERROR", "REDIS STATE MISSING", "--state.rebuild-missing", "Restore Redis") == partitions
	})
	// Past one re-check (every 5 s): still refused, and nothing written to the empty Redis.
	watch := time.Now()
	for time.Since(watch) < 6*time.Second {
		if n := difftest.Progress(rdb); n != 0 {
			t.Fatalf("serve wrote offsets (%d records) into the emptied Redis without --state.rebuild-missing", n)
		}
		if code := p.Ready(); code != 503 {
			t.Fatalf("/-/ready answered %d with the state missing", code)
		}
		time.Sleep(250 * time.Millisecond) // sampling period of a fixed-length observation
	}
	if !p.Alive() {
		t.Fatalf("serve exited: %v", p.ExitErr())
	}
	// What it exports meanwhile must not be built from records it never committed: no KPI
	// series for the refused partitions, or exactly the state committed before the loss
	// (recompute over the first half).
	_, committedWant := difftest.Reference(t, f.Lines[:records/2])
	b, err := p.Scrape()
	if err != nil {
		t.Fatal(err)
	}
	exported, _ := difftest.KPISeries(t, b)
	if d := difftest.Diff(exported, committedWant, 12); len(exported) > 0 && len(d) > 0 {
		t.Errorf("while every partition is refused as missing, /metrics exports %d KPI series that are neither absent nor the committed state "+
			"(recompute over the %d records committed before the loss); they include the batch whose commit was refused and its stream time:\n%s",
			len(exported), records/2, strings.Join(d, "\n"))
	}

	// The operator restores the backup: the service resumes by itself.
	restoreKeys(t, rdb, backup)
	restored := time.Now()
	restoredReady := awaitReady(t, p, 200, 30*time.Second)
	difftest.AwaitMatchFunc(t, p.Scrape, f.Want, -1, 60*time.Second)
	resumed := time.Since(restored)
	p.Stop()

	// Gone for good: rebuild.
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	q := startServe(t, f, "serve-rebuild", "lost", "--state.rebuild-missing")
	health := difftest.AwaitMatchFunc(t, q.Scrape, f.Want, records, 120*time.Second)
	rebuilt := time.Since(began)
	awaitReady(t, q, 200, 30*time.Second)
	if m, err := q.Metrics(); err != nil || sumOf(m, "cskpi_partition_state_missing") > 0 {
		t.Errorf("after the rebuild, cskpi_partition_state_missing sums to %v (%v), want none or 0", sumOf(m, "cskpi_partition_state_missing"), err)
	}
	if n := difftest.CountLines(q.Log(), "rebuilding missing partition state"); n != partitions {
		t.Errorf("%d 'rebuilding missing partition state' lines, want one per partition (%d)", n, partitions)
	}
	if got := difftest.Consumed(health); got != records {
		t.Errorf("the rebuild gave %d records an outcome, want all %d", got, records)
	}
	t.Logf("state lost with %d records committed (kafka offsets %d): 503 after %v, all %d partitions flagged missing and the ERROR logged %v after the loss, Redis left empty; backup of %d keys restored: ready again %v later, all %d series equal recompute %v later; after FLUSHALL --state.rebuild-missing replayed all %d records and matched %d series in %v",
		records/2, committed, notReady.Round(time.Millisecond), partitions, detected.Round(time.Millisecond),
		len(backup), restoredReady.Round(time.Millisecond), len(f.Want), resumed.Round(time.Millisecond),
		difftest.Consumed(health), len(f.Want), rebuilt.Round(time.Millisecond))
	q.Stop()
}

// committedPartitions counts the partition numbers with a committed Kafka offset > 0 on
// either input topic.
func committedPartitions(t *testing.T, brokers []string, group string) int {
	t.Helper()
	n := 0
	for _, offs := range committedByPartition(t, brokers, group) {
		if offs > 0 {
			n++
		}
	}
	return n
}

// dumpKeys DUMPs every key matching pattern, as a backup would hold them.
func dumpKeys(t *testing.T, rdb *redis.Client, pattern string) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, pattern).Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("KEYS %s: %d keys, %v", pattern, len(keys), err)
	}
	out := map[string]string{}
	for _, k := range keys {
		v, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatalf("DUMP %s: %v", k, err)
		}
		out[k] = v
	}
	return out
}

// restoreKeys RESTOREs what dumpKeys saved.
func restoreKeys(t *testing.T, rdb *redis.Client, dump map[string]string) {
	t.Helper()
	ctx := context.Background()
	for k, v := range dump {
		if err := rdb.RestoreReplace(ctx, k, 0, v).Err(); err != nil {
			t.Fatalf("RESTORE %s: %v", k, err)
		}
	}
}
