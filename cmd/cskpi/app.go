package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/cskpi/cskpi/demo"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/pipeline"
	"github.com/cskpi/cskpi/serve"
	"github.com/cskpi/cskpi/sinks"
	"github.com/cskpi/cskpi/traffic/produce"
	"github.com/cskpi/cskpi/traffic/synth"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/reference"
	"github.com/cskpi/cskpi/windows/shops"
)

// flags are the parsed command line; kingpin fills in CSKPI_* environment fallbacks
// (--kafka.brokers <=> CSKPI_KAFKA_BROKERS). Each command declares only the flags it reads,
// so the fields a command does not declare keep their zero value.
type flags struct {
	logLevel, logFormat string

	brokers                         []string
	group                           string
	topicMsgs, topicOrders, topicDL string
	kafkaTLS                        tlsFlags
	saslMech, saslUser, saslPass    string
	saslPassFile                    string
	sessionTimeout                  time.Duration
	heartbeatInterval               time.Duration
	demoKafka                       string
	gogc                            int
	rebalanceTimeout                time.Duration

	redisAddrs                                     []string
	redisUser, redisPass, redisPassFile, keyPrefix string
	redisDB                                        int
	redisTLS                                       tlsFlags

	listen, webConfig   string
	clock               string
	zone                *time.Location
	thresholds          []int64 // ms
	waitThresholds      []int64 // ms
	shopsFile           string
	rebuildMissing      bool
	maxShops, maxAgents int
	batchSize           int
	inFlight            int

	file        string
	files       []string
	at, now     time.Time
	rate        float64
	shops, slow int
	seed        int64
	duration    time.Duration
	shopPrefix  string
}

type tlsFlags struct {
	enabled            bool
	ca, cert, key      string
	insecureSkipVerify bool
}

// The flag groups below are each declared on the commands that use them, so that a
// command's --help lists exactly what it reads.

// kafkaFlags: the brokers and how to reach them, and the two input topics; consumer adds
// what only the consuming service reads.
func kafkaFlags(c *kingpin.CmdClause, f *flags, consumer bool) {
	addressesVar(c.Flag("kafka.brokers", "Kafka bootstrap brokers, host:port, comma separated.").Default("localhost:9092"), &f.brokers)
	if consumer {
		textVar(c.Flag("kafka.group", "Kafka consumer group.").Default("cskpi"), &f.group, "", "")
	}
	topicFlags(c, f, "")
	if consumer {
		topicVar(c.Flag("kafka.topic.deadletter", "Dead-letter topic for rejected records (empty: none).").Default("cs.deadletter"), &f.topicDL, true)
		durationVar(c.Flag("kafka.session-timeout", "Consumer group session timeout, 1s to 30m: how long a crashed instance's partitions wait before moving (shorter moves them sooner but drops a member that stalls that long).").Default(pipeline.DefaultSessionTimeout.String()),
			&f.sessionTimeout, time.Second, maxGroupTimeout)
		durationVar(c.Flag("kafka.heartbeat-interval", "Consumer group heartbeat interval, shorter than the session timeout: how soon an instance hears of a rebalance (0: "+pipeline.DefaultHeartbeatInterval.String()+", or a third of the session timeout when that is shorter).").Default("0s"),
			&f.heartbeatInterval, 0, maxGroupTimeout)
		durationVar(c.Flag("kafka.rebalance-timeout", "How long the coordinator waits for every member to rejoin in a rebalance, 1s to 30m; a dead member delays the rebalance by all of it.").Default(pipeline.DefaultRebalanceTimeout.String()),
			&f.rebalanceTimeout, time.Second, maxGroupTimeout)
	}
	tlsFlagsOf(c, "kafka", &f.kafkaTLS)
	enumVar(c.Flag("kafka.sasl.mechanism", "SASL mechanism: none, plain, scram-sha-256, scram-sha-512.").Default("none"),
		&f.saslMech, "none", "plain", "scram-sha-256", "scram-sha-512")
	c.Flag("kafka.sasl.username", "SASL user name.").StringVar(&f.saslUser)
	c.Flag("kafka.sasl.password", "SASL password (prefer the file or CSKPI_KAFKA_SASL_PASSWORD).").StringVar(&f.saslPass)
	c.Flag("kafka.sasl.password-file", "File holding the SASL password.").StringVar(&f.saslPassFile)
}

