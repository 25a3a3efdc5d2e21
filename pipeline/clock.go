package pipeline

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// streamClock is the shared stream time as this instance knows it: the largest ts of any
// committed batch, its own or (through Redis) another instance's. It only moves forward.
type streamClock struct {
	ts    atomic.Int64
	has   atomic.Bool
	gauge prometheus.Gauge
}

// Get is the stream time, and whether there is one yet.
func (c *streamClock) Get() (int64, bool) {
	has := c.has.Load()
	return c.ts.Load(), has
}

// Raise moves the stream time to ts if that is later.
func (c *streamClock) Raise(ts int64) {
	for {
		cur := c.ts.Load()
		if c.has.Load() && cur >= ts {
			return
		}
		if c.ts.CompareAndSwap(cur, ts) {
			c.has.Store(true)
			c.gauge.Set(float64(ts) / 1e9)
			return
		}
	}
}
