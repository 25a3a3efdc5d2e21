package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/procfs"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/traffic/produce"
	"github.com/cskpi/cskpi/traffic/synth"
)

const topicM, topicO, topicDL = "cs.messages", "cs.orders", "cs.deadletter"

// env is one broker and one Redis (or Redis Cluster) for a measurement.
type env struct {
	brokers     []string
	closeBroker func()
	// redis is the measurement's redis-server; nil on a Redis Cluster.
	redis *testenv.Redis
	// nodes are every redis-server of the measurement, stopped by close.
	nodes []*testenv.Redis
	// redisAddr is serve's --redis.addr: the masters, comma separated, on a cluster.
	redisAddr string
	rdb       redis.UniversalClient
	parts     int
	// profileTo, when set, receives a CPU profile of serve taken during consumeAll.
	profileTo string
	// heapTo, when set, receives serve's heap profile at the end of consumeAll.
	heapTo string
	// scrapeEvery, when set, makes consumeAll and freshness scrape serve at this interval
	// while it works, timing each scrape: how long Prometheus waits under load.
	scrapeEvery time.Duration
	procs       []*difftest.Proc
}

// newEnv runs the broker in this process: the replays publish before serve starts, so
// the broker is mostly idle while serve is measured.
func newEnv(t testing.TB, partitions int) *env {
	k := testenv.StartKafka(t, partitions, topicM, topicO, topicDL)
	return withRedis(t, &env{brokers: k.Brokers, closeBroker: k.Cluster.Close, parts: partitions})
}

// newEnvProc runs the broker in a process of its own, for live loads where producer,
// broker and serve all work at once.
func newEnvProc(t testing.TB, partitions int) *env {
	b := startBrokerProc(t, partitions)
	return withRedis(t, &env{brokers: b.Brokers, closeBroker: b.stop, parts: partitions})
}

// newEnvCluster is newEnv with a Redis Cluster of masters masters.
func newEnvCluster(t testing.TB, partitions, masters int) *env {
	k := testenv.StartKafka(t, partitions, topicM, topicO, topicDL)
	c := testenv.StartRedisCluster(t, masters)
	return &env{brokers: k.Brokers, closeBroker: k.Cluster.Close, nodes: c.Nodes,
		redisAddr: c.Addr(), rdb: c.Client(t), parts: partitions}
}

func withRedis(t testing.TB, e *env) *env {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	e.redis, e.nodes, e.redisAddr, e.rdb = r, []*testenv.Redis{r}, r.Addr, r.Client(t)
	return e
}

// traffic generates n lines of realistic traffic. rate is lines per second of event time:
// it decides how much stream time n lines span, and so how much state is live.
func traffic(n int, shops int, rate float64, start time.Time) [][]byte {
	g := synth.New(synth.Config{Seed: 42, Shops: shops, SlowShops: max(1, shops/10), Start: start, Rate: rate})
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = g.Next()
	}
	return lines
}

