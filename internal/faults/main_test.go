package faults_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// bin is the cskpi binary, built once for the package by TestMain.
var bin string

// parallel is how many of these tests run at once unless -parallel is given (go test's
// default is GOMAXPROCS, 2 here). They spend most of their time waiting — on a fault's
// duration, a session or a back-off, a log trickled in at a set pace — not computing: one
// after another they kept 0.4 of a core busy on the 2-core machines (93 s of CPU in 247 s).
// Each has its own broker, redis-server, ports, group and processes.
const parallel = 4

// longEnv makes the long fault cases run: `make test` leaves them out, `make test-long`
// (and CI, which runs both) sets it. See long.
const longEnv = "CSKPI_TEST_LONG"

// long skips the test, loudly, unless CSKPI_TEST_LONG is set. A test that calls it must be
// named in LONG_TESTS of the Makefile, which `make test-long` runs
// (TestLongCasesRunSomewhere checks this).
func long(t *testing.T, why string) {
	t.Helper()
	if os.Getenv(longEnv) == "" {
		t.Skipf("SKIPPING long fault case (%s): `make test-long` runs it, or set %s=1", why, longEnv)
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", strconv.Itoa(max(parallel, runtime.GOMAXPROCS(0)))); err != nil {
			fmt.Fprintln(os.Stderr, "faults:", err)
			os.Exit(1)
		}
	}
	// The binary's path and name avoid the word "cskpi": on a shared CI machine a
	// `pkill cskpi` or `pkill -f cskpi` run by anything else must not end the processes
	// these tests kill, stop and restart on their own schedule.
	dir, err := os.MkdirTemp("", "kpifaults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "kpiserve")
	if err := testenv.BuildCskpiTo(bin); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	topicM, topicO, topicDL = difftest.TopicM, difftest.TopicO, difftest.TopicDL
	partitions              = difftest.Partitions
)

// serveArgs are difftest.ServeArgs with batches of 20 records.
func serveArgs(brokers []string, redisAddr, group string, extra ...string) []string {
	return difftest.ServeArgs(brokers, redisAddr, group, 20, extra...)
}

// startServe starts an instance on the fixture's broker and Redis.
func startServe(t *testing.T, f *difftest.Fixture, name, group string, extra ...string) *difftest.Proc {
	t.Helper()
	return difftest.StartServe(t, bin, difftest.ServeOptions{Name: name,
		Args: serveArgs(f.Kafka.Brokers, f.Redis.Addr, group, extra...)})
}

// awaitReady waits until /-/ready answers code, and returns how long that took.
func awaitReady(t *testing.T, p *difftest.Proc, code int, timeout time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	testenv.WaitFor(t, timeout, fmt.Sprintf("%s /-/ready to answer %d", p.Name, code), func() bool {
		return p.Ready() == code
	})
	return time.Since(began)
}

// kafkaCommitted sums the group's committed offsets of both input topics (a partition
// without a commit counts 0).
func kafkaCommitted(t *testing.T, brokers []string, group string) int64 {
	t.Helper()
	var n int64
	for _, o := range committedByPartition(t, brokers, group) {
		n += o
	}
	return n
}

// committedByPartition sums the group's committed offsets of both input topics per
// partition number.
func committedByPartition(t *testing.T, brokers []string, group string) map[int]int64 {
	t.Helper()
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group,
		Topics: map[string][]int{topicM: parts, topicO: parts}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	out := map[int]int64{}
	for _, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error == nil && p.CommittedOffset > 0 {
				out[p.Partition] += p.CommittedOffset
			}
		}
	}
	return out
}

// awaitGroupEmpty waits until the broker has no member left in group, and returns how
// long that took.
//
// kfake (the in-process broker) keeps a member that sent JoinGroup and died before the
// answer reached it as a member with no session timer once the group's leader has synced:
// the ghost keeps its share of the partitions forever. A real broker schedules the
// session expiry of every member when the join completes (Kafka's
// completeAndScheduleNextHeartbeatExpiration) and would evict it after
// --kafka.session-timeout. A test that kills a process while it joins therefore waits
// here, before starting the next, until the broker has dropped the dead member; without
// a live leader to clear the broker's pending-sync timer, kfake does that within two
// rebalance timeouts.
func awaitGroupEmpty(t *testing.T, brokers []string, group string, timeout time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	testenv.WaitFor(t, timeout, "group "+group+" to have no members", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil || len(resp.Groups) != 1 {
			return false
		}
		return len(resp.Groups[0].Members) == 0
	})
	return time.Since(began)
}

// sumOf sums every sample of family name in m (a ParseAll map), -1 when there is none.
func sumOf(m map[string]float64, name string) float64 {
	n, seen := 0.0, false
	for k, v := range m {
		if strings.HasPrefix(k, name+"{") {
			n += v
			seen = true
		}
	}
	if !seen {
		return -1
	}
	return n
}

// scrapeSum scrapes p and sums family name (-1 when the scrape fails or has none).
func scrapeSum(p *difftest.Proc, name string) float64 {
	m, err := p.Metrics()
	if err != nil {
		return -1
	}
	return sumOf(m, name)
}
