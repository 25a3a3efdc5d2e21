package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestRedisLogsGoThroughSlog runs Main, then has go-redis fail to dial: its complaint must
// come out of Main's logger, in logfmt at debug, not as a log.Printf line.
func TestRedisLogsGoThroughSlog(t *testing.T) {
	t.Cleanup(func() { redis.SetLogger(redisLogger{slog.New(slog.DiscardHandler)}) })
	for _, tc := range []struct {
		level string
		want  []string
		not   []string
	}{
		{"debug", []string{`level=DEBUG msg="redis: connection pool: failed to dial after`, "connection refused"}, []string{"pool.go:", "redis: redis:"}},
		{"info", nil, []string{"failed to dial"}},
	} {
		t.Run(tc.level, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(context.Background(), []string{"--log.level=" + tc.level, "recompute", "--file=testdata/events.jsonl"}, &out, &errb, nil); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1, DialerRetries: 1})
			if err := rdb.Ping(context.Background()).Err(); err == nil {
				t.Fatal("ping of a closed port succeeded")
			}
			rdb.Close()
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, errb.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(errb.String(), n) {
					t.Errorf("log has %q:\n%s", n, errb.String())
				}
			}
		})
	}
}

func TestRedisLevel(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want slog.Level
	}{
		{"redis: connection pool: failed to dial after 5 attempts: dial tcp 127.0.0.1:1: connect: connection refused", slog.LevelDebug},
		{"redis: connection pool: failed to get a usable connection after 3 attempts", slog.LevelWarn},
		{"redis: Conn has unread data (not push notification), removing it", slog.LevelWarn},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			if got := redisLevel(tc.msg); got != tc.want {
				t.Errorf("level %v, want %v", got, tc.want)
			}
		})
	}
}