func (e *env) publish(t testing.TB, lines [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n, err := produce.Lines(ctx, lines, produce.Options{Brokers: e.brokers, Topics: produce.Topics{Messages: topicM, Orders: topicO}, BatchSize: 5000})
	if err != nil || n != int64(len(lines)) {
		t.Fatalf("publish: %d of %d: %v", n, len(lines), err)
	}
}

// serve starts `cskpi serve` on the env's broker and Redis; its log goes to a file that
// is printed if the benchmark fails.
func (e *env) serve(t testing.TB, bin string, extra ...string) *difftest.Proc {
	t.Helper()
	p := difftest.StartServe(t, bin, difftest.ServeOptions{Args: append([]string{
		"--kafka.brokers=" + strings.Join(e.brokers, ","), "--redis.addr=" + e.redisAddr,
		"--kafka.group=bench", "--log.level=warn"}, extra...)})
	// A scrape without a cardinality cap is about 14 KB per shop exported (1.2 GiB for the
	// scrape phase's 87 500) and took up to 10 s per 10 000 shops on this machine before
	// sinks wrote the series straight (6b09cfe); 1 s after.
	p.Client = &http.Client{Timeout: 3 * time.Minute}
	e.procs = append(e.procs, p)
	return p
}

// families scrapes the process into metric families; nil when it does not answer.
func families(p *difftest.Proc) map[string]*dtoFamily {
	b, err := p.Scrape()
	if err != nil {
		return nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out := map[string]*dtoFamily{}
	for name, mf := range mfs {
		out[name] = (*dtoFamily)(mf)
	}
	return out
}

// consumed is the number of records with an outcome.
func consumed(m map[string]*dtoFamily) int64 {
	f := m["cskpi_events_total"]
	if f == nil {
		return 0
	}
	var n float64
	for _, s := range f.Metric {
		n += s.GetCounter().GetValue()
	}
	return int64(n)
}

// applied sums the next offsets committed in Redis over every partition of both topics:
// the records the service has applied, read without loading it (a /metrics scrape of
// every shop's series would cost the service more than the poll is worth).
func (e *env) applied(t testing.TB) int64 {
	n := difftest.ProgressOf(e.rdb, e.parts)
	if n < 0 {
		t.Fatal("redis does not answer")
	}
	return n
}

// rss is a process's resident set size in bytes (0 once it is gone).
func rss(pid int) int64 {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return int64(st.ResidentMemory())
}

// cpuSeconds is the CPU time (user and system) some processes have used so far.
func cpuSeconds(procs ...*difftest.Proc) float64 {
	var total float64
	for _, dp := range procs {
		p, err := procfs.NewProc(dp.Cmd.Process.Pid)
		if err != nil {
			return math.NaN()
		}
		st, err := p.Stat()
		if err != nil {
			return math.NaN()
		}
		total += st.CPUTime()
	}
	return total
}

// redisCalls sums the calls of every command in INFO commandstats (script-internal calls
// included, as Redis counts them).
func (e *env) redisCalls(t testing.TB) int64 {
	info, err := e.rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(line[strings.Index(line, ":")+1:], ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				c, _ := strconv.ParseInt(v, 10, 64)
				n += c
			}
		}
	}
	return n
}

// runResult is one end-to-end run.
type runResult struct {
	records     int64
	seconds     float64 // steady state: from 10% to 90% of the records
	rate        float64
	cmdsPerRec  float64
	rssBytes    int64
	redisMemory int64
	final       map[string]*dtoFamily
	scrapes     durations // with env.scrapeEvery: each scrape's wall time while serve consumed
}

// consumeAll starts serve on an already published log and measures it to the end.
func (e *env) consumeAll(t testing.TB, bin string, total int64, extra ...string) runResult {
	t.Helper()
	calls0 := e.redisCalls(t)
	p := e.serve(t, bin, append([]string{"--clock=event"}, extra...)...)
	if e.profileTo != "" {
		go func() {
			deadline := time.Now().Add(5 * time.Second)
			resp, err := http.Get(p.Base + "/debug/pprof/profile?seconds=4")
			for err != nil && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond) // retry interval while serve starts
				resp, err = http.Get(p.Base + "/debug/pprof/profile?seconds=4")
			}
			if err != nil {
				return
			}
			defer resp.Body.Close()
			f, _ := os.Create(e.profileTo)
			defer f.Close()
			_, _ = io.Copy(f, resp.Body)
		}()
	}
	var scr *scraper
	if e.scrapeEvery > 0 {
		scr = startScraper(p, e.scrapeEvery)
	}
	peak := watchRSS(p)
	w := e.await(t, total)
	scrapes := scr.stop()
	maxRSS := peak.stop()
	calls := e.redisCalls(t) - calls0
	var final map[string]*dtoFamily
	testenv.WaitFor(t, 3*time.Minute, "gauges showing every record", func() bool {
		final = families(p)
		return final != nil && consumed(final) >= total && final["cskpi_buyer_messages"] != nil
	})
	if e.heapTo != "" {
		saveProfile(t, p.Base+"/debug/pprof/heap", e.heapTo)
	}
	mem := e.redis.UsedMemory(t)
	return runResult{
		records: total, seconds: w.seconds(), rate: w.rate(),
		cmdsPerRec: float64(calls) / float64(total), rssBytes: maxRSS, redisMemory: mem, final: final,
		scrapes: scrapes,
	}
}

