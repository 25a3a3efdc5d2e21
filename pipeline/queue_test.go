package pipeline

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/segmentio/kafka-go"
)

// queued is n records at offsets from, as a fetcher pushes them.
func queued(from, n int) []record {
	out := make([]record, n)
	for i := range out {
		out[i].msg = kafka.Message{Offset: int64(from + i), Value: []byte("{}")}
	}
	return out
}

func offsetsOf(rs []record) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.msg.Offset)
	}
	return out
}

func TestQueueTake(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		pushed int
		takes  []int   // max of each take, in turn
		want   [][]int // the offsets each take returns
	}{
		{"nothing queued", 4, 0, []int{4}, [][]int{nil}},
		{"all at once", 8, 5, []int{8, 8}, [][]int{{0, 1, 2, 3, 4}, nil}},
		{"at most max, in order", 8, 5, []int{2, 2, 2}, [][]int{{0, 1}, {2, 3}, {4}}},
		{"exactly full", 3, 3, []int{3, 1}, [][]int{{0, 1, 2}, nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue(tc.limit)
			for _, r := range queued(0, tc.pushed) {
				if !q.push(context.Background(), r) {
					t.Fatal("push refused below the limit")
				}
			}
			var batch []record
			for i, max := range tc.takes {
				batch = q.take(batch, max)
				var want []int64
				for _, o := range tc.want[i] {
					want = append(want, int64(o))
				}
				if got := offsetsOf(batch); !slices.Equal(got, want) {
					t.Errorf("take %d (max %d): offsets %v, want %v", i, max, got, want)
				}
			}
		})
	}
}

// TestQueueTakeReusesBatch: the batch loop's slice is refilled, not reallocated, and what a
// take leaves behind holds no reference to records taken.
func TestQueueTakeReusesBatch(t *testing.T) {
	q := newQueue(8)
	for _, r := range queued(0, 6) {
		q.push(context.Background(), r)
	}
	batch := make([]record, 0, 8)
	got := q.take(batch, 4)
	if &got[:1][0] != &batch[:1][0] {
		t.Error("take allocated a new batch although the old one had room")
	}
	for i, r := range q.items[len(q.items):cap(q.items)] {
		if r.msg.Value != nil {
			t.Errorf("slot %d past the queue still holds the record at offset %d", len(q.items)+i, r.msg.Offset)
		}
	}
	if got := offsetsOf(q.take(nil, 8)); !slices.Equal(got, []int64{4, 5}) {
		t.Errorf("after a partial take: %v, want [4 5]", got)
	}
}

// TestQueueSignalsReady: a push wakes a batch loop waiting on ready, once per wait.
func TestQueueSignalsReady(t *testing.T) {
	q := newQueue(4)
	select {
	case <-q.ready:
		t.Fatal("ready before any push")
	default:
	}
	q.push(context.Background(), record{})
	q.push(context.Background(), record{})
	select {
	case <-q.ready:
	default:
		t.Fatal("no ready signal after a push")
	}
	if got := len(q.take(nil, 4)); got != 2 {
		t.Errorf("took %d records, want 2", got)
	}
}

// TestQueuePushWaitsForSpace: a full queue holds the fetcher until the batch loop takes,
// and lets it go when its context ends.
func TestQueuePushWaitsForSpace(t *testing.T) {
	t.Run("a take makes room", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := newQueue(2)
			for _, r := range queued(0, 2) {
				q.push(t.Context(), r)
			}
			done := make(chan bool)
			go func() { done <- q.push(t.Context(), queued(2, 1)[0]) }()
			synctest.Wait()
			select {
			case <-done:
				t.Fatal("push into a full queue returned")
			default:
			}
			if got := offsetsOf(q.take(nil, 1)); !slices.Equal(got, []int64{0}) {
				t.Fatalf("took %v, want [0]", got)
			}
			if !<-done {
				t.Fatal("push refused after a take made room")
			}
			if got := offsetsOf(q.take(nil, 8)); !slices.Equal(got, []int64{1, 2}) {
				t.Errorf("queue holds %v, want [1 2]", got)
			}
		})
	})
	t.Run("the context ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := newQueue(1)
			q.push(t.Context(), record{})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan bool)
			go func() { done <- q.push(ctx, record{}) }()
			synctest.Wait()
			cancel()
			if <-done {
				t.Error("push into a full queue reported success after its context ended")
			}
			if n := len(q.take(nil, 8)); n != 1 {
				t.Errorf("queue holds %d records, want 1", n)
			}
		})
	})
}

// TestPartitionRecords: an instance's in-flight records are shared by the partitions of its
// generation, within the floor and the batch size.
func TestPartitionRecords(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		batch, inFlight, sharing   int
		wantQueue, wantReaderQueue int
	}{
		{"few partitions: a full batch each", 8192, 32768, 4, 8192, 1024},
		{"one partition", 8192, 32768, 1, 8192, 1024},
		{"no generation yet", 8192, 32768, 0, 8192, 1024},
		{"many partitions share", 8192, 32768, 32, 1024, 128},
		{"more than the budget: the floor", 8192, 32768, 1000, MinPartitionRecords, 32},
		{"small batches stay small", 100, 32768, 4, 100, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := partitionRecords(&Options{BatchSize: tc.batch, InFlight: tc.inFlight}, tc.sharing)
			if q != tc.wantQueue || readerQueue(q) != tc.wantReaderQueue {
				t.Errorf("queue %d, reader queue %d; want %d, %d", q, readerQueue(q), tc.wantQueue, tc.wantReaderQueue)
			}
		})
	}
}