// topicFlags: the names of the two input topics; why says what an offline command uses
// them for ("" for the commands that talk to Kafka).
func topicFlags(c *kingpin.CmdClause, f *flags, why string) {
	topicVar(c.Flag("kafka.topic.messages", "Topic of chat message events"+why+".").Default("cs.messages"), &f.topicMsgs, false)
	topicVar(c.Flag("kafka.topic.orders", "Topic of order events"+why+".").Default("cs.orders"), &f.topicOrders, false)
}

// maxGroupTimeout is the longest consumer group session and rebalance timeout: Kafka's
// default group.max.session.timeout.ms.
const maxGroupTimeout = 30 * time.Minute

func redisFlags(c *kingpin.CmdClause, f *flags) {
	addressesVar(c.Flag("redis.addr", "Redis address host:port; several, comma separated, mean Redis Cluster.").Default("localhost:6379"), &f.redisAddrs)
	c.Flag("redis.username", "Redis ACL user name.").StringVar(&f.redisUser)
	c.Flag("redis.password", "Redis password (prefer the file or CSKPI_REDIS_PASSWORD).").StringVar(&f.redisPass)
	c.Flag("redis.password-file", "File holding the Redis password.").StringVar(&f.redisPassFile)
	intVar(c.Flag("redis.db", "Redis database number, 0 or more (Redis Cluster has only 0).").Default("0"), &f.redisDB, 0, noMax)
	textVar(c.Flag("redis.key-prefix", "Prefix of every Redis key cskpi writes.").Default("cskpi"), &f.keyPrefix,
		"{}", "which would break the keys' hash tags (cskpi:{p7}:b)")
	tlsFlagsOf(c, "redis", &f.redisTLS)
}

func tlsFlagsOf(c *kingpin.CmdClause, prefix string, t *tlsFlags) {
	c.Flag(prefix+".tls", "Use TLS for "+prefix+".").BoolVar(&t.enabled)
	c.Flag(prefix+".tls.ca-file", "CA certificate file for "+prefix+" TLS.").StringVar(&t.ca)
	c.Flag(prefix+".tls.cert-file", "Client certificate file for "+prefix+" TLS.").StringVar(&t.cert)
	c.Flag(prefix+".tls.key-file", "Client key file for "+prefix+" TLS.").StringVar(&t.key)
	c.Flag(prefix+".tls.insecure-skip-verify", "Do not verify the "+prefix+" server certificate.").BoolVar(&t.insecureSkipVerify)
}

// gcFlag: serve and demo hold a large, long-lived heap; see setGCPercent.
func gcFlag(c *kingpin.CmdClause, f *flags) {
	intVar(c.Flag("runtime.gogc", "Go GC target percentage (GOGC), 1 or more, unless the GOGC environment variable is set: lower trades CPU for memory (docs/PERFORMANCE.md).").Default(strconv.Itoa(defaultGOGC)),
		&f.gogc, 1, noMax)
}

// defaultGOGC is below Go's 100 for the reason Prometheus lowered its own to 75 (v2.53):
// a service whose heap is mostly long-lived state pays little CPU for a GC target much
// closer to that state. Measured for cskpi in docs/PERFORMANCE.md.
const defaultGOGC = 75

// setGCPercent applies --runtime.gogc, unless GOGC is set: an operator's GOGC wins, as it
// does for any Go program.
func setGCPercent(f *flags, logger *slog.Logger) {
	if v, ok := os.LookupEnv("GOGC"); ok {
		logger.Debug("GOGC set in the environment; --runtime.gogc ignored", "GOGC", v)
		return
	}
	debug.SetGCPercent(f.gogc)
}

func webFlags(c *kingpin.CmdClause, f *flags) {
	listenVar(c.Flag("web.listen-address", "Address of /metrics, /-/healthy, /-/ready, host:port.").Default(":9470"), &f.listen, false)
	c.Flag("web.config.file", "exporter-toolkit web config (TLS, basic auth).").Default("").StringVar(&f.webConfig)
}

