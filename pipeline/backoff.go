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
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, 5*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
