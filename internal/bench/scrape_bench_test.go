package bench

import (
	"bytes"
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

// shape is what one scrape exports.
type shape struct {
	series      int // sample lines
	shopSeries  int // sample lines with a shop label
	agentSeries int // sample lines with an agent label
	shops       int // distinct shop labels ("_other" of the cap included)
}

// shapeOf counts a text-format scrape's samples and shops.
func shapeOf(body []byte) shape {
	var sh shape
	shops := map[string]bool{}
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		sh.series++
		if bytes.Contains(line, []byte(`agent="`)) {
			sh.agentSeries++
		}
		const label = `shop="`
		if i := bytes.Index(line, []byte(label)); i >= 0 {
			v := line[i+len(label):]
			if j := bytes.IndexByte(v, '"'); j >= 0 {
				sh.shopSeries++
				shops[string(v[:j])] = true
			}
		}
	}
	sh.shops = len(shops)
	return sh
}
