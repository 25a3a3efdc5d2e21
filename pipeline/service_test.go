package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/windows/kpi"
)

func validOptions() Options {
	return Options{Brokers: []string{"broker:9092"}, Group: "cskpi", Topics: Topics{Messages: "m", Orders: "o"}, Store: &fakeStore{}}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
		err    string // "" for none
		check  func(*testing.T, Options)
	}{
		{"defaults", func(*Options) {}, "", func(t *testing.T, o Options) {
			if o.BatchSize != 8192 || o.SessionTimeout != DefaultSessionTimeout || o.RebalanceTimeout != DefaultRebalanceTimeout ||
				o.HeartbeatInterval != DefaultHeartbeatInterval || o.Now == nil || o.Logger == nil || o.Dialer == nil || o.Transport == nil {
				t.Errorf("defaults not filled in: %+v", o)
			}
		}},
		{"a short session timeout: heartbeats a third of it", func(o *Options) { o.SessionTimeout = 1500 * time.Millisecond }, "",
			func(t *testing.T, o Options) {
				if o.HeartbeatInterval != 500*time.Millisecond {
					t.Errorf("heartbeat %v, want 500ms", o.HeartbeatInterval)
				}
			}},
		{"no brokers", func(o *Options) { o.Brokers = nil }, "brokers, group and both topics are required", nil},
		{"no group", func(o *Options) { o.Group = "" }, "brokers, group and both topics are required", nil},
		{"no orders topic", func(o *Options) { o.Topics.Orders = "" }, "brokers, group and both topics are required", nil},
		{"one topic twice", func(o *Options) { o.Topics.Orders = "m" }, "must differ", nil},
		{"no store", func(o *Options) { o.Store = nil }, "a store is required", nil},
		{"heartbeats no shorter than the session", func(o *Options) { o.SessionTimeout, o.HeartbeatInterval = time.Second, time.Second },
			"must be shorter than the session timeout", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt := validOptions()
			tc.change(&opt)
			s, err := New(opt)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("New: %v, want an error saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s.opt)
		})
	}
}

func TestServiceReady(t *testing.T) {
	tests := []struct {
		name                 string
		redis, kafka, joined bool
		missing              bool // an owned partition's state is missing
		ready                bool
	}{
		{"all well", true, true, true, false, true},
		{"redis down", false, true, true, false, false},
		{"brokers down", true, false, true, false, false},
		{"not in the group", true, true, false, false, false},
		{"a partition held on missing state", true, true, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(validOptions())
			if err != nil {
				t.Fatal(err)
			}
			s.health.redis.up.Store(tc.redis)
			s.health.kafka.up.Store(tc.kafka)
			s.member.joined.Store(tc.joined)
			w := newWorker(0, s.env)
			w.missing.Store(tc.missing)
			s.reg.add(w)
			if got := s.Ready(); got != tc.ready {
				t.Errorf("Ready %v, want %v", got, tc.ready)
			}
		})
	}
}

// TestServiceEach: a scrape exports the registered partitions at the as-of time, nothing
// with the event clock before there is a stream time.
func TestServiceEach(t *testing.T) {
	// A worker of its own env: applying the batch raises that env's stream time only.
	w, _ := testWorker(t, &fakeStore{})
	if err := w.apply(context.Background(), records(t, buyerMsg("1", 0)), &fakeDLQ{}); err != nil {
		t.Fatal(err)
	}
	opt := validOptions()
	opt.Windows = w.env.opt.Windows
	opt.EventClock = true
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	s.reg.add(w)
	count := func() (n int) {
		s.Each(func(kpi.Series) { n++ })
		return n
	}
	if n := count(); n != 0 {
		t.Errorf("%d series before any stream time, want none", n)
	}
	s.stream.Raise(testBase.Add(time.Minute).UnixNano())
	if n := count(); n == 0 {
		t.Error("no series once there is a stream time")
	}
	eps, a, known := s.Waiting("s1", 0)
	if len(eps) != 1 || !known || a != testBase.Add(time.Minute).UnixNano() {
		t.Errorf("Waiting: %v at %d, known %v; want one episode at the stream time", eps, a, known)
	}
}
