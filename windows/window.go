package windows

import (
	"time"
)

const (
	minuteNs = int64(time.Minute)
	hourNs   = int64(time.Hour)

	// Bucket counts of CONTRACT §2.
	buckets15m = 15
	buckets24h = 1440
	buckets28d = 672
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

// Span is an inclusive range of bucket indexes.
type Span struct{ From, To int64 }

func (s Span) Has(i int64) bool { return i >= s.From && i <= s.To }

// Spans are the three windows ending at the as-of time A.
type Spans struct {
	M15, H24 Span // minute buckets
	D28      Span // hour buckets
}

// SpansAt computes the windows that end at A.
func SpansAt(a int64) Spans {
	m, h := MinuteOf(a), HourOf(a)
	return Spans{
		M15: Span{m - (buckets15m - 1), m},
		H24: Span{m - (buckets24h - 1), m},
		D28: Span{h - (buckets28d - 1), h},
	}
}

// Window indexes of the totals arrays.
const (
	w15m = iota
	w24h
	w28d
	nWindows
)
