package bench

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cskpi/cskpi/internal/difftest"
)

// scraper scrapes a serve's /metrics at a fixed interval, as Prometheus would, and keeps
// each scrape's wall time, the body read in full.
type scraper struct {
	end  func()
	took durations
}

// startScraper scrapes p every interval until stop. Failed scrapes (serve not listening
// yet) are not timed.
func startScraper(p *difftest.Proc, every time.Duration) *scraper {
	s := &scraper{}
	s.end = repeat(every, func() {
		t0 := time.Now()
		if _, err := p.Scrape(); err == nil {
			s.took = append(s.took, time.Since(t0))
		}
	})
	return s
}

// stop ends the scraping (waiting for a scrape under way) and returns the scrapes' times;
// nil for a nil scraper.
func (s *scraper) stop() durations {
	if s == nil {
		return nil
	}
	s.end()
	return s.took
}

// durations are wall times of repeated operations.
type durations []time.Duration

// quantile is the nearest-rank q quantile in seconds; NaN when there is none.
func (d durations) quantile(q float64) float64 {
	if len(d) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(d))
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)].Seconds()
}

// String is p50 / p99 / max and the count.
func (d durations) String() string {
	return fmt.Sprintf("%.3f s / %.3f s / %.3f s (%d scrapes)", d.quantile(0.5), d.quantile(0.99), d.quantile(1), len(d))
}
