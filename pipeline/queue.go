package pipeline

import (
	"context"
	"sync"
)

// queue hands decoded records from a partition's fetchers to its batch loop. A channel
// send per record cost more than decoding it; here the fetcher appends under a mutex and
// the batch loop takes up to a batch at once.
type queue struct {
	mu    sync.Mutex
	items []record
	limit int
	ready chan struct{} // a signal: items is not empty
	space chan struct{} // a signal: items fell below limit
}

func newQueue(limit int) *queue {
	return &queue{items: make([]record, 0, limit), limit: limit, ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// push appends r, waiting while the queue is full; false when ctx ended.
func (q *queue) push(ctx context.Context, r record) bool {
	for {
		q.mu.Lock()
		if len(q.items) < q.limit {
			q.items = append(q.items, r)
			q.mu.Unlock()
			select {
			case q.ready <- struct{}{}:
			default:
			}
			return true
		}
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-ctx.Done():
			return false
		}
	}
}

// take returns everything queued, at most max records, reusing batch's memory; it
// returns an empty slice when nothing is queued.
func (q *queue) take(batch []record, max int) []record {
	q.mu.Lock()
	n := min(len(q.items), max)
	batch = append(batch[:0], q.items[:n]...)
	rest := copy(q.items, q.items[n:])
	clear(q.items[rest:])
	q.items = q.items[:rest]
	q.mu.Unlock()
	select {
	case q.space <- struct{}{}:
	default:
	}
	return batch
}
