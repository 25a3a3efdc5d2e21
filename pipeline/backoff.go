package pipeline

import (
	"context"
	"time"
)

// backoff is an exponential wait from 100 ms to 5 s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Millisecond} }
func (b *backoff) reset()  { b.d = 100 * time.Millisecond }

func (b *backoff) wait(ctx context.Context) bool {
	d := b.d
	b.d = min(2*b.d, 5*time.Second)
	return sleepCtx(ctx, d)
}

// sleepCtx waits d, or less if ctx ends, and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
