package pipeline

import (
	"slices"
	"sync"

	"github.com/cskpi/cskpi/windows"
)

// registry holds the workers of the current generation, by partition number. The member
// adds and removes them; scrapes (KPIs, since times, owned count), readiness, the health
// poller and the member's own loops read them. Its lock guards the map and nothing else:
// every reader takes a copy of the workers, releases the lock, and only then uses each
// worker, so that no lock is ever held while a worker's is taken.
type registry struct {
	mu      sync.Mutex
	workers map[int]*worker
}

func newRegistry() *registry { return &registry{workers: map[int]*worker{}} }

// add registers w as the worker of its partition number.
func (r *registry) add(w *worker) {
	r.mu.Lock()
	r.workers[w.part] = w
	r.mu.Unlock()
}

// remove unregisters w, unless another worker has taken its partition number since.
func (r *registry) remove(w *worker) {
	r.mu.Lock()
	if r.workers[w.part] == w {
		delete(r.workers, w.part)
	}
	r.mu.Unlock()
}

// list copies the current workers.
func (r *registry) list() []*worker {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*worker, 0, len(r.workers))
	for _, w := range r.workers {
		out = append(out, w)
	}
	return out
}

// parts is the registered partition numbers in order: what this instance claims.
func (r *registry) parts() []int {
	var out []int
	for _, w := range r.list() {
		out = append(out, w.part)
	}
	slices.Sort(out)
	return out
}

// owned is the number of partitions loaded and exported (cskpi_partitions_owned).
func (r *registry) owned() float64 {
	n := 0
	for _, w := range r.list() {
		if w.loaded.Load() {
			n++
		}
	}
	return float64(n)
}

// held reports whether a registered partition is held on missing or refused state, which
// makes the instance unready.
func (r *registry) held() bool {
	for _, w := range r.list() {
		if w.missing.Load() || w.refused.Load() {
			return true
		}
	}
	return false
}

// addTo sums every exported partition into a scrape's totals.
func (r *registry) addTo(tot *windows.Totals) {
	for _, w := range r.list() {
		w.addTo(tot)
	}
}

// waiting lists the open episodes of shop ("" for all) of every exported partition that have
// waited at least minWait at the as-of time a, and whether any of them knows shop.
func (r *registry) waiting(a int64, shop string, minWait int64) ([]windows.Waiting, bool) {
	var out []windows.Waiting
	known := false
	for _, w := range r.list() {
		known = w.waiting(a, shop, minWait, &out) || known
	}
	return out, known
}
