package produce

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports to an operator. The bar is github.com/schollz/progressbar/v3: it sizes
// itself to the terminal, shows bytes with rate and ETA, throttles redraws, and draws on any
// writer we hand it; its dependencies are small (x/term, which we need anyway, and two tiny
// text-width helpers). Writing our own would mean redoing that terminal arithmetic.
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	start time.Time
	bytes bool
	// A bar of records shows its own rate: the bar's would read "0 records/hr" until the
	// first record, and switch units as it sinks below one a second. rate keeps the last
	// seconds' counts (oldest first) to average over.
	samples []sample
}

type sample struct {
	at time.Time
	n  int64
}

// rateWindow is how far back the rate of records looks: long enough to smooth the batches,
// short enough to follow a change of pace.
const rateWindow = 5 * time.Second

// IsTerminal says whether w is a terminal, where Options.Progress draws a bar; a caller
// that wants only the bar, not the summary line elsewhere, passes Progress on a terminal only.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress shows a bar on a terminal (max < 0: a spinner) and nothing else until finish.
func newProgress(w io.Writer, max int64, bytes bool) *progress {
	p := &progress{w: w, start: time.Now(), bytes: bytes}
	if !IsTerminal(w) {
		return p
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("producing"),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionSpinnerType(14),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true))
	} else {
		opts = append(opts, progressbar.OptionSetDescription("producing (0 records)"))
	}
	if max < 0 { // "1462" rather than "1462/-" for a count without an end
		opts = append(opts, progressbar.OptionShowTotalBytes(false))
	}
	p.bar = progressbar.NewOptions64(max, opts...)
	return p
}

// set moves the bar to v (bytes consumed, or records when the bar counts records).
func (p *progress) set(v, records int64) {
	if p == nil || p.bar == nil {
		return
	}
	if !p.bytes {
		p.bar.Describe(p.describe(records, time.Now()))
		v = records
	}
	_ = p.bar.Set64(v)
}

// describe is a bar of records' text: the count and the rate over the last seconds, in
// records per second whatever the rate ("producing (1462, 198 records/s)"), from the first
// second on.
func (p *progress) describe(n int64, now time.Time) string {
	p.samples = append(p.samples, sample{now, n})
	for len(p.samples) > 2 && now.Sub(p.samples[1].at) >= rateWindow {
		p.samples = p.samples[1:]
	}
	from := sample{p.start, 0} // until a window has passed, the rate since the start
	if now.Sub(p.start) >= rateWindow {
		from = p.samples[0]
	}
	secs := now.Sub(from.at).Seconds()
	if secs < 1 { // too soon for a rate: a first batch in milliseconds is not thousands a second
		return fmt.Sprintf("producing (%d records)", n)
	}
	rate := float64(n-from.n) / secs
	prec := 0
	if rate < 10 {
		prec = 1
	}
	return fmt.Sprintf("producing (%d, %.*f records/s)", n, prec, rate)
}

// finish closes the bar and prints the summary line; a partial count is printed on error too,
// since the caller reports the error but not how far it got.
func (p *progress) finish(n int64, err error) {
	if p == nil || p.w == nil {
		return
	}
	if p.bar != nil {
		if err == nil {
			_ = p.bar.Finish()
		}
		fmt.Fprintln(p.w)
	}
	secs := time.Since(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(n) / secs
	}
	fmt.Fprintf(p.w, "produced %d records in %.1fs (%.0f records/s)\n", n, secs, rate)
}
