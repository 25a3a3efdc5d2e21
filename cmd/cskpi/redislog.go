package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// redisLogger routes go-redis' own log lines through slog. Left alone, go-redis prints them
// with the standard library's logger ("redis: 2026/11/30 16:54:10 pool.go:770: redis:
// connection pool: failed to dial ..."), in neither logfmt nor JSON, and with Redis down
// they are half of the log.
//
// go-redis has one logger per process (redis.SetLogger), so Main sets it once, here in the
// command and not in a library package that tests or the demo might run twice.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	if !strings.HasPrefix(msg, "redis: ") {
		msg = "redis: " + msg
	}
	l.log.Log(ctx, redisLevel(msg), msg)
}

// redisLevel: a failed dial is debug, because the same error reaches the caller, and cskpi
// reports an outage itself, once ("redis unreachable", ERROR) and in cskpi_redis_up,
// instead of once per connection attempt. Anything else go-redis says (a recovered panic,
// a connection in an unexpected state) is rare and worth a warning.
func redisLevel(msg string) slog.Level {
	if strings.Contains(msg, "failed to dial") {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
