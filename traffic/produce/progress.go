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
}

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
		progressbar.OptionShowCount(),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionSpinnerType(14),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"))
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
		v = records
	}
	_ = p.bar.Set64(v)
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
