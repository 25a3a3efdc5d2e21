package serve

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cskpi/cskpi/windows/shops"
)

// shopsPoll is how often --shops.file is checked for a change (a ConfigMap update, an edit).
const shopsPoll = 2 * time.Second

// shopsWatcher keeps the shop directory in force: it re-reads the file on SIGHUP and when its
// content changes. An invalid file is refused whole; the directory in force stays, and the
// reload gauges say so (Prometheus' own convention).
type shopsWatcher struct {
	path      string
	holder    *shops.Holder
	def       *time.Location
	log       *slog.Logger
	now       func() time.Time
	ok, at    prometheus.Gauge
	lastHash  [32]byte
	lastError string
}

func newShopsWatcher(path string, holder *shops.Holder, def *time.Location, log *slog.Logger, reg prometheus.Registerer) *shopsWatcher {
	w := &shopsWatcher{path: path, holder: holder, def: def, log: log, now: time.Now,
		ok: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cskpi_config_last_reload_successful",
			Help: "1 when the last attempt to (re)load --shops.file succeeded, else 0.",
		}),
		at: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cskpi_config_last_reload_success_timestamp_seconds",
			Help: "When --shops.file was last loaded successfully, Unix seconds.",
		}),
	}
	reg.MustRegister(w.ok, w.at)
	return w
}

// load reads the file and puts it in force if it is valid; it returns the error otherwise.
// A reload's error is logged here, once per distinct problem, with the directory in force
// kept. At start-up there is none to keep: the error is the caller's, which refuses to start.
func (w *shopsWatcher) load() error {
	data, err := os.ReadFile(w.path)
	if err == nil {
		w.lastHash = sha256.Sum256(data)
		var d *shops.Directory
		if d, err = shops.Parse(w.path, data, w.def); err == nil {
			w.holder.Set(d)
			w.ok.Set(1)
			w.at.Set(float64(w.now().UnixNano()) / 1e9)
			w.lastError = ""
			w.log.Info("shop directory loaded", "file", w.path, "shops", len(d.Shops))
			return nil
		}
	}
	w.ok.Set(0)
	if w.holder.Get() == nil { // start-up: nothing in force, and serve will not start
		return err
	}
	if err.Error() != w.lastError { // one ERROR per distinct problem, not one per poll
		w.log.Error("shop directory refused; the previous one stays in force", "file", w.path, "err", err)
	}
	w.lastError = err.Error()
	return err
}

// changed reports whether the file's content differs from what was last read.
func (w *shopsWatcher) changed() bool {
	data, err := os.ReadFile(w.path)
	if err != nil {
		return w.lastError == "" // a file that vanished is a failed reload, once
	}
	return sha256.Sum256(data) != w.lastHash
}

// run reloads on reload (SIGHUP) and when the content changes, until ctx ends.
func (w *shopsWatcher) run(ctx context.Context, reload <-chan struct{}) error {
	t := time.NewTicker(shopsPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reload:
			w.log.Info("SIGHUP: re-reading the shop directory", "file", w.path)
			_ = w.load()
		case <-t.C:
			if w.changed() {
				_ = w.load()
			}
		}
	}
}
