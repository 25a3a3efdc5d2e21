package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestFlagRanges: every numeric, duration, list and enum flag of every command has its
// range, and a value outside it, given on the command line or in the flag's CSKPI_*
// variable, is a usage error (exit status 2) that names the flag, before anything starts
// (CONTRACT §5). No case here would get far enough to dial anything: the addresses are
// the defaults, where nothing may listen.
func TestFlagRanges(t *testing.T) {
	const file = "testdata/events.jsonl"
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // in stderr: the flag, and why
	}{
		// An operator's week.
		{"serve unknown zone", []string{"serve", "--timezone=Mars/Olympus"}, nil, `--timezone: unknown time zone "Mars/Olympus"`},
		{"waiting threshold not a duration", []string{"serve", "--waiting.thresholds=15s,abc"}, nil, `--waiting.thresholds: invalid duration "abc"`},
		{"fractional response threshold", []string{"serve", "--response.thresholds=1.5s"}, nil, `--response.thresholds: 1.5s is not a whole number of seconds (the le label is whole seconds): use 1s or 2s`},
		{"recompute --at not a time", []string{"recompute", "--file", file, "--at=yesterday"}, nil, `--at: not an RFC 3339 time`},
		{"demo negative rate", []string{"demo", "--rate=-5"}, nil, `--rate: must be from 0.01 to 1000, got "-5"`},
		{"demo no shops", []string{"demo", "--shops=0"}, nil, `--shops: must be from 1 to 100000, got "0"`},
		{"serve negative max shops", []string{"serve", "--metrics.max-shops=-1"}, nil, `--metrics.max-shops: must be 0 or more, got "-1"`},
		// The same from the environment.
		{"demo rate from env", []string{"demo"}, map[string]string{"CSKPI_RATE": "-5"}, `--rate (from CSKPI_RATE): must be from 0.01 to 1000`},
		{"zone from env", []string{"recompute", "--file", file}, map[string]string{"CSKPI_TIMEZONE": "Mars/Olympus"}, `--timezone (from CSKPI_TIMEZONE): unknown time zone`},
		{"thresholds from env", []string{"serve"}, map[string]string{"CSKPI_WAITING_THRESHOLDS": "15s,1m30.5s"}, `--waiting.thresholds (from CSKPI_WAITING_THRESHOLDS): 1m30.5s is not a whole number of seconds (the seconds label is whole seconds): use 1m30s or 1m31s`},
		{"batch size from env", []string{"serve"}, map[string]string{"CSKPI_BATCH_SIZE": "0"}, `--batch.size (from CSKPI_BATCH_SIZE): must be from 1 to 100000, got "0"`},
		{"brokers from env", []string{"loadgen"}, map[string]string{"CSKPI_KAFKA_BROKERS": "kafka"}, `--kafka.brokers (from CSKPI_KAFKA_BROKERS): "kafka" is not host:port`},

		// serve: Kafka.
		{"no brokers", []string{"serve", "--kafka.brokers=,"}, nil, `--kafka.brokers: no address in ","`},
		{"broker port out of range", []string{"serve", "--kafka.brokers=a:9092,b:0"}, nil, `--kafka.brokers: "b:0": the port must be a number from 1 to 65535`},
		{"empty group", []string{"serve", "--kafka.group="}, nil, `--kafka.group: empty`},
		{"bad topic name", []string{"serve", "--kafka.topic.messages=cs messages"}, nil, `--kafka.topic.messages: "cs messages" is not a Kafka topic name`},
		{"empty orders topic", []string{"serve", "--kafka.topic.orders="}, nil, `--kafka.topic.orders: "" is not a Kafka topic name`},
		{"bad dead-letter topic", []string{"serve", "--kafka.topic.deadletter=.."}, nil, `--kafka.topic.deadletter: ".." is not a Kafka topic name`},
		{"one topic for both", []string{"serve", "--kafka.topic.orders=cs.messages"}, nil, `--kafka.topic.messages and --kafka.topic.orders must differ`},
		{"dead letters into an input topic", []string{"serve", "--kafka.topic.deadletter=cs.orders"}, nil, `--kafka.topic.deadletter=cs.orders: must not be an input topic`},
		{"session timeout too short", []string{"serve", "--kafka.session-timeout=500ms"}, nil, `--kafka.session-timeout: must be from 1s to 30m, got "500ms"`},
		{"session timeout too long", []string{"serve", "--kafka.session-timeout=1h"}, nil, `--kafka.session-timeout: must be from 1s to 30m, got "1h"`},
		{"negative heartbeat", []string{"serve", "--kafka.heartbeat-interval=-1s"}, nil, `--kafka.heartbeat-interval: must be from 0s to 30m, got "-1s"`},
		{"heartbeat not within the session", []string{"serve", "--kafka.session-timeout=6s", "--kafka.heartbeat-interval=6s"}, nil, `--kafka.heartbeat-interval=6s: must be shorter than --kafka.session-timeout=6s`},
		{"rebalance timeout zero", []string{"serve", "--kafka.rebalance-timeout=0s"}, nil, `--kafka.rebalance-timeout: must be from 1s to 30m, got "0s"`},
		{"sasl mechanism", []string{"serve", "--kafka.sasl.mechanism=gssapi"}, nil, `--kafka.sasl.mechanism: must be one of none,plain,scram-sha-256,scram-sha-512, got "gssapi"`},
		// serve: Redis.
		{"redis address without port", []string{"serve", "--redis.addr=redis"}, nil, `--redis.addr: "redis" is not host:port`},
		{"negative redis db", []string{"serve", "--redis.db=-1"}, nil, `--redis.db: must be 0 or more, got "-1"`},
		{"redis db of a cluster", []string{"serve", "--redis.addr=a:7000,b:7001", "--redis.db=1"}, nil, `--redis.db=1: Redis Cluster (several --redis.addr) has database 0 only`},
		{"empty key prefix", []string{"serve", "--redis.key-prefix="}, nil, `--redis.key-prefix: empty`},
		{"key prefix with a hash tag", []string{"serve", "--redis.key-prefix=a{b}"}, nil, `--redis.key-prefix: "a{b}" holds '{'`},
		// serve: the rest.
		{"listen address without port", []string{"serve", "--web.listen-address=9470"}, nil, `--web.listen-address: "9470" is not host:port`},
		{"clock", []string{"serve", "--clock=stream"}, nil, `--clock: must be one of wall,event, got "stream"`},
		{"empty zone", []string{"serve", "--timezone="}, nil, `--timezone: empty`},
		{"no response thresholds", []string{"serve", "--response.thresholds="}, nil, `--response.thresholds: no threshold in ""`},
		{"sub-second threshold", []string{"serve", "--response.thresholds=500ms"}, nil, `--response.thresholds: 500ms is not a whole number of seconds (the le label is whole seconds): use 1s`},
		{"zero threshold", []string{"serve", "--response.thresholds=0s,15s"}, nil, `--response.thresholds: 0s is out of range: each threshold must be from 1s to 48h`},
		{"threshold beyond 48h", []string{"serve", "--waiting.thresholds=1h,49h"}, nil, `--waiting.thresholds: 49h is out of range`},
		{"thresholds not ascending", []string{"serve", "--waiting.thresholds=3m,15s"}, nil, `--waiting.thresholds: 15s after 3m: the thresholds must be ascending and distinct`},
		{"thresholds repeated", []string{"serve", "--response.thresholds=15s,15s"}, nil, `--response.thresholds: 15s after 15s`},
		{"negative max agents", []string{"serve", "--metrics.max-agents=-5"}, nil, `--metrics.max-agents: must be 0 or more, got "-5"`},
		{"batch too large", []string{"serve", "--batch.size=1000000"}, nil, `--batch.size: must be from 1 to 100000, got "1000000"`},
		{"gogc zero", []string{"serve", "--runtime.gogc=0"}, nil, `--runtime.gogc: must be 1 or more, got "0"`},
		{"log level", []string{"--log.level=trace", "serve"}, nil, `--log.level: must be one of debug,info,warn,error, got "trace"`},

		// demo.
		{"demo rate too high", []string{"demo", "--rate=5000"}, nil, `--rate: must be from 0.01 to 1000, got "5000"`},
		{"demo rate not a number", []string{"demo", "--rate=NaN"}, nil, `--rate: must be from 0.01 to 1000, got "NaN"`},
		{"demo rate infinite", []string{"demo", "--rate=+Inf"}, nil, `--rate: must be from 0.01 to 1000, got "+Inf"`},
		{"demo too many shops", []string{"demo", "--shops=200000"}, nil, `--shops: must be from 1 to 100000, got "200000"`},
		{"demo kafka address", []string{"demo", "--kafka.listen-address=127.0.0.1:99999"}, nil, `--kafka.listen-address: "127.0.0.1:99999": the port must be a number from 0 to 65535`},
		{"demo zone", []string{"demo", "--timezone=Asia/Beijing"}, nil, `--timezone: unknown time zone "Asia/Beijing"`},
		{"demo gogc", []string{"demo", "--runtime.gogc=-1"}, nil, `--runtime.gogc: must be 1 or more`},

		// produce.
		{"produce brokers", []string{"produce", "--file", file, "--kafka.brokers=localhost"}, nil, `--kafka.brokers: "localhost" is not host:port`},
		{"produce one topic for both", []string{"produce", "--file", file, "--kafka.topic.messages=cs.orders"}, nil, `--kafka.topic.messages and --kafka.topic.orders must differ`},

		// loadgen.
		{"loadgen zero rate", []string{"loadgen", "--rate=0"}, nil, `--rate: must be from 0.01 to 1e+06, got "0"`},
		{"loadgen no shops", []string{"loadgen", "--shops=0"}, nil, `--shops: must be from 1 to 100000, got "0"`},
		{"loadgen negative slow shops", []string{"loadgen", "--slow-shops=-1"}, nil, `--slow-shops: must be from 0 to 100000, got "-1"`},
		{"loadgen more slow shops than shops", []string{"loadgen", "--shops=2", "--slow-shops=3"}, nil, `--slow-shops=3: must be at most --shops=2`},
		{"loadgen seed", []string{"loadgen", "--seed=x"}, nil, `--seed: not a number: "x"`},
		{"loadgen negative duration", []string{"loadgen", "--duration=-1m"}, nil, `--duration: must be 0s or more, got "-1m"`},

		// recompute.
		{"recompute --now not a time", []string{"recompute", "--file", file, "--now=2026-11-21"}, nil, `--now: not an RFC 3339 time such as 2026-11-21T08:00:00+08:00: "2026-11-21"`},
		{"recompute thresholds", []string{"recompute", "--file", file, "--response.thresholds=15"}, nil, `--response.thresholds: missing unit in duration "15"`},
		{"recompute topic", []string{"recompute", "--file", file, "--kafka.topic.orders=cs/orders"}, nil, `--kafka.topic.orders: "cs/orders" is not a Kafka topic name`},

		// check.
		{"check --now not a time", []string{"check", "--now=today", file}, nil, `--now: not an RFC 3339 time`},
		{"check one topic for both", []string{"check", "--kafka.topic.orders=cs.messages", file}, nil, `--kafka.topic.messages and --kafka.topic.orders must differ`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := Main(context.Background(), tc.args, &out, &errb, nil)
			if code != 2 || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d (want 2), stderr %q (want %q)", code, errb.String(), tc.want)
			}
			// A usage error stops at the parser: nothing started, so nothing logged.
			if strings.Contains(errb.String(), "level=") {
				t.Errorf("logged before refusing the command line:\n%s", errb.String())
			}
		})
	}
}

