package bench

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/cskpi/cskpi/pipeline"
	"github.com/cskpi/cskpi/pipeline/serve"
	"github.com/cskpi/cskpi/windows"
)

// TestInProcessProfile runs serve in this process, for `go test -cpuprofile`:
// CSKPI_INPROC=N records.
func TestInProcessProfile(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CSKPI_INPROC"))
	if n == 0 {
		t.Skip("set CSKPI_INPROC to run")
	}
	e := newEnv(t, 4)
	e.publish(t, traffic(n, 1000, 50, time.Now().Add(-30*24*time.Hour)))
	loc, _ := time.LoadLocation("Asia/Shanghai")
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	began := time.Now()
	go serve.Run(ctx, serve.Options{
		Pipeline: pipeline.Options{Brokers: e.kafka.Brokers, Group: "p", EventClock: true,
			Topics:  pipeline.Topics{Messages: topicM, Orders: topicO, Deadletter: topicDL},
			Windows: windows.Config{Location: loc, Thresholds: []int64{15000, 180000}}},
		Redis: &redis.UniversalOptions{Addrs: []string{e.redis.Addr}}, ListenAddress: "127.0.0.1:0", Registry: reg,
	})
	for e.applied(t) < int64(n) {
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d records in %v", n, time.Since(began))
}
