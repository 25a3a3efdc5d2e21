package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/pipeline"
	"github.com/cskpi/cskpi/serve"
)

// TestDifferential: seeded logs through the streaming service with the event clock give
// exactly recompute's series, series by series, and the same outcome counts.
func TestDifferential(t *testing.T) {
	t.Parallel()
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			f := difftest.NewFixture(t, seed, 6000, testenv.RedisOptions{})
			ctx, cancel := context.WithCancel(context.Background())
			addr := make(chan net.Addr, 1)
			done := make(chan error, 1)
			reg := prometheus.NewRegistry()
			began := time.Now()
			go func() {
				done <- serve.Run(ctx, serve.Options{
					Pipeline: pipeline.Options{
						Brokers: f.Kafka.Brokers, Group: "diff", Windows: difftest.WindowsConfig(t), EventClock: true,
						Topics:         pipeline.Topics{Messages: topicM, Orders: topicO, Deadletter: topicDL},
						SessionTimeout: 2 * time.Second,
					},
					Redis:         &redis.UniversalOptions{Addrs: []string{f.Redis.Addr}},
					ListenAddress: "127.0.0.1:0",
					OnListen:      func(a net.Addr) { addr <- a },
					Registry:      reg,
				})
			}()
			url := "http://" + (<-addr).String() + "/metrics"
			health := difftest.AwaitMatch(t, url, f.Want, len(f.Lines), 90*time.Second)
			elapsed := time.Since(began)
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			for k, n := range f.Ref.Events {
				name := map[string]string{"messages": topicM, "orders": topicO}[k[0]]
				key := "cskpi_events_total{outcome=" + k[1] + ",topic=" + name + "}"
				if health[key] != float64(n) {
					t.Errorf("%s = %v, recompute %d", key, health[key], n)
				}
			}
			t.Logf("%d records matched %d series in %v (%.0f records/s incl. start-up); redis used_memory %d bytes",
				len(f.Lines), len(f.Want), elapsed.Round(time.Millisecond), float64(len(f.Lines))/elapsed.Seconds(), f.Redis.UsedMemory(t))
		})
	}
}

// TestDifferentialKilled: the service SIGKILLed at random points and restarted still ends
// exactly at recompute's series.
func TestDifferentialKilled(t *testing.T) {
	t.Parallel()
	f := difftest.NewFixture(t, 7, 60000, testenv.RedisOptions{})
	rng := rand.New(rand.NewPCG(7, 7))
	port := testenv.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve",
			"--kafka.brokers="+strings.Join(f.Kafka.Brokers, ","), "--kafka.group=killed",
			"--kafka.session-timeout=2s", "--kafka.rebalance-timeout=2s", "--redis.addr="+f.Redis.Addr, "--clock=event",
			"--batch.size=20", "--web.listen-address=127.0.0.1:"+strconv.Itoa(port))
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// Kill points are fractions of the log, read from the offsets committed in Redis, so
	// each kill lands mid-consumption however fast the machine is.
	rdb := f.Redis.Client(t)
	progress := func() int64 { return difftest.Progress(rdb) }
	const kills = 5
	targets := make([]int64, kills)
	for i := range targets {
		targets[i] = int64(len(f.Lines)) * int64(i*16+4+rng.IntN(10)) / 100
	}
	for i, target := range targets {
		cmd := start()
		testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("serve to apply %d records", target), func() bool {
			return progress() >= target
		})
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		t.Logf("kill %d at %d of %d records applied", i+1, progress(), len(f.Lines))
	}
	cmd := start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("serve log:\n%s", b)
		}
	}()
	difftest.AwaitMatch(t, base+"/metrics", f.Want, -1, 120*time.Second)
	t.Logf("%d records, %d kills: matched %d series", len(f.Lines), kills, len(f.Want))
}
