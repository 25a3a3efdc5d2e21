package demo

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"golang.org/x/sync/errgroup"

	"github.com/cskpi/cskpi/pipeline"
	"github.com/cskpi/cskpi/serve"
	"github.com/cskpi/cskpi/sinks"
	"github.com/cskpi/cskpi/traffic/produce"
	"github.com/cskpi/cskpi/traffic/synth"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/shops"
)

// Options of the demo.
type Options struct {
	ListenAddress string
	WebConfigFile string
	// KafkaAddress is where the in-process broker listens, so that `cskpi produce`,
	// `cskpi loadgen` or kcat can publish into the demo. DefaultKafkaAddress falls back to
	// a free port when taken; any other address must be free; "" is a free port.
	KafkaAddress string
	Shops        int
	Rate         float64 // synthetic records per second
	Windows      windows.Config
	Out          io.Writer     // the KPI table; nil for none
	Every        time.Duration // table period
	Backfill     time.Duration // history published before going live
	Logger       *slog.Logger
	OnListen     func(net.Addr)
	// ShopsFile is the shop directory; "" writes the demo's own (shops.yml) to a temporary
	// file, named in the log, that can be edited while the demo runs. Reload carries SIGHUP.
	ShopsFile string
	Reload    <-chan struct{}
	// OnBrokers, when set, gets the in-process broker's addresses once it is up, before the
	// history is published: a caller can publish events of its own next to the synthetic
	// ones (the deploy end-to-end test adds refunds, which the synthetic shops only produce
	// hours after a payment).
	OnBrokers func(addrs []string)
	// Command is how the banner spells cskpi in the commands it suggests; "" is Invocation().
	Command string
}

// DefaultKafkaAddress is the demo broker's address unless told otherwise: Kafka's own
// port, so that every tool's default finds it.
const DefaultKafkaAddress = "127.0.0.1:9092"

// DefaultRate is the demo's traffic, in records per second: six shops of 3 to 8 agents
// each, whose agents then serve a buyer or two a minute — a busy afternoon, not a load test.
const DefaultRate = 5

// demoLeftWaiting is the chance that nobody answers a demo conversation, or its agent
// does not come back for a later round: each such buyer stays waiting for 48 h, and in the
// live breach (CONTRACT §3) for an hour, so the synthetic defaults (8 % and 4 %) would make
// "waiting" only rise while someone watches and keep CskpiBuyerWaiting firing for every
// shop. At 0.2 % a shop leaves a buyer waiting about once an hour: "a few abandoned".
const demoLeftWaiting = 0.002

// demoBuyersPerAgentMinute staffs each demo shop for its traffic: an agent takes a new
// buyer every two minutes or so, about seven at a time over 15 minutes (同时接待) and some
// 30 an hour — a busy shift, within the load bands' reach over a day.
const demoBuyersPerAgentMinute = 0.5

const (
	topicMessages   = "cs.messages"
	topicOrders     = "cs.orders"
	topicDeadletter = "cs.deadletter"
	partitions      = 4
)

// demoShops is the demo's shop directory: two shops on different hours and zones.
//
//go:embed shops.yml
var demoShops []byte

