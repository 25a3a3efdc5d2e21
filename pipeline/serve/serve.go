package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/cskpi/cskpi/pipeline"
	"github.com/cskpi/cskpi/sinks"
	"github.com/cskpi/cskpi/windows"
)

// Options of the service.
type Options struct {
	Pipeline pipeline.Options // Store, Registerer and Logger are filled in by Run

	Redis     *redis.UniversalOptions
	KeyPrefix string

	ListenAddress string
	WebConfigFile string
	// OnListen reports the bound HTTP address (useful with ":0").
	OnListen func(net.Addr)

	Logger *slog.Logger
	// Registry receives every metric; nil makes one with the Go and process collectors.
	Registry *prometheus.Registry
}

// Run serves until ctx is done or a part fails.
func Run(ctx context.Context, opt Options) error {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.KeyPrefix == "" {
		opt.KeyPrefix = "cskpi"
	}
	reg := opt.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	rdb := redis.NewUniversalClient(opt.Redis)
	defer rdb.Close()

	po := opt.Pipeline
	po.Store = windows.NewStore(rdb, opt.KeyPrefix)
	po.Registerer = reg
	po.Logger = opt.Logger
	svc, err := pipeline.New(po)
	if err != nil {
		return err
	}
	kpis := sinks.NewKPICollector(svc)
	if err := reg.Register(kpis); err != nil {
		return fmt.Errorf("registering KPI collector: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		err := sinks.Serve(ctx, sinks.ServerOptions{
			ListenAddress: opt.ListenAddress,
			WebConfigFile: opt.WebConfigFile,
			Gatherer:      reg,
			Ready:         svc.Ready,
			Logger:        opt.Logger,
			OnListen:      opt.OnListen,
		})
		if err != nil {
			errs <- fmt.Errorf("http server: %w", err)
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		if err := svc.Run(ctx); err != nil {
			errs <- err
			cancel()
		}
	}()
	opt.Logger.Info("cskpi serving", "listen", opt.ListenAddress, "brokers", po.Brokers,
		"topics", []string{po.Topics.Messages, po.Topics.Orders}, "clock", clockName(po.EventClock))
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func clockName(event bool) string {
	if event {
		return "event"
	}
	return "wall"
}