// windowsFlags: what the KPIs are computed with, the same for serve, demo and recompute.
func windowsFlags(c *kingpin.CmdClause, f *flags) {
	zoneVar(c.Flag("timezone", "Time zone of local dates (inquiry cohorts, buyers served), an IANA name.").Default("Asia/Shanghai"), &f.zone)
	thresholdsVar(c.Flag("response.thresholds", "Response-time thresholds of cskpi_responses_within, comma separated, ascending, whole seconds from 1s to 48h as durations.").Default("15s,3m"),
		&f.thresholds, "le")
	thresholdsVar(c.Flag("waiting.thresholds", "Waiting ages of cskpi_waiting_conversations_over, comma separated, ascending, whole seconds from 1s to 48h as durations.").Default("15s,3m,1h"),
		&f.waitThresholds, "seconds")
	c.Flag("shops.file", "Shop directory (YAML): names, teams, time zones, business hours, closed dates, response targets; re-read on SIGHUP and when it changes. See docs/SHOPS.md.").StringVar(&f.shopsFile)
}

// The ranges of the flags that count something.
const (
	maxShops       = 100_000 // demo and loadgen --shops, as many as the scale benchmark generates
	maxBatch       = 100_000 // --batch.size
	maxInFlight    = 10_000_000
	minRate        = 0.01  // demo and loadgen --rate: a record every 100 s
	maxDemoRate    = 1_000 // demo --rate: it publishes five minutes of history first, in memory
	maxLoadgenRate = 1_000_000
)

// distinctTopics: the two input topics differ, and the dead-letter topic (deadletter: the
// command has one) is neither of them, where rejected records would come back as input.
func distinctTopics(f *flags, deadletter bool) error {
	if f.topicMsgs == f.topicOrders {
		return fmt.Errorf("--kafka.topic.messages and --kafka.topic.orders must differ, both are %q", f.topicMsgs)
	}
	if deadletter && (f.topicDL == f.topicMsgs || f.topicDL == f.topicOrders) {
		return fmt.Errorf("--kafka.topic.deadletter=%s: must not be an input topic, where rejected records would be consumed again", f.topicDL)
	}
	return nil
}

// groupTimeouts: a member must heartbeat more often than the coordinator's session
// timeout, or it is dropped between two heartbeats.
func groupTimeouts(f *flags) error {
	if f.heartbeatInterval > 0 && f.heartbeatInterval >= f.sessionTimeout {
		return fmt.Errorf("--kafka.heartbeat-interval=%s: must be shorter than --kafka.session-timeout=%s",
			shortDuration(f.heartbeatInterval), shortDuration(f.sessionTimeout))
	}
	return nil
}

// redisCluster: several --redis.addr mean Redis Cluster, which has database 0 only.
func redisCluster(f *flags) error {
	if len(f.redisAddrs) > 1 && f.redisDB != 0 {
		return fmt.Errorf("--redis.db=%d: Redis Cluster (several --redis.addr) has database 0 only", f.redisDB)
	}
	return nil
}

// Main parses args and runs one subcommand; it returns the exit code: 0, 1 when the
// command failed, 2 for a usage error. reload carries SIGHUP (re-read --shops.file), nil
// for none.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, reload <-chan struct{}) int {
	var f flags
	cmd, code, err := parse(newApp(&f, stdout, stderr), args)
	if err != nil {
		fmt.Fprintln(stderr, "cskpi:", err)
		return 2
	}
	if cmd == "" { // --help or --version
		return code
	}
	logger := newLogger(stderr, f.logLevel, f.logFormat)
	redis.SetLogger(redisLogger{logger})
	switch cmd {
	case "serve":
		setGCPercent(&f, logger)
		err = runServe(ctx, &f, logger, reload)
	case "demo":
		setGCPercent(&f, logger)
		err = runDemo(ctx, &f, logger, stdout, reload)
	case "produce":
		err = runProduce(ctx, &f, stderr)
	case "loadgen":
		err = runLoadgen(ctx, &f, logger, stderr)
	case "recompute":
		err = runRecompute(&f, stdout)
	case "check":
		err = runCheck(&f, stdout)
	}
	var status checkStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status): // the report said why
		return int(status)
	}
	logger.Error("cskpi failed", "command", cmd, "err", err)
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