// TestFlagRangesAccept: the ends of each range are in it, and the values arrive parsed.
func TestFlagRangesAccept(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		check func(f *flags) bool
	}{
		{"defaults", []string{"serve"}, func(f *flags) bool {
			return f.zone.String() == "Asia/Shanghai" && len(f.thresholds) == 2 && f.thresholds[1] == 180_000 &&
				len(f.waitThresholds) == 3 && f.waitThresholds[2] == 3_600_000 && f.brokers[0] == "localhost:9092" &&
				f.redisAddrs[0] == "localhost:6379" && f.batchSize == 8192 && f.gogc == defaultGOGC && f.topicDL == "cs.deadletter"
		}},
		{"serve lower ends", []string{"serve", "--metrics.max-shops=0", "--metrics.max-agents=0", "--batch.size=1", "--runtime.gogc=1",
			"--kafka.session-timeout=1s", "--kafka.heartbeat-interval=0s", "--kafka.rebalance-timeout=1s", "--redis.db=0",
			"--response.thresholds=1s", "--waiting.thresholds=1s", "--web.listen-address=:0", "--kafka.topic.deadletter="},
			func(f *flags) bool {
				return f.batchSize == 1 && f.sessionTimeout == time.Second && f.thresholds[0] == 1000 && f.topicDL == ""
			}},
		{"serve upper ends", []string{"serve", "--batch.size=100000", "--kafka.session-timeout=30m", "--kafka.heartbeat-interval=29m",
			"--kafka.rebalance-timeout=30m", "--response.thresholds=47h59m59s,48h", "--waiting.thresholds=15s,2m30s,48h", "--redis.db=15",
			"--kafka.brokers=a:1,b:65535, [::1]:9092", "--timezone=UTC"},
			func(f *flags) bool {
				return f.batchSize == 100_000 && f.thresholds[1] == 48*3_600_000 && f.waitThresholds[1] == 150_000 &&
					len(f.brokers) == 3 && f.brokers[2] == "[::1]:9092" && f.redisDB == 15 && f.zone == time.UTC
			}},
		{"redis cluster", []string{"serve", "--redis.addr=r1:7000,r2:7001", "--redis.db=0"}, func(f *flags) bool { return len(f.redisAddrs) == 2 }},
		{"demo ends", []string{"demo", "--rate=0.01", "--shops=100000", "--kafka.listen-address="}, func(f *flags) bool {
			return f.rate == 0.01 && f.shops == 100_000 && f.demoKafka == ""
		}},
		{"demo upper rate", []string{"demo", "--rate=1000", "--shops=1"}, func(f *flags) bool { return f.rate == 1000 && f.shops == 1 }},
		{"loadgen ends", []string{"loadgen", "--rate=1e6", "--shops=1", "--slow-shops=1", "--seed=0", "--duration=0s"}, func(f *flags) bool {
			return f.rate == 1e6 && f.shops == 1 && f.slow == 1 && f.duration == 0
		}},
		{"loadgen no slow shops", []string{"loadgen", "--slow-shops=0", "--duration=1h"}, func(f *flags) bool { return f.slow == 0 && f.duration == time.Hour }},
		{"recompute times", []string{"recompute", "--file=x", "--at=2026-11-20T23:59:59.5+08:00", "--now=2026-11-21T00:00:00Z"}, func(f *flags) bool {
			return f.at.Equal(time.Date(2026, 11, 20, 15, 59, 59, 5e8, time.UTC)) && f.now.Equal(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC))
		}},
		{"check without --now", []string{"check", "x"}, func(f *flags) bool { return f.now.IsZero() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f flags
			var errb bytes.Buffer
			cmd, _, err := parse(newApp(&f, io.Discard, &errb), tc.args)
			if err != nil || cmd == "" {
				t.Fatalf("refused: %v %s", err, errb.String())
			}
			if !tc.check(&f) {
				t.Errorf("parsed as %+v", f)
			}
		})
	}
}
