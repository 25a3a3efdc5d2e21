package pipeline

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cskpi/cskpi/windows"
)

// fakeStore keeps the change sets it is given. With hold set, Commit signals entered and
// waits for release before it answers: a commit in flight.
type fakeStore struct {
	mu      sync.Mutex
	commits []*windows.ChangeSet
	err     error
	hold    bool
	entered chan struct{}
	release chan struct{}
}

func (f *fakeStore) Load(context.Context, *windows.Partition) error { return nil }
func (f *fakeStore) StreamTime(context.Context) (int64, bool, error) {
	return 0, false, nil
}
func (f *fakeStore) LoadScripts(context.Context) error { return nil }
func (f *fakeStore) Claim(context.Context, string, []int, int, time.Duration) ([]bool, error) {
	return nil, nil
}

func (f *fakeStore) Commit(ctx context.Context, cs *windows.ChangeSet) error {
	if f.hold {
		f.entered <- struct{}{}
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.commits = append(f.commits, cs)
	return nil
}

// logRecords is a slog handler that keeps what is logged.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// count is the number of records at level whose message contains sub.
func (l *logRecords) count(level slog.Level, sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && strings.Contains(r.Message, sub) {
			n++
		}
	}
	return n
}