// newApp declares the commands and their flags, parsed into f; --version prints to stdout,
// help and errors go to stderr.
func newApp(f *flags, stdout, stderr io.Writer) *kingpin.Application {
	app := kingpin.New("cskpi", "Real-time customer-service KPIs from chat and order events.").DefaultEnvars()
	app.UsageWriter(stderr).ErrorWriter(stderr).Terminate(func(code int) { panic(terminated(code)) })
	// CSKPI_HELP=1 in an environment would turn every start into a help page.
	app.HelpFlag.Short('h').NoEnvar()
	// --version says what runs, in Prometheus' words (version.Print). Not kingpin's
	// app.Version: that prints to the usage writer, stderr, and the version is the output
	// asked for. No CSKPI_VERSION either: a deployment may well set that variable.
	var showVersion bool
	app.Flag("version", "Show the version, revision and build.").NoEnvar().
		PreAction(func(*kingpin.ParseContext) error {
			if !showVersion { // --no-version
				return nil
			}
			fmt.Fprintln(stdout, version.Print("cskpi"))
			panic(terminated(0))
		}).BoolVar(&showVersion)
	// Every command logs, if only its failure.
	enumVar(app.Flag("log.level", "Log level: debug, info, warn, error.").Default("info"), &f.logLevel, "debug", "info", "warn", "error")
	enumVar(app.Flag("log.format", "Log format: logfmt or json.").Default("logfmt"), &f.logFormat, "logfmt", "json")

	serveCmd := app.Command("serve", "Consume the topics and serve the KPI gauges.")
	kafkaFlags(serveCmd, f, true)
	redisFlags(serveCmd, f)
	webFlags(serveCmd, f)
	enumVar(serveCmd.Flag("clock", "As-of time of the windows: wall (live) or event (stream time, for replays).").Default("wall"), &f.clock, "wall", "event")
	windowsFlags(serveCmd, f)
	serveCmd.Flag("state.rebuild-missing", "Replay partitions whose Redis state is missing from the earliest retained offset.").BoolVar(&f.rebuildMissing)
	intVar(serveCmd.Flag("metrics.max-shops", "Most shops exported; the least active beyond fold into shop=\"_other\" (0: no cap).").Default("0"), &f.maxShops, 0, noMax)
	intVar(serveCmd.Flag("metrics.max-agents", "Most agents exported; the least active beyond fold into agent=\"_other\" (0: no cap).").Default("0"), &f.maxAgents, 0, noMax)
	intVar(serveCmd.Flag("batch.size", "Largest partition batch, in records, 1 to 100000.").Default("8192"), &f.batchSize, 1, maxBatch)
	intVar(serveCmd.Flag("batch.in-flight", "Records an instance queues, shared by the partitions it owns: each queues at most this divided by their number, from 256 to --batch.size, and applies as many at once at most (docs/PERFORMANCE.md, \"Partitions\"). 256 to 10000000.").Default("24576"), &f.inFlight, pipeline.MinPartitionRecords, maxInFlight)
	gcFlag(serveCmd, f)

	demoCmd := app.Command("demo", "Everything in one process: in-process Kafka and Redis, synthetic shops, serve.")
	webFlags(demoCmd, f)
	windowsFlags(demoCmd, f)
	intVar(demoCmd.Flag("shops", "Synthetic shops, 1 to 100000.").Default("6"), &f.shops, 1, maxShops)
	floatVar(demoCmd.Flag("rate", "Synthetic records per second, 0.01 to 1000 (cskpi loadgen publishes more into the demo).").Default(strconv.Itoa(demo.DefaultRate)),
		&f.rate, minRate, maxDemoRate)
	listenVar(demoCmd.Flag("kafka.listen-address", "Address of the demo's in-process Kafka broker, host:port, for cskpi produce, cskpi loadgen or kcat to publish into (the default falls back to a free port when taken; empty: a free port).").Default(demo.DefaultKafkaAddress),
		&f.demoKafka, true)
	gcFlag(demoCmd, f)

	produceCmd := app.Command("produce", "Publish an event file (docs/EVENTS.md: JSON lines, or kcat -J output) to the topics.")
	kafkaFlags(produceCmd, f, false)
	produceCmd.Flag("file", "Event file: JSON lines, or kcat -J output.").Required().StringVar(&f.file)

	loadgenCmd := app.Command("loadgen", "Publish live synthetic traffic.")
	kafkaFlags(loadgenCmd, f, false)
	floatVar(loadgenCmd.Flag("rate", "Records per second, 0.01 to 1000000.").Default("100"), &f.rate, minRate, maxLoadgenRate)
	intVar(loadgenCmd.Flag("shops", "Synthetic shops, 1 to 100000.").Default("10"), &f.shops, 1, maxShops)
	intVar(loadgenCmd.Flag("slow-shops", "How many of them reply slowly, 0 to --shops.").Default("1"), &f.slow, 0, maxShops)
	loadgenCmd.Flag("shop.prefix", "Shop ids: the prefix and a number (load-001, …): shops of loadgen's own, apart from the demo's shop-001, … unless told so.").Default("load-").SetValue(shopPrefix{&f.shopPrefix})
	loadgenCmd.Flag("seed", "Random seed (0: from the clock).").Default("1").Int64Var(&f.seed)
	durationVar(loadgenCmd.Flag("duration", "Stop after this long, with a reply to every buyer still waiting (0: until interrupted).").Default("0s"), &f.duration, 0, 0)

	recomputeCmd := app.Command("recompute", "Compute the metrics offline from an event file (the reference).")
	recomputeCmd.Flag("file", "Event file: JSON lines, or kcat -J output ('-' for standard input).").Required().StringVar(&f.file)
	timeVar(recomputeCmd.Flag("at", "As-of time, RFC 3339 (default: the final stream time)."), &f.at)
	timeVar(recomputeCmd.Flag("now", "Wall clock for the future check, RFC 3339 (default: now)."), &f.now)
	windowsFlags(recomputeCmd, f)
	topicFlags(recomputeCmd, f, ": the topic label of the event counters, and the topic kcat envelopes name")

	checkCmd := app.Command("check", "Check event files offline: count each outcome and reject reason, and show the first offending lines. Exit status 1 when a record would be rejected, 2 when a line is not a record.")
	checkCmd.Arg("file", "Event files: JSON lines, or kcat -J output ('-' for standard input).").Required().StringsVar(&f.files)
	timeVar(checkCmd.Flag("now", "Wall clock for the future check, RFC 3339 (default: now)."), &f.now)
	topicFlags(checkCmd, f, ": the topic kcat envelopes name")

	nameFlags(app, serveCmd, demoCmd, produceCmd, loadgenCmd, recomputeCmd, checkCmd)
	// What one flag's range cannot say, checked once all are parsed and before anything
	// starts: a usage error like a bad value.
	serveCmd.Validate(func(*kingpin.CmdClause) error {
		return errors.Join(distinctTopics(f, true), groupTimeouts(f), redisCluster(f))
	})
	for _, c := range []*kingpin.CmdClause{produceCmd, recomputeCmd, checkCmd} {
		c.Validate(func(*kingpin.CmdClause) error { return distinctTopics(f, false) })
	}
	loadgenCmd.Validate(func(*kingpin.CmdClause) error {
		if err := distinctTopics(f, false); err != nil {
			return err
		}
		if f.slow > f.shops {
			return fmt.Errorf("--slow-shops=%d: must be at most --shops=%d", f.slow, f.shops)
		}
		return nil
	})
	return app
}

