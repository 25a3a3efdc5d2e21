package faults_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// logTimes returns the times of the log lines containing every one of subs (logfmt
// time=... at the start of each line).
func logTimes(log string, subs ...string) []time.Time {
	var out []time.Time
	for _, l := range strings.Split(log, "\n") {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		v, ok := strings.CutPrefix(l, "time=")
		if !all || !ok {
			continue
		}
		v, _, _ = strings.Cut(v, " ")
		if ts, err := time.Parse(time.RFC3339Nano, v); err == nil {
			out = append(out, ts)
		}
	}
	return out
}

func gaps(ts []time.Time) string {
	var s []string
	for i := 1; i < len(ts); i++ {
		s = append(s, ts[i].Sub(ts[i-1]).Round(10*time.Millisecond).String())
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestBrokerUnreachableAtStart: serve started with its brokers on a closed port keeps
// running, is not ready, exports cskpi_kafka_up 0, and says so in its log, retrying with
// backoff rather than flooding it; once a broker listens on that port it joins, consumes
// and ends exactly at recompute's series.
func TestBrokerUnreachableAtStart(t *testing.T) {
	t.Parallel()
	const records = 6000
	lines := difftest.TestLog(67, records)
	_, want := difftest.Reference(t, lines)
	rds := testenv.StartRedis(t, testenv.RedisOptions{})
	port := testenv.FreePort(t)
	brokers := []string{"127.0.0.1:" + strconv.Itoa(port)}
	p := difftest.StartServe(t, bin, difftest.ServeOptions{Args: serveArgs(brokers, rds.Addr, "nobroker")})

	p.AwaitMetric(20*time.Second, func(v float64) bool { return v == 0 }, "cskpi_kafka_up")
	awaitReady(t, p, 503, 10*time.Second)
	// Watch a while without a broker: alive, not ready, retrying.
	watch := time.Now()
	for time.Since(watch) < 6*time.Second {
		if !p.Alive() {
			t.Fatalf("serve exited without a broker: %v", p.ExitErr())
		}
		if code := p.Ready(); code != 503 {
			t.Fatalf("/-/ready answered %d without a broker", code)
		}
		time.Sleep(250 * time.Millisecond) // sampling period of a fixed-length observation
	}
	log := p.Log()
	unreachable := logTimes(log, "level=ERROR", "kafka brokers unreachable", brokers[0])
	joins := logTimes(log, "joining consumer group failed, retrying")
	if len(unreachable) == 0 {
		t.Errorf("brokers unreachable since start, yet no ERROR 'kafka brokers unreachable' naming %s in %v: only WARN lines. "+
			"The ERROR is logged on a change of cskpi_kafka_up, whose initial state is already down", brokers[0], time.Since(watch).Round(time.Second))
	}
	if len(joins) == 0 {
		t.Errorf("no 'joining consumer group failed, retrying' in the log")
	}
	lines6s := strings.Count(log, "\n")
	if lines6s > 200 {
		t.Errorf("%d log lines in %v without a broker: the retries flood the log", lines6s, time.Since(watch).Round(time.Second))
	}

	k := testenv.StartKafkaWith(t, testenv.KafkaOptions{Partitions: partitions, Topics: []string{topicM, topicO, topicDL}, Port: port})
	started := time.Now()
	difftest.Publish(t, k.Brokers, nil, lines)
	ready := awaitReady(t, p, 200, 60*time.Second)
	p.AwaitMetric(10*time.Second, func(v float64) bool { return v == 1 }, "cskpi_kafka_up")
	difftest.AwaitMatchFunc(t, p.Scrape, want, records, 120*time.Second)
	if !strings.Contains(p.Log(), `msg="kafka brokers reachable"`) {
		t.Errorf("no 'kafka brokers reachable' line after the broker started")
	}
	t.Logf("no broker for %v: %d log lines, ERROR 'kafka brokers unreachable' once per change (%d), %d join retries %s apart; broker started: ready %v later, all %d series equal recompute %v later",
		time.Since(watch).Round(time.Second), lines6s, len(unreachable), len(joins), gaps(joins),
		ready.Round(time.Millisecond), len(want), time.Since(started).Round(time.Millisecond))
	p.Stop()
}

// TestBrokerOutageMidStream: the broker shut down mid-stream (its logs and offsets kept
// on disk, as a broker restart keeps them) and started again on the same port 8 s later.
// Meanwhile serve keeps running, is not ready, exports cskpi_kafka_up 0 and logs it; then
// it reconnects by itself, consumes what was published after the restart, and ends
// exactly at recompute's series.
func TestBrokerOutageMidStream(t *testing.T) {
	t.Parallel()
	const (
		records = 30000
		outage  = 8 * time.Second
	)
	k := testenv.StartKafkaWith(t, testenv.KafkaOptions{Partitions: partitions, Topics: []string{topicM, topicO, topicDL},
		DataDir: t.TempDir()})
	f := difftest.NewFixtureWith(t, difftest.Options{Seed: 71, Records: records, Kafka: k, Publish: records / 2})
	rdb := f.Redis.Client(t)
	p := startServe(t, f, "serve", "outage")
	testenv.WaitFor(t, 60*time.Second, "a quarter of the log applied", func() bool {
		return difftest.Progress(rdb) >= records/4
	})
	awaitReady(t, p, 200, 30*time.Second)

	k.Stop(t)
	down := time.Now()
	notReady := awaitReady(t, p, 503, 20*time.Second)
	p.AwaitMetric(20*time.Second, func(v float64) bool { return v == 0 }, "cskpi_kafka_up")
	detected := time.Since(down)
	stalled := difftest.Progress(rdb)
	for time.Since(down) < outage {
		if !p.Alive() {
			t.Fatalf("serve exited during the broker outage: %v", p.ExitErr())
		}
		if code := p.Ready(); code != 503 {
			t.Fatalf("/-/ready answered %d while the broker is down", code)
		}
		time.Sleep(250 * time.Millisecond) // sampling period of a fixed-length observation
	}
	outageLog := p.Log()

	k.Start(t)
	up := time.Now()
	difftest.Publish(t, k.Brokers, nil, f.Lines[records/2:])
	ready := awaitReady(t, p, 200, 60*time.Second)
	p.AwaitMetric(10*time.Second, func(v float64) bool { return v == 1 }, "cskpi_kafka_up")
	testenv.WaitFor(t, 60*time.Second, "the first commit after the broker came back", func() bool {
		return difftest.Progress(rdb) > stalled
	})
	resumed := time.Since(up)
	// The outcome counters are gathered apart from the series: wait for both.
	health := difftest.AwaitMatchFunc(t, p.Scrape, f.Want, records, 120*time.Second)
	if got := difftest.Consumed(health); got != records {
		t.Errorf("%d outcomes for %d records", got, records)
	}
	errs := logTimes(outageLog, "level=ERROR", "kafka brokers unreachable")
	if len(errs) == 0 {
		t.Errorf("no ERROR 'kafka brokers unreachable' in the log during the outage")
	}
	warns := difftest.CountLines(outageLog, "level=WARN")
	t.Logf("broker down %v at %d records committed: /-/ready 503 after %v, cskpi_kafka_up 0 after %v, %d ERROR + %d WARN lines; broker back: ready %v later, first commit %v later, all %d series equal recompute %v later (%d outcomes for %d records)",
		outage, stalled, notReady.Round(time.Millisecond), detected.Round(time.Millisecond), len(errs), warns,
		ready.Round(time.Millisecond), resumed.Round(time.Millisecond), len(f.Want), time.Since(up).Round(time.Millisecond),
		difftest.Consumed(health), records)
	p.Stop()
}
