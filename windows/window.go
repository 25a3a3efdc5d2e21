package windows

import (
	"fmt"
	"math"
	"time"

	"github.com/cskpi/cskpi/windows/kpi"
)

const (
	minuteNs = int64(time.Minute)
	hourNs   = int64(time.Hour)
)

// floorDiv is division rounding towards minus infinity, so buckets stay aligned for
// times before the epoch as well.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// MinuteOf and HourOf give the epoch-aligned bucket index of a Unix-ns time.
func MinuteOf(ts int64) int64 { return floorDiv(ts, minuteNs) }
func HourOf(ts int64) int64   { return floorDiv(ts, hourNs) }

// nWindows is the number of windows of kpi.Windows(). A window is known here by its index
// there: the running totals and Totals hold one vector per window.
const nWindows = kpi.NumWindows

// window is a row of kpi.Windows() in the buckets' terms.
type window struct {
	name string
	res  byte  // the buckets it sums: resMinute or resHour
	n    int64 // how many, the one holding A included
}

// windowTable is kpi.Windows() by index, checked when the program starts: a window of
// buckets the partition does not keep (minutes and hours) stops it there.
var windowTable = func() (t [nWindows]window) {
	for i, w := range kpi.Windows() {
		var res byte
		switch w.Bucket {
		case time.Minute:
			res = resMinute
		case time.Hour:
			res = resHour
		default:
			panic(fmt.Sprintf("windows: window %s: buckets of %v are not kept, only minutes and hours", w.Name, w.Bucket))
		}
		t[i] = window{name: w.Name, res: res, n: w.Buckets}
	}
	return t
}()

// familyWindows are the indexes of each family's windows, resolved once: a family naming
// a window the table lacks stops the program when it starts, not a scrape.
var familyWindows = func() (t [kpi.NumIDs][]int) {
	for _, f := range kpi.Families() {
		for _, name := range f.Windows {
			w, ok := kpi.WindowIndex(name)
			if !ok {
				panic(fmt.Sprintf("windows: family %s names window %q, which kpi.Windows() lacks", f.Name, name))
			}
			t[f.ID] = append(t[f.ID], w)
		}
	}
	return t
}()

// wLive is the window of the activity that decides which shops and agents are exported
// (CONTRACT §3: an applied event within 28 days of A).
var wLive = mustWindow(kpi.W28d)

func mustWindow(name string) int {
	w, ok := kpi.WindowIndex(name)
	if !ok {
		panic("windows: no window " + name)
	}
	return w
}

// Span is an inclusive range of bucket indexes.
type Span struct{ From, To int64 }

func (s Span) Has(i int64) bool { return i >= s.From && i <= s.To }

// Spans are the buckets of each window ending at one as-of time A, by window index.
type Spans [nWindows]Span

// SpansAt computes the windows that end at A: each the bucket of its resolution holding A
// and the n-1 before it.
func SpansAt(a int64) Spans {
	m, h := MinuteOf(a), HourOf(a)
	var s Spans
	for w := range windowTable {
		to := m
		if windowTable[w].res == resHour {
			to = h
		}
		s[w] = Span{to - (windowTable[w].n - 1), to}
	}
	return s
}

// keptFrom is, per resolution, the first bucket that a window of s spans (the longest
// window's): an earlier bucket counts in no window at A or later. It is math.MaxInt64 for
// a resolution no window sums.
func (s Spans) keptFrom() (minute, hour int64) {
	minute, hour = math.MaxInt64, math.MaxInt64
	for w, sp := range s {
		if windowTable[w].res == resHour {
			hour = min(hour, sp.From)
		} else {
			minute = min(minute, sp.From)
		}
	}
	return minute, hour
}
