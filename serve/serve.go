package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/cskpi/cskpi/pipeline"
	"github.com/cskpi/cskpi/sinks"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/shops"
)

// Options of the service.
type Options struct {
	Pipeline pipeline.Options // Store, Registerer and Logger are filled in by Run

	Redis     *redis.UniversalOptions
	KeyPrefix string

	ListenAddress string
	WebConfigFile string
	// ShopsFile is the shop directory (CONTRACT §6); "" for none. It is re-read on Reload
	// (SIGHUP) and when its content changes.
	ShopsFile string
	Reload    <-chan struct{}
	// OnListen reports the bound HTTP address (useful with ":0").
	OnListen func(net.Addr)
	// Listener, when set, is the HTTP listener, bound by the caller (the demo binds before
	// starting its broker); ListenAddress then only names it in the log. Run closes it.
	Listener net.Listener

	Logger *slog.Logger
	// Registry receives every metric; nil makes one with the Go, process and build-info
	// (cskpi_build_info) collectors.
	Registry *prometheus.Registry
}

// Run serves until ctx is done or a part fails. It logs what it serves when it starts, and
// what it did when it stops (why, the partitions it released, the records it applied, how
// long it ran); a stop that ctx asked for returns nil.
func Run(ctx context.Context, opt Options) error {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.KeyPrefix == "" {
		opt.KeyPrefix = "cskpi"
	}
	// Bind first: a busy port or a bad web config is a wrong command line, reported alone.
	// Started alongside the consumer, the failure would come after its Redis and Kafka
	// warnings, the last of them a misleading "context canceled" caused by the failure.
	ln := opt.Listener
	if ln == nil {
		var err error
		if ln, err = sinks.Listen(opt.ListenAddress, opt.WebConfigFile); err != nil {
			return err
		}
	}
	defer ln.Close()
	reg := opt.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			versioncollector.NewCollector("cskpi"))
	}
	rdb := redis.NewUniversalClient(opt.Redis)
	defer rdb.Close()

	po := opt.Pipeline
	var watcher *shopsWatcher
	if opt.ShopsFile != "" {
		// A directory that does not load refuses the start, as Prometheus does with its
		// configuration; later reloads keep the one in force instead.
		po.Windows.Shops = &shops.Holder{}
		watcher = newShopsWatcher(opt.ShopsFile, po.Windows.Shops, po.Windows.Location, opt.Logger, reg)
		if err := watcher.load(); err != nil {
			return fmt.Errorf("--shops.file: %w", err)
		}
	}
	po.Store = windows.NewStore(rdb, opt.KeyPrefix)
	po.Registerer = reg
	po.Logger = opt.Logger
	svc, err := pipeline.New(po)
	if err != nil {
		return err
	}
	if watcher != nil {
		reg.MustRegister(sinks.NewShopCollector(po.Windows.Shops, svc.AsOf))
	}

	// The HTTP server and the consumer run until ctx ends or either fails, which stops both.
	started := time.Now()
	parent := ctx
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := sinks.Serve(ctx, sinks.ServerOptions{
			ListenAddress: opt.ListenAddress,
			WebConfigFile: opt.WebConfigFile,
			Gatherer:      reg,
			KPIs:          svc,
			Ready:         svc.Ready,
			Logger:        opt.Logger,
			OnListen:      opt.OnListen,
			Waiting:       waiting(svc, po.Windows.Shops),
			Shops:         &sinks.ShopsPage{KPIs: svc, Directory: po.Windows.Shops, AsOf: svc.AsOf},
			Listener:      ln,
		})
		if err != nil {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error { return svc.Run(ctx) })
	if watcher != nil {
		g.Go(func() error { return watcher.run(ctx, opt.Reload) })
	}
	opt.Logger.Info("cskpi serving", "version", version.Version, "revision", version.GetRevision(),
		"listen", ln.Addr().String(), "brokers", po.Brokers, "group", po.Group,
		"topics", []string{po.Topics.Messages, po.Topics.Orders}, "deadletter", po.Topics.Deadletter,
		"redis", opt.Redis.Addrs, "key_prefix", opt.KeyPrefix, "clock", clockName(po.EventClock),
		"timezone", po.Windows.Location.String())
	err = g.Wait()
	st := svc.Stats()
	released := st.Released
	if released == nil {
		released = []int{} // [] rather than nil's []: held none
	}
	// INFO either way: a failure is the caller's to log (cskpi's "cskpi failed" line).
	opt.Logger.Info("cskpi stopped", "reason", stopReason(parent, err),
		"partitions_released", released, "records_applied", st.Applied,
		"uptime", time.Since(started).Round(time.Millisecond).String())
	return err
}

// stopReason says why serve stopped: the part that failed, else what ended ctx (a signal:
// "interrupt signal received", "terminated signal received").
func stopReason(ctx context.Context, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case context.Cause(ctx) != nil:
		return context.Cause(ctx).Error()
	}
	return "ended"
}

func clockName(event bool) string {
	if event {
		return "event"
	}
	return "wall"
}

// waiting adapts the service's open episodes to the waiting API; a shop of the directory
// is known even before it has events.
func waiting(svc *pipeline.Service, dir *shops.Holder) sinks.WaitingFunc {
	return func(shop string, minWait time.Duration) ([]sinks.Episode, time.Time, bool) {
		eps, a, known := svc.Waiting(shop, minWait)
		out := make([]sinks.Episode, len(eps))
		for i, e := range eps {
			out[i] = sinks.Episode{Shop: e.Shop, Buyer: e.Buyer, Started: time.Unix(0, e.Start).UTC(), Scene: e.Scene.String(),
				WaitingSeconds: float64((a-e.Start)/int64(time.Millisecond)) / 1000, LastAgent: e.LastAgent}
		}
		return out, time.Unix(0, a).UTC(), known || dir.Get().Shop(shop) != nil
	}
}