// Run runs the demo until ctx is done, and returns nil then: a stop that ctx asked for,
// even while the demo is starting, is its normal end. Once its web address is bound, its
// last log line says why it stopped, how many records it published and how long it ran.
func Run(ctx context.Context, opt Options) (err error) {
	if opt.Shops <= 0 {
		opt.Shops = 6
	}
	if opt.Rate <= 0 {
		opt.Rate = DefaultRate
	}
	if opt.Every <= 0 {
		opt.Every = 5 * time.Second
	}
	if opt.Backfill <= 0 {
		opt.Backfill = 5 * time.Minute
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	// The web address first: a busy port is a wrong command line, reported before a broker
	// starts and history is published for nothing.
	web, err := sinks.Listen(opt.ListenAddress, opt.WebConfigFile)
	if err != nil {
		return err
	}
	defer web.Close()
	// So is a shop directory that does not load: serve would refuse it, after the history
	// was published and the banner printed.
	if opt.ShopsFile != "" {
		if _, err := shops.LoadDirectory(opt.ShopsFile, opt.Windows.Location); err != nil {
			return fmt.Errorf("--shops.file: %w", err)
		}
	}
	started, parent := time.Now(), ctx
	var published atomic.Int64
	defer func() {
		if parent.Err() != nil && errors.Is(err, context.Canceled) {
			err = nil // what the stop interrupted (publishing the history, say)
		}
		reason := "ended"
		switch {
		case err != nil:
			reason = err.Error()
		case context.Cause(parent) != nil:
			reason = context.Cause(parent).Error()
		}
		opt.Logger.Info("demo: stopped", "reason", reason, "records_published", published.Load(),
			"uptime", time.Since(started).Round(time.Millisecond).String())
	}()
	ln, err := kafkaListener(opt.KafkaAddress, opt.Logger)
	if err != nil {
		return err
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(),
		kfake.SeedTopics(partitions, topicMessages, topicOrders, topicDeadletter),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }))
	if err != nil {
		ln.Close()
		return fmt.Errorf("in-process kafka: %w", err)
	}
	defer cluster.Close()
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		return fmt.Errorf("in-process redis: %w", err)
	}
	defer mr.Close()
	brokers := cluster.ListenAddrs()
	opt.Logger.Info("demo: in-process kafka and redis up", "brokers", brokers, "redis", mr.Addr())
	if opt.OnBrokers != nil {
		opt.OnBrokers(brokers)
	}

	if opt.ShopsFile == "" {
		dir, err := os.MkdirTemp("", "cskpi-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opt.ShopsFile = filepath.Join(dir, "shops.yml")
		if err := os.WriteFile(opt.ShopsFile, demoShops, 0o644); err != nil {
			return err
		}
		opt.Logger.Info("demo: shop directory (edit it, or send SIGHUP, to see it reloaded)", "file", opt.ShopsFile)
	}

	popt := produce.Options{Brokers: brokers, Topics: produce.Topics{Messages: topicMessages, Orders: topicOrders}}
	now := time.Now()
	gen := synth.New(synth.Config{Seed: now.UnixNano(), Shops: opt.Shops, SlowShops: 1, Start: now.Add(-opt.Backfill),
		Rate: opt.Rate, Unanswered: demoLeftWaiting, Gone: demoLeftWaiting, NewBuyersPerAgentMinute: demoBuyersPerAgentMinute})
	var history [][]byte
	for gen.Now().Before(now) {
		history = append(history, gen.Next())
	}
	n, err := produce.Lines(ctx, history, popt)
	published.Add(n)
	if err != nil {
		return fmt.Errorf("publishing history: %w", err)
	}
	opt.Logger.Info("demo: published history", "records", len(history), "since", opt.Backfill)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("cskpi"))
	// serve, the load generator and the table run until ctx ends or one fails; the demo
	// also ends when serve does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer cancel()
		return serve.Run(gctx, serve.Options{
			Pipeline: pipeline.Options{
				Brokers:        brokers,
				Group:          "cskpi-demo",
				Topics:         pipeline.Topics{Messages: topicMessages, Orders: topicOrders, Deadletter: topicDeadletter},
				Windows:        opt.Windows,
				SessionTimeout: 6 * time.Second,
			},
			Redis:         &redis.UniversalOptions{Addrs: []string{mr.Addr()}},
			ListenAddress: opt.ListenAddress,
			WebConfigFile: opt.WebConfigFile,
			Listener:      web,
			ShopsFile:     opt.ShopsFile,
			Reload:        opt.Reload,
			OnListen:      opt.OnListen,
			Logger:        opt.Logger,
			Registry:      reg,
		})
	})
	g.Go(func() error {
		n, err := produce.Loadgen(gctx, produce.LoadgenOptions{Options: popt, Rate: opt.Rate, Gen: gen})
		published.Add(n)
		if err != nil && !errors.Is(err, context.Canceled) && gctx.Err() == nil {
			return fmt.Errorf("loadgen: %w", err)
		}
		return nil
	})
	if opt.Out != nil {
		if opt.Command == "" {
			opt.Command = Invocation()
		}
		banner(opt.Out, opt, brokers[0])
		g.Go(func() error {
			t := time.NewTicker(opt.Every)
			defer t.Stop()
			for {
				select {
				case <-gctx.Done():
					return nil
				case <-t.C:
					printTable(opt.Out, reg, opt.Windows.WaitingThresholds())
				}
			}
		})
	}
	return g.Wait()
}

// banner tells what the demo runs and how to publish into it, in commands that run as
// printed: opt.Command is cskpi.
func banner(w io.Writer, opt Options, broker string) {
	fmt.Fprintf(w, `cskpi demo: %[1]d synthetic shops, %[2]g records/s. shop-001 is set up to reply slowly
(its average response time stays far above the 15 s target); the others mostly answer
within 2-10 s. shop-002 and shop-003 have business hours and targets in the demo's shop
directory (the log names the file).
Kafka broker: %[3]s, topics %[4]s and %[5]s. Publish into the demo with
  %[7]s produce --kafka.brokers=%[3]s --file=events.jsonl
  %[7]s loadgen --kafka.brokers=%[3]s --rate=50 --duration=1m   (shops of its own, load-001…)
  kcat -b %[3]s -t %[4]s -P -K '|'   (lines "shop-001/buyer|{...event json...}")
%[8]sThe table below is printed every %[6]v.

`, opt.Shops, opt.Rate, broker, topicMessages, topicOrders, opt.Every, opt.Command, goRunNote(opt.Command))
}

// goRunNote says where `go run ./cmd/cskpi` works: in the repository, as `make demo` runs.
func goRunNote(command string) string {
	if strings.HasPrefix(command, "go run ") {
		return "(go run: from the repository's root, where make demo runs.)\n"
	}
	return ""
}

// Invocation is how to run this very cskpi from another terminal: "go run ./cmd/cskpi" when
// it runs by go run (make demo), whose binary lives in a temporary directory; "cskpi" when
// that name on the PATH is this executable; its absolute path otherwise.
func Invocation() string {
	exe, err := os.Executable()
	if err != nil {
		exe = ""
	}
	return invocation(os.Args[0], exe, exec.LookPath)
}

func invocation(argv0, exe string, lookPath func(string) (string, error)) string {
	for _, dir := range strings.Split(filepath.ToSlash(filepath.Dir(argv0)), "/") {
		if strings.HasPrefix(dir, "go-build") { // go run's $WORK/b001/exe/cskpi
			return "go run ./cmd/cskpi"
		}
	}
	if exe == "" {
		return argv0
	}
	if onPath, err := lookPath("cskpi"); err == nil && sameFile(onPath, exe) {
		return "cskpi"
	}
	return exe
}

func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// kafkaListener listens at addr; the default address falls back to a free port when taken,
// with a warning, so that a second demo or a real broker on 9092 does not stop the demo.
func kafkaListener(addr string, log *slog.Logger) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && addr == DefaultKafkaAddress {
		log.Warn("demo: the default kafka address is taken; listening on a free port instead", "address", addr, "err", err)
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("in-process kafka: listening on %s: %w", addr, err)
	}
	return ln, nil
}
