package bench

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/testenv"
)

// TestQuickThroughput is a development probe: CSKPI_QUICK=N records.
func TestQuickThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CSKPI_QUICK"))
	if n == 0 {
		t.Skip("set CSKPI_QUICK to run")
	}
	bin := testenv.BuildCskpi(t)
	e := newEnv(t, 4)
	lines := traffic(n, 1000, 50, time.Now().Add(-30*24*time.Hour))
	began := time.Now()
	e.publish(t, lines)
	t.Logf("published %d in %v", n, time.Since(began))
	raw := e.rawFetchRate(t, int64(n))
	t.Logf("raw fetch %.0f records/s", raw)
	if prof := os.Getenv("CSKPI_PROFILE"); prof != "" {
		// Profile the service while it consumes: its /debug/pprof, 5 s from now.
		e.profileTo = prof
	}
	r := e.consumeAll(t, bin, int64(n))
	t.Logf("rate %.0f/s cmds/rec %.4f rss %d MiB redis %d MiB", r.rate, r.cmdsPerRec, r.rssBytes>>20, r.redisMemory>>20)
	info, _ := e.rdb.Info(context.Background(), "commandstats").Result()
	t.Logf("%s", info)
	for _, name := range []string{"cskpi_batch_records", "cskpi_batch_apply_seconds"} {
		h := r.final[name].Metric[0].GetHistogram()
		t.Logf("%s: count %d mean %.4g p50 %.4g p99 %.4g", name, h.GetSampleCount(), h.GetSampleSum()/float64(h.GetSampleCount()),
			quantile(0.5, h.GetBucket(), h.GetSampleCount()), quantile(0.99, h.GetBucket(), h.GetSampleCount()))
	}
}
