package pipeline

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
)

func TestRegistryAddRemove(t *testing.T) {
	e, _ := testEnv(t, &fakeStore{})
	w0, w1, w0again := newWorker(0, e), newWorker(1, e), newWorker(0, e)
	type op struct {
		add bool
		w   *worker
	}
	tests := []struct {
		name string
		ops  []op
		want []*worker // by partition number
	}{
		{"empty", nil, nil},
		{"added", []op{{true, w1}, {true, w0}}, []*worker{w0, w1}},
		{"removed", []op{{true, w0}, {true, w1}, {false, w0}}, []*worker{w1}},
		{"a newer worker of the number takes its place", []op{{true, w0}, {true, w0again}}, []*worker{w0again}},
		// A generation's worker stops after the next one's started: it must not
		// unregister its successor.
		{"an old worker's removal keeps its successor", []op{{true, w0}, {true, w0again}, {false, w0}}, []*worker{w0again}},
		{"removing twice", []op{{true, w0}, {false, w0}, {false, w0}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry()
			for _, o := range tc.ops {
				if o.add {
					r.add(o.w)
				} else {
					r.remove(o.w)
				}
			}
			got := r.list()
			slices.SortFunc(got, func(a, b *worker) int { return a.part - b.part })
			if !slices.Equal(got, tc.want) {
				t.Errorf("list: %v, want %v", got, tc.want)
			}
			var parts []int
			for _, w := range tc.want {
				parts = append(parts, w.part)
			}
			if got := r.parts(); !slices.Equal(got, parts) {
				t.Errorf("parts %v, want %v", got, parts)
			}
		})
	}
}

// TestRegistryListIsACopy: what a reader holds does not change under it.
func TestRegistryListIsACopy(t *testing.T) {
	e, _ := testEnv(t, &fakeStore{})
	r := newRegistry()
	r.add(newWorker(0, e))
	got := r.list()
	r.add(newWorker(1, e))
	r.remove(got[0])
	if len(got) != 1 || got[0].part != 0 {
		t.Errorf("a list taken before changes became %v", got)
	}
}

func TestRegistryOwnedAndHeld(t *testing.T) {
	type state struct{ loaded, missing, refused bool }
	tests := []struct {
		name  string
		parts []state
		owned float64
		held  bool
	}{
		{"none", nil, 0, false},
		{"loading", []state{{}, {}}, 0, false},
		{"loaded", []state{{loaded: true}, {loaded: true}, {}}, 2, false},
		{"state missing", []state{{loaded: true}, {missing: true}}, 1, true},
		{"state refused", []state{{refused: true}, {loaded: true}}, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := testEnv(t, &fakeStore{})
			r := newRegistry()
			for i, s := range tc.parts {
				w := newWorker(i, e)
				w.loaded.Store(s.loaded)
				w.missing.Store(s.missing)
				w.refused.Store(s.refused)
				r.add(w)
			}
			if got := r.owned(); got != tc.owned {
				t.Errorf("owned %v, want %v", got, tc.owned)
			}
			if got := r.held(); got != tc.held {
				t.Errorf("held %v, want %v", got, tc.held)
			}
		})
	}
}

// TestRegistryScrape: a scrape sums and lists the exported partitions only.
func TestRegistryScrape(t *testing.T) {
	store := &fakeStore{}
	e, _ := testEnv(t, store)
	r := newRegistry()
	// Partition 0: shop s1, one buyer message unanswered since testBase.
	w0 := newWorker(0, e)
	w0.export(windows.NewPartition(0, e.opt.Windows))
	if err := w0.apply(context.Background(), records(t, buyerMsg("1", 0)), &fakeDLQ{}); err != nil {
		t.Fatal(err)
	}
	// Partition 1: the same again, then unexported (a commit failed, or loading).
	w1 := newWorker(1, e)
	w1.export(windows.NewPartition(1, e.opt.Windows))
	if err := w1.apply(context.Background(), records(t, buyerMsg("1", 0)), &fakeDLQ{}); err != nil {
		t.Fatal(err)
	}
	w1.export(nil)
	r.add(w0)
	r.add(w1)

	a := testBase.Add(time.Minute).UnixNano()
	tot := windows.NewTotals(e.opt.Windows, a)
	r.addTo(tot)
	got := map[string]float64{}
	tot.Each(func(s kpi.Series) { got[s.Key()] = s.Value })
	if k := (kpi.Series{Name: kpi.BuyerMessages.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W15m, Scene: "presale"}}).Key(); got[k] != 1 {
		t.Errorf("%s = %v, want 1 (the exported partition only)", k, got[k])
	}

	tests := []struct {
		shop    string
		minWait time.Duration
		n       int
		known   bool
	}{
		{"s1", 0, 1, true},
		{"", 0, 1, true},
		{"s1", 30 * time.Second, 1, true},
		{"s1", 2 * time.Minute, 0, true},
		{"s2", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("waiting %q over %v", tc.shop, tc.minWait), func(t *testing.T) {
			eps, known := r.waiting(a, tc.shop, int64(tc.minWait))
			if len(eps) != tc.n || known != tc.known {
				t.Errorf("%d episodes, known %v; want %d, %v", len(eps), known, tc.n, tc.known)
			}
			for _, ep := range eps {
				if ep.Shop != "s1" || ep.Buyer != "b1" || ep.Start != testBase.UnixNano() {
					t.Errorf("episode %+v, want s1/b1 since %v", ep, testBase)
				}
			}
		})
	}
}