// A build without make build's -ldflags (go build, go install, go run) still says what runs:
// prometheus/common/version already falls back to the revision the go command stamped
// (vcs.revision, with "-modified" for a dirty tree), and the version falls back here to the
// main module's, which the go command derives from the VCS as well (v0.0.0-<date>-<commit>,
// "+dirty"), or "(devel)" when it knows nothing.
func init() {
	if bi, ok := debug.ReadBuildInfo(); ok && version.Version == "" {
		version.Version = bi.Main.Version
	}
}

// usageError is a failure of what a command was asked to do rather than of doing it, such as
// a file that cannot be read: exit status 2, as for a bad flag.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// terminated carries kingpin's "terminate" (after --help), and the end of --version, out of
// its parser.
type terminated int

// parse runs kingpin's parser. Kingpin ends --help by calling its terminate function,
// os.Exit by default, and would otherwise go on parsing and print the usage a second time;
// Main must return rather than exit (tests call it), so terminate panics with terminated
// and parse turns that back into a return with an empty command.
func parse(app *kingpin.Application, args []string) (cmd string, code int, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			cmd, code, err = "", int(t), nil
		}
	}()
	cmd, err = app.Parse(args)
	return cmd, 0, err
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	o := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// windowsConfig is what the KPIs are computed with; the flags' values were checked as they
// were parsed.
func windowsConfig(f *flags) windows.Config {
	return windows.Config{Location: f.zone, Thresholds: f.thresholds, WaitThresholds: f.waitThresholds,
		MaxShops: f.maxShops, MaxAgents: f.maxAgents}
}