// watched is what await saw of a consumption.
type watched struct {
	total    int64
	t10, t90 time.Time // when 10% and 90% of the records were applied
}

// seconds is the steady state: from 10% to 90% of the records.
func (w watched) seconds() float64 { return w.t90.Sub(w.t10).Seconds() }

// rate is records per second in the steady state.
func (w watched) rate() float64 { return float64(w.total*8/10) / w.seconds() }

// await polls the records applied until there are total, noting when 10% and 90% were
// reached.
func (e *env) await(t testing.TB, total int64) watched {
	t.Helper()
	w := watched{total: total}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not consume %d records in time", total)
		}
		n := e.applied(t)
		now := time.Now()
		if w.t10.IsZero() && n >= total/10 {
			w.t10 = now
		}
		if w.t90.IsZero() && n >= total*9/10 {
			w.t90 = now
		}
		if n >= total {
			return w
		}
		time.Sleep(20 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

// repeat calls f every interval in a goroutine of its own until the returned stop is
// called; stop waits for a call under way.
func repeat(every time.Duration, f func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				f()
			}
		}
	}()
	return func() { close(quit); <-done }
}

// rssWatch is the largest RSS of one of some processes, sampled every 20 ms.
type rssWatch struct {
	end  func()
	peak int64
}

func watchRSS(procs ...*difftest.Proc) *rssWatch {
	w := &rssWatch{}
	w.end = repeat(20*time.Millisecond, func() {
		for _, p := range procs {
			w.peak = max(w.peak, rss(p.Cmd.Process.Pid))
		}
	})
	return w
}

// stop ends the sampling and returns the largest RSS seen, in bytes.
func (w *rssWatch) stop() int64 {
	w.end()
	return w.peak
}

func saveProfile(t testing.TB, url, to string) {
	resp, err := http.Get(url)
	if err != nil {
		t.Logf("profile %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// awaitOwners waits until every one of procs owns (and has loaded) some of the partitions
// and together they own all.
func (e *env) awaitOwners(t testing.TB, procs ...*difftest.Proc) {
	t.Helper()
	testenv.WaitFor(t, 2*time.Minute, fmt.Sprintf("%d instance(s) sharing %d partitions", len(procs), e.parts), func() bool {
		owned := 0
		for _, p := range procs {
			v, ok := p.Metric("cskpi_partitions_owned")
			if !ok || v == 0 {
				return false
			}
			owned += int(v)
		}
		return owned == e.parts
	})
}

// groupRun is one run of the instances phase.
type groupRun struct {
	cpu  float64 // CPU seconds of every instance from its continuing to the last record applied
	rate float64 // steady-state records/s
}

// group starts n instances of one group on empty topics and waits until they share every
// partition; it then stops them (SIGSTOP) while lines are published, so that they consume
// a complete log as the other replays do, and measures their CPU time from their
// continuing until all records are applied: the group's cost of the records, without
// start-up and rebalancing. The publishing must take less than a session timeout (10 s by
// default), or the group rebalances.
func (e *env) group(t testing.TB, bin string, lines [][]byte, n int) groupRun {
	t.Helper()
	procs := make([]*difftest.Proc, n)
	for i := range procs {
		procs[i] = e.serve(t, bin, "--clock=event")
	}
	e.awaitOwners(t, procs...)
	for _, p := range procs {
		p.Signal(syscall.SIGSTOP)
	}
	t0 := time.Now()
	e.publish(t, lines)
	t.Logf("%d records published in %s with %d instance(s) stopped", len(lines), time.Since(t0).Round(time.Millisecond), n)
	cpu0 := cpuSeconds(procs...)
	for _, p := range procs {
		p.Signal(syscall.SIGCONT)
	}
	w := e.await(t, int64(len(lines)))
	return groupRun{cpu: cpuSeconds(procs...) - cpu0, rate: w.rate()}
}

// rawFetchRate reads every partition of both topics with plain kafka-go readers, as the
// service does, and counts messages per second: the broker-and-client ceiling.
func (e *env) rawFetchRate(t testing.TB, total int64) float64 {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	start := time.Now()
	wait := e.readAll(ctx, 16<<20, 4096, func(kafka.Message) {
		if n.Add(1) >= total {
			cancel()
		}
	})
	<-ctx.Done()
	elapsed := time.Since(start)
	wait()
	return float64(n.Load()) / elapsed.Seconds()
}

// readAll reads every partition of both topics from their start with plain kafka-go
// readers, as the service does, and hands each record to each (called concurrently) until
// ctx ends; the returned wait returns once every reader has stopped.
func (e *env) readAll(ctx context.Context, maxBytes, queue int, each func(kafka.Message)) (wait func()) {
	var wg sync.WaitGroup
	for _, topic := range []string{topicM, topicO} {
		for p := range e.parts {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.brokers, Topic: topic, Partition: p,
				MinBytes: 1, MaxBytes: maxBytes, MaxWait: 200 * time.Millisecond, QueueCapacity: queue})
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer r.Close()
				for {
					m, err := r.FetchMessage(ctx)
					if err != nil {
						return
					}
					each(m)
				}
			}()
		}
	}
	return wg.Wait
}

