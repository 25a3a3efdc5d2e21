package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

const (
	// shutdownGrace lets an in-flight scrape finish on SIGTERM; past it the remaining
	// connections are closed so that shutdown stays bounded.
	shutdownGrace = 5 * time.Second
	// readHeaderTimeout bounds slow-loris clients; a scraper sends its headers at once.
	readHeaderTimeout = 10 * time.Second
)

// ServerOptions configures Serve.
type ServerOptions struct {
	// ListenAddress is the TCP address to bind, e.g. ":9470"; ":0" picks a free port,
	// reported through OnListen.
	ListenAddress string
	// WebConfigFile is an exporter-toolkit web configuration (TLS, basic auth); ""
	// serves plain HTTP without authentication.
	WebConfigFile string
	// Gatherer supplies /metrics. Required.
	Gatherer prometheus.Gatherer
	// KPIs, when set, supplies the KPI series of /metrics besides the Gatherer's, written
	// without client_golang's per-series objects (metricsHandler); a KPICollector over it
	// must not be registered in the Gatherer too.
	KPIs Source
	// Ready backs /-/ready: 200 "ready" when it returns true, 503 "not ready" otherwise.
	// Nil means always ready.
	Ready func() bool
	// Logger receives server and scrape errors; nil discards them.
	Logger *slog.Logger
	// OnListen, when set, is called once with the bound address after the listener is
	// open and before Serve starts accepting, so a caller that asked for ":0" learns the
	// port and can connect as soon as OnListen returns.
	OnListen func(addr net.Addr)
	// Version is shown on the landing page; optional.
	Version string
	// Waiting backs GET /api/v1/waiting; nil leaves it unserved.
	Waiting WaitingFunc
	// Shops backs the HTML table at /shops; nil leaves it unserved.
	Shops *ShopsPage
	// Listener, when set, is one Listen returned for ListenAddress and WebConfigFile, and
	// Serve serves it instead of binding the address itself.
	Listener net.Listener
}

// Listen checks the web config and binds the address: what fails when the command line is
// wrong (a typo in the config, a busy port). A caller that listens before starting anything
// else reports that failure alone, and then hands the listener to Serve.
func Listen(address, webConfigFile string) (net.Listener, error) {
	// Validate before binding: a typo in the web config should fail start-up, not leave
	// a port open that answers nothing.
	if webConfigFile != "" {
		if err := web.Validate(webConfigFile); err != nil {
			return nil, fmt.Errorf("sinks: web config %s: %w", webConfigFile, err)
		}
	}
	// Our own listener rather than web.ListenAndServe, which never reveals the address
	// it bound; tests and the demo need ":0".
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("sinks: %w", err)
	}
	return ln, nil
}

// Serve serves /metrics, /-/healthy, /-/ready, the optional /api/v1/waiting and /shops,
// Go's profiles under /debug/pprof/, and a landing page at / linking them (each in
// docs/DEPLOYING.md, "Endpoints", which a test holds to this file), until ctx is done,
// then shuts down gracefully. It returns nil after a shutdown triggered by ctx, or the
// error that stopped the server early (bad web config, address in use, ...). In every
// case the listener is closed when Serve returns.
func Serve(ctx context.Context, opt ServerOptions) error {
	if opt.Gatherer == nil {
		return errors.New("sinks: ServerOptions.Gatherer is nil")
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln := opt.Listener
	if ln == nil {
		var err error
		if ln, err = Listen(opt.ListenAddress, opt.WebConfigFile); err != nil {
			return err
		}
	}
	// server.Serve closes it too, but not when web.Serve fails before reaching it.
	defer ln.Close()
	handler, err := newHandler(opt, logger)
	if err != nil {
		return err
	}
	if opt.OnListen != nil {
		opt.OnListen(ln.Addr())
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	webConfig := opt.WebConfigFile
	noSystemd := false
	flags := &web.FlagConfig{
		WebListenAddresses: &[]string{opt.ListenAddress},
		WebSystemdSocket:   &noSystemd,
		WebConfigFile:      &webConfig,
	}
	served := make(chan error, 1)
	go func() { served <- web.Serve(ln, srv, flags, logger) }()

	select {
	case err := <-served:
		// Stopped without being asked to.
		return fmt.Errorf("sinks: serving %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("HTTP server did not drain in time; closing connections", "err", err)
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sinks: serving %s: %w", ln.Addr(), err)
	}
	return nil
}

func newHandler(opt ServerOptions, logger *slog.Logger) (http.Handler, error) {
	links := []web.LandingLinks{
		{Address: "/metrics", Text: "Metrics", Description: "the KPI gauges of CONTRACT §3, computed at each scrape"},
		{Address: "/-/healthy", Text: "Health", Description: "200 while the process runs"},
		{Address: "/-/ready", Text: "Readiness", Description: "200 once Redis and Kafka answer and the group is joined, 503 otherwise"},
	}
	if opt.Waiting != nil {
		links = append(links, web.LandingLinks{Address: "/api/v1/waiting", Text: "Buyers waiting now (JSON)",
			Description: "open waiting episodes, longest first; ?shop=, ?min_wait=, ?limit="})
	}
	if opt.Shops != nil {
		links = append(links, web.LandingLinks{Address: "/shops", Text: "Shops",
			Description: "a live table per shop: response time, buyers waiting, reply rate, worst first"})
	}
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "cskpi",
		Description: "Customer-service KPIs computed from Kafka chat and order events",
		Version:     opt.Version,
		// /debug/pprof is served, as Prometheus does, so that a slow instance can be
		// profiled where it runs; it sits behind the same TLS and basic auth.
		Profiling: "true",
		Links:     links,
	})
	if err != nil {
		return nil, fmt.Errorf("sinks: landing page: %w", err)
	}

	mux := http.NewServeMux()
	if opt.KPIs != nil {
		mux.Handle("/metrics", newMetricsHandler(opt.KPIs, opt.Gatherer, logger))
	} else {
		mux.Handle("/metrics", promhttp.HandlerFor(opt.Gatherer, handlerOpts(logger)))
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	// No /debug/pprof/cmdline: the command line may carry a password flag.
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if opt.Ready == nil || opt.Ready() {
			writeText(w, http.StatusOK, "ready")
			return
		}
		writeText(w, http.StatusServiceUnavailable, "not ready")
	})
	if opt.Waiting != nil {
		mux.HandleFunc("/api/v1/waiting", waitingHandler(opt.Waiting))
	}
	if opt.Shops != nil {
		shopsPage, err := shopsHandler(*opt.Shops, opt.Waiting != nil, logger)
		if err != nil {
			return nil, err
		}
		mux.HandleFunc("/shops", shopsPage)
	}
	// The landing handler answers 404 for every path but "/" itself.
	mux.Handle("/", landing)
	return mux, nil
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, body)
}
