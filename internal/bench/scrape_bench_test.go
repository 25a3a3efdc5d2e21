package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
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
		if took, _, err := scrapeOnce(p, nil); err == nil {
			s.took = append(s.took, took)
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

// scrapeOnce GETs p's /metrics and reads the body to its end as it comes, without keeping
// it (a scrape of 100 000 shops is over a GiB), handing each line to line when not nil.
// It returns the wall time from the request to the body's end and the body's size.
func scrapeOnce(p *difftest.Proc, line func([]byte)) (time.Duration, int64, error) {
	t0 := time.Now()
	resp, err := p.Client.Get(p.Base + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("%s /metrics: status %d", p.Name, resp.StatusCode)
	}
	var n int64
	if line == nil {
		n, err = io.Copy(io.Discard, resp.Body)
	} else {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n += int64(len(sc.Bytes())) + 1
			line(sc.Bytes())
		}
		err = sc.Err()
	}
	return time.Since(t0), n, err
}

// shape is what one scrape exports.
type shape struct {
	bytes       int64
	series      int // sample lines
	shopSeries  int // sample lines with a shop label
	agentSeries int // sample lines with an agent label
	shops       int // distinct shop labels ("_other" of the cap included)
}

// shapeOf scrapes p once and counts the samples and shops of the text format.
func shapeOf(p *difftest.Proc) (shape, error) {
	var sh shape
	shops := map[string]bool{}
	_, n, err := scrapeOnce(p, func(line []byte) {
		if len(line) == 0 || line[0] == '#' {
			return
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
				if !shops[string(v[:j])] { // a lookup by string(bytes) does not allocate
					shops[string(v[:j])] = true
				}
			}
		}
	})
	sh.bytes, sh.shops = n, len(shops)
	return sh, err
}