func (t tlsFlags) config() (*tls.Config, error) {
	if !t.enabled {
		return nil, nil
	}
	c := &tls.Config{InsecureSkipVerify: t.insecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // operator's explicit choice
	if t.ca != "" {
		pem, err := os.ReadFile(t.ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no certificates", t.ca)
		}
		c.RootCAs = pool
	}
	if t.cert != "" {
		cert, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// secret reads a secret from a file when one is named, else the flag/env value; secrets
// are never logged.
func secret(value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func kafkaClients(f *flags) (*kafka.Dialer, *kafka.Transport, error) {
	tc, err := f.kafkaTLS.config()
	if err != nil {
		return nil, nil, fmt.Errorf("kafka tls: %w", err)
	}
	pass, err := secret(f.saslPass, f.saslPassFile)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka sasl password: %w", err)
	}
	var mech sasl.Mechanism
	switch f.saslMech {
	case "plain":
		mech = plain.Mechanism{Username: f.saslUser, Password: pass}
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if f.saslMech == "scram-sha-512" {
			algo = scram.SHA512
		}
		if mech, err = scram.Mechanism(algo, f.saslUser, pass); err != nil {
			return nil, nil, err
		}
	}
	d := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: tc, SASLMechanism: mech}
	t := &kafka.Transport{TLS: tc, SASL: mech, DialTimeout: 10 * time.Second}
	return d, t, nil
}

func topics(f *flags) pipeline.Topics {
	return pipeline.Topics{Messages: f.topicMsgs, Orders: f.topicOrders, Deadletter: f.topicDL}
}

func runServe(ctx context.Context, f *flags, logger *slog.Logger, reload <-chan struct{}) error {
	dialer, transport, err := kafkaClients(f)
	if err != nil {
		return err
	}
	rtls, err := f.redisTLS.config()
	if err != nil {
		return fmt.Errorf("redis tls: %w", err)
	}
	rpass, err := secret(f.redisPass, f.redisPassFile)
	if err != nil {
		return fmt.Errorf("redis password: %w", err)
	}
	return serve.Run(ctx, serve.Options{
		Pipeline: pipeline.Options{
			Brokers:           f.brokers,
			Group:             f.group,
			Topics:            topics(f),
			Dialer:            dialer,
			Transport:         transport,
			Windows:           windowsConfig(f),
			EventClock:        f.clock == "event",
			RebuildMissing:    f.rebuildMissing,
			BatchSize:         f.batchSize,
			InFlight:          f.inFlight,
			SessionTimeout:    f.sessionTimeout,
			HeartbeatInterval: f.heartbeatInterval,
			RebalanceTimeout:  f.rebalanceTimeout,
		},
		Redis: &redis.UniversalOptions{
			Addrs:     f.redisAddrs,
			Username:  f.redisUser,
			Password:  rpass,
			DB:        f.redisDB,
			TLSConfig: rtls,
		},
		KeyPrefix:     f.keyPrefix,
		ListenAddress: f.listen,
		WebConfigFile: f.webConfig,
		ShopsFile:     f.shopsFile,
		Reload:        reload,
		Logger:        logger,
	})
}

func runDemo(ctx context.Context, f *flags, logger *slog.Logger, stdout io.Writer, reload <-chan struct{}) error {
	return demo.Run(ctx, demo.Options{
		ListenAddress: f.listen,
		WebConfigFile: f.webConfig,
		Shops:         f.shops,
		Rate:          f.rate,
		KafkaAddress:  f.demoKafka,
		Windows:       windowsConfig(f),
		Out:           stdout,
		Logger:        logger,
		ShopsFile:     f.shopsFile,
		Reload:        reload,
	})
}

func produceOptions(f *flags, progress io.Writer) (produce.Options, error) {
	_, transport, err := kafkaClients(f)
	if err != nil {
		return produce.Options{}, err
	}
	return produce.Options{
		Brokers:   f.brokers,
		Topics:    produce.Topics{Messages: f.topicMsgs, Orders: f.topicOrders},
		Transport: transport,
		Progress:  progress,
	}, nil
}

func runProduce(ctx context.Context, f *flags, stderr io.Writer) error {
	opt, err := produceOptions(f, stderr)
	if err != nil {
		return err
	}
	_, err = produce.File(ctx, f.file, opt)
	return err
}

// shopPrefix is --shop.prefix, checked when it is set, so that one that makes invalid shop
// ids is a usage error naming the flag (or its variable), as any bad value is.
type shopPrefix struct{ dst *string }

func (p shopPrefix) Set(s string) error {
	if err := synth.CheckShopPrefix(s, 1); err != nil {
		return err
	}
	*p.dst = s
	return nil
}

func (p shopPrefix) String() string { return *p.dst }

func runLoadgen(ctx context.Context, f *flags, logger *slog.Logger, stderr io.Writer) error {
	// On a terminal, produce's spinner shows the records sent and the rate achieved while
	// loadgen runs. Elsewhere (compose, CI) the two log lines below are the record, and
	// produce's plain summary line would only repeat the second outside the log format.
	var progress io.Writer
	if produce.IsTerminal(stderr) {
		progress = stderr
	}
	if err := synth.CheckShopPrefix(f.shopPrefix, max(f.shops, 1)); err != nil { // long enough for --shops
		return usageError{fmt.Errorf("--shop.prefix: %w", err)}
	}
	opt, err := produceOptions(f, progress)
	if err != nil {
		return err
	}
	logger.Info("loadgen", "rate", f.rate, "shops", f.shops, "slow_shops", f.slow, "shop_prefix", f.shopPrefix)
	start := time.Now()
	// The default generator starts ten minutes of event time early, so that publishing
	// begins in the middle of ongoing chats at the full rate.
	var st synth.Stats
	n, err := produce.Loadgen(ctx, produce.LoadgenOptions{Options: opt, Rate: f.rate, Duration: f.duration,
		Shops: f.shops, SlowShops: f.slow, Seed: f.seed, ShopPrefix: f.shopPrefix, Stats: &st})
	// What the run leaves behind: a run that reached its --duration answered the buyers it
	// left waiting; one stopped early leaves its open conversations waiting.
	attrs := []any{"records", n, "seconds", time.Since(start).Seconds()}
	if f.duration > 0 && ctx.Err() == nil && err == nil {
		attrs = append(attrs, "answered_at_end", st.Answered, "left_waiting", st.LeftWaiting)
	} else {
		attrs = append(attrs, "left_waiting", "the conversations open when it stopped (end runs with --duration to answer them)")
	}
	logger.Info("loadgen stopped", attrs...)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func runRecompute(f *flags, stdout io.Writer) error {
	opt := reference.Options{Location: f.zone, Format: jsonl.Format{Messages: f.topicMsgs, Orders: f.topicOrders},
		At: f.at, Now: f.now}
	for _, ms := range f.thresholds {
		opt.Thresholds = append(opt.Thresholds, time.Duration(ms)*time.Millisecond)
	}
	for _, ms := range f.waitThresholds {
		opt.WaitThresholds = append(opt.WaitThresholds, time.Duration(ms)*time.Millisecond)
	}
	var err error
	if f.shopsFile != "" {
		if opt.Shops, err = shops.LoadDirectory(f.shopsFile, f.zone); err != nil {
			return fmt.Errorf("--shops.file: %w", err)
		}
	}
	in, err := openInput(f.file)
	if err != nil {
		return err
	}
	defer in.Close()
	res, err := reference.Compute(in, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", f.file, err)
	}
	return sinks.WriteText(stdout, res.Series, sinks.EventCounters(res.Events, res.Rejected,
		map[string]string{"messages": f.topicMsgs, "orders": f.topicOrders}))
}

// openInput opens an event file; "-" is standard input. So is "": kingpin hands a lone "-"
// over as the empty string (its lexer drops the value of a "-" token), and no file is named "".
func openInput(name string) (io.ReadCloser, error) {
	if name == "-" || name == "" {
		return io.NopCloser(os.Stdin), nil
	}
	return os.Open(name)
}
