package kpi

import "time"

// Window is one window of CONTRACT §2: the epoch-aligned buckets of one resolution that end
// at the as-of time A, the bucket holding A included. An item counts in a window when the
// bucket holding its time is one of them.
type Window struct {
	Name    string        // the window label
	Bucket  time.Duration // the resolution: a minute or an hour
	Buckets int64         // how many buckets, the one holding A included
}

// windows is the one table of windows, in the order the families list them. Every use of
// a window derives from it: the labels of the series, the buckets each window sums, how
// long the streaming path keeps buckets, and the reference's test of an item.
var windows = [...]Window{
	{Name: W15m, Bucket: time.Minute, Buckets: 15},
	{Name: W24h, Bucket: time.Minute, Buckets: 1440},
	{Name: W28d, Bucket: time.Hour, Buckets: 672},
}

// NumWindows is the number of windows.
const NumWindows = len(windows)

// Windows is the table of windows of CONTRACT §2 (a copy: no caller can change it). A
// window's index in it is its position in the streaming path's totals.
func Windows() [NumWindows]Window { return windows }

// WindowIndex is the index in Windows of the window named name; ok is false when no window
// has that name.
func WindowIndex(name string) (i int, ok bool) {
	for i := range windows {
		if windows[i].Name == name {
			return i, true
		}
	}
	return -1, false
}