// loadgen is `cskpi loadgen` on the env's broker at rate records/s for d, its log to logs.
func (e *env) loadgen(bin string, rate float64, d time.Duration, shops int, logs io.Writer) *exec.Cmd {
	lg := exec.Command(bin, "loadgen", "--kafka.brokers="+strings.Join(e.brokers, ","),
		fmt.Sprintf("--rate=%.0f", rate), fmt.Sprintf("--shops=%d", shops), fmt.Sprintf("--duration=%s", d), "--seed=7")
	lg.Stderr = logs
	return lg
}

// redisPipelineRate is the same Redis's rate for pipelined HSETs of bucket-sized values.
func (e *env) redisPipelineRate(t testing.TB) float64 {
	ctx := context.Background()
	const batches, per = 200, 1000
	start := time.Now()
	for b := range batches {
		pipe := e.rdb.Pipeline()
		for i := range per {
			pipe.HSet(ctx, "bench:pipeline", fmt.Sprint("f", b*per+i), "0123456789abcdef")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rate := batches * per / time.Since(start).Seconds()
	e.rdb.Del(ctx, "bench:pipeline")
	return rate
}

// freshResult is one freshness run.
type freshResult struct {
	p50, p99 float64 // of cskpi_freshness_seconds, in seconds
	achieved float64 // records/s loadgen held
	scrapes  durations
}

// freshness runs `cskpi loadgen` as its own process at a fixed rate with live timestamps
// and reads serve's freshness histogram once serve has applied everything it produced.
// loadgen first runs its generator through minutes of event time without writing (its
// warm-up): the load begins with the first record applied, and with env.scrapeEvery the
// scrapes are timed from then until serve has applied everything.
func (e *env) freshness(t testing.TB, bin string, rate float64, d time.Duration, shops int) freshResult {
	t.Helper()
	p := e.serve(t, bin, "--clock=wall")
	testenv.WaitFor(t, 30*time.Second, "serve ready", func() bool { return p.Ready() == http.StatusOK })
	base := e.applied(t)
	var logs strings.Builder
	lg := e.loadgen(bin, rate, d, shops, &logs)
	if err := lg.Start(); err != nil {
		t.Fatalf("loadgen: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- lg.Wait() }()
	var err error
	ended := false
	for !ended && e.applied(t) == base {
		select {
		case err = <-exited:
			ended = true
		case <-time.After(20 * time.Millisecond): // poll interval; loadgen's end bounds the wait
		}
	}
	began := time.Now()
	var scr *scraper
	if e.scrapeEvery > 0 {
		scr = startScraper(p, e.scrapeEvery)
	}
	if e.profileTo != "" { // a CPU profile of serve under the load
		go saveProfile(t, p.Base+"/debug/pprof/profile?seconds=10", e.profileTo)
	}
	if !ended {
		err = <-exited
	}
	writing := time.Since(began)
	if err != nil {
		scr.stop()
		t.Fatalf("loadgen: %v\n%s", err, logs.String())
	}
	// loadgen paces itself for d from its first record; when the machine cannot keep up
	// it takes longer, and the rate it held is what it wrote in that time.
	n := loadgenRecords(t, logs.String())
	r := freshResult{p50: math.NaN(), p99: math.NaN(), achieved: float64(n) / max(d, writing).Seconds()}
	// A load beyond the machine leaves serve behind: report what it saw rather than fail.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && e.applied(t)-base < n; {
		time.Sleep(20 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
	r.scrapes = scr.stop()
	m := families(p)
	if m == nil {
		return r
	}
	h := m["cskpi_freshness_seconds"]
	if h == nil || len(h.Metric) == 0 {
		t.Fatal("no freshness histogram")
	}
	hist := h.Metric[0].GetHistogram()
	r.p50, r.p99 = quantile(0.5, hist.GetBucket(), hist.GetSampleCount()), quantile(0.99, hist.GetBucket(), hist.GetSampleCount())
	return r
}

// readerAge is freshness' reference: the same loadgen run read by plain kafka-go readers in
// this process, one per topic-partition as serve reads them, each record's age (the wall
// clock less its producer timestamp) when FetchMessage returns it. No record can be applied
// sooner, so serve's freshness less this is what serve adds. It returns the p50 and p99.
// The topics are new: the readers start at their beginning, connected during loadgen's
// warm-up.
func (e *env) readerAge(t testing.TB, bin string, rate float64, d time.Duration, shops int) (p50, p99 float64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var ages []float64
	wait := e.readAll(ctx, 4<<20, 100, func(m kafka.Message) {
		age := time.Since(m.Time).Seconds()
		mu.Lock()
		ages = append(ages, age)
		mu.Unlock()
	})
	var logs strings.Builder
	lg := e.loadgen(bin, rate, d, shops, &logs)
	if err := lg.Run(); err != nil {
		t.Fatalf("loadgen: %v\n%s", err, logs.String())
	}
	n := int(loadgenRecords(t, logs.String()))
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) { // poll interval
		mu.Lock()
		got := len(ages)
		mu.Unlock()
		if got >= n {
			break
		}
	}
	cancel()
	wait()
	if len(ages) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(ages)
	return ages[len(ages)/2], ages[len(ages)*99/100]
}

// loadgenRecords reads the record count from loadgen's last log line.
func loadgenRecords(t testing.TB, logs string) int64 {
	for _, f := range strings.Fields(logs[strings.LastIndex(logs, "loadgen stopped"):]) {
		if v, ok := strings.CutPrefix(f, "records="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("no record count in loadgen's log:\n%s", logs)
	return 0
}

// quantile interpolates within cumulative buckets like PromQL's histogram_quantile.
func quantile(q float64, buckets []*dtoBucket, count uint64) float64 {
	rank := q * float64(count)
	prevUpper, prevCount := 0.0, 0.0
	for _, b := range buckets {
		c := float64(b.GetCumulativeCount())
		if c >= rank {
			if c == prevCount {
				return b.GetUpperBound()
			}
			return prevUpper + (b.GetUpperBound()-prevUpper)*(rank-prevCount)/(c-prevCount)
		}
		prevUpper, prevCount = b.GetUpperBound(), c
	}
	return math.Inf(1)
}
