// Package difftest holds what the differential and fault tests share: a seeded event log
// published to a fresh in-process broker with its reference result (`cskpi recompute`),
// scraping and parsing /metrics, comparing series with the reference, and running the
// cskpi binary as a child process whose log is captured.
//
// Like testenv it ties every process and server to t.Cleanup and bounds every wait with a
// deadline; polls are waits on a condition, never sleeps standing in for one.
package difftest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/internal/testlog"
	"github.com/cskpi/cskpi/traffic/produce"
	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/reference"
)

// Topics and partition count of every fixture.
const (
	TopicM, TopicO, TopicDL = "cs.messages", "cs.orders", "cs.deadletter"
	Partitions              = 4
)

// Fixture is one event log published to a fresh broker, a fresh redis-server, and the
// log's reference result.
type Fixture struct {
	Kafka *testenv.Kafka
	Redis *testenv.Redis
	Lines [][]byte
	Ref   reference.Result
	// Want is the reference's KPI series, keyed like kpi.Series.Key.
	Want map[string]float64
}

// Options shape NewFixtureWith.
type Options struct {
	// Lines is the log; nil means TestLog(Seed, Records).
	Lines   [][]byte
	Seed    int64
	Records int
	Redis   testenv.RedisOptions
	// Kafka is the broker; nil starts testenv.StartKafka with the three topics.
	Kafka *testenv.Kafka
	// Publish is how many of the lines to publish now (0: all, negative: none); the test
	// publishes the rest itself with Publish, e.g. during a fault.
	Publish int
	// Transport carries the producer's TLS and SASL; nil is plain.
	Transport *kafka.Transport
}

// NewFixture publishes a seeded testlog.Lines log of about records lines.
func NewFixture(t testing.TB, seed int64, records int, redisOpt testenv.RedisOptions) *Fixture {
	t.Helper()
	return NewFixtureWith(t, Options{Seed: seed, Records: records, Redis: redisOpt})
}

// NewFixtureWith is NewFixture with a given log, broker or partial publishing.
func NewFixtureWith(t testing.TB, opt Options) *Fixture {
	t.Helper()
	f := &Fixture{Kafka: opt.Kafka, Lines: opt.Lines}
	if f.Kafka == nil {
		f.Kafka = testenv.StartKafka(t, Partitions, TopicM, TopicO, TopicDL)
	}
	f.Redis = testenv.StartRedis(t, opt.Redis)
	if f.Lines == nil {
		f.Lines = TestLog(opt.Seed, opt.Records)
	}
	f.Ref, f.Want = Reference(t, f.Lines)
	switch n := opt.Publish; {
	case n == 0:
		Publish(t, f.Kafka.Brokers, opt.Transport, f.Lines)
	case n > 0:
		Publish(t, f.Kafka.Brokers, opt.Transport, f.Lines[:n])
	}
	return f
}

// TestLog is the differential log of testlog.Lines, with valid times 13 days back.
func TestLog(seed int64, records int) [][]byte {
	start := time.Now().Add(-13 * 24 * time.Hour).Truncate(time.Hour)
	return testlog.Lines(testlog.Config{Seed: seed, Records: records, Start: start, Shops: 3})
}

// DisorderLog is a seeded log over span with the disorder CONTRACT §1 allows: orders up to two
// days late, conversations interleaved out of ts order, adjacent copies of late events
// (testlog.Config.Disorder). A span beyond 30 days makes the service drop state by
// the too-old horizon while it reads the log.
func DisorderLog(seed int64, records int, span time.Duration) [][]byte {
	start := time.Now().Add(-span - 3*24*time.Hour).Truncate(time.Hour)
	return testlog.Lines(testlog.Config{Seed: seed, Records: records, Start: start, Span: span, Disorder: true})
}

// Trickle publishes lines in the background, chunk lines every interval, so that a service
// consumes the log while it arrives and its expiry runs many times mid-stream. The
// returned function waits until every line is published and reports how long that took.
func Trickle(t testing.TB, brokers []string, lines [][]byte, chunk int, every time.Duration) (wait func() time.Duration) {
	t.Helper()
	done := make(chan time.Duration, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		began := time.Now()
		defer func() { done <- time.Since(began) }()
		tick := time.NewTicker(every) // the pace of the producer, not a wait on a condition
		defer tick.Stop()
		for i := 0; i < len(lines); i += chunk {
			part := lines[i:min(i+chunk, len(lines))]
			n, err := produce.Lines(ctx, part, produce.Options{Brokers: brokers,
				Topics: produce.Topics{Messages: TopicM, Orders: TopicO}})
			if err != nil || n != int64(len(part)) {
				t.Errorf("difftest: trickle: %d of %d lines at %d: %v", n, len(part), i, err)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() time.Duration {
		select {
		case d := <-done:
			return d
		case <-time.After(5 * time.Minute):
			t.Fatalf("difftest: trickle did not finish in 5 minutes")
			return 0
		}
	}
}

// Reference computes recompute's result for lines, and its KPI series by key.
func Reference(t testing.TB, lines [][]byte) (reference.Result, map[string]float64) {
	t.Helper()
	return ReferenceWith(t, lines, reference.Options{})
}

// ReferenceWith is Reference with recompute's options (a shop directory, thresholds).
func ReferenceWith(t testing.TB, lines [][]byte, opt reference.Options) (reference.Result, map[string]float64) {
	t.Helper()
	recs := make([]jsonl.Record, 0, len(lines))
	for i, l := range lines {
		r, err := jsonl.Parse(l)
		if err != nil {
			t.Fatalf("difftest: line %d: %v", i, err)
		}
		recs = append(recs, r)
	}
	ref, err := reference.ComputeRecords(recs, opt)
	if err != nil {
		t.Fatalf("difftest: recompute: %v", err)
	}
	want := map[string]float64{}
	for _, s := range ref.Series {
		want[s.Key()] = s.Value
	}
	return ref, want
}

// TestShops is a shop directory for the test logs' shops (shop-001 ... shop-004): other
// zones than --timezone (one with DST), business hours with a lunch break and a weekend, a
// closed date inside the log, and a shop left to the defaults. start is the log's Start.
func TestShops(start time.Time) string {
	closed := start.Add(3 * 24 * time.Hour).Format(time.DateOnly)
	return `shops:
  shop-001:
    name: 旗舰店
    team: east
    timezone: America/New_York
    business_hours:
      mon: ["09:00-12:00", "13:00-18:00"]
      tue: ["09:00-12:00", "13:00-18:00"]
      wed: ["09:00-12:00", "13:00-18:00"]
      thu: ["09:00-12:00", "13:00-18:00"]
      fri: ["09:00-12:00", "13:00-17:00"]
    closed: ["` + closed + `"]
    response_target: 30s
  shop-002:
    name: Night desk
    team: west
    timezone: UTC
    business_hours:
      sun: ["00:00-24:00"]
      mon: ["18:00-24:00"]
      tue: ["00:00-06:00", "18:00-24:00"]
      wed: ["00:00-06:00", "18:00-24:00"]
      thu: ["00:00-06:00", "18:00-24:00"]
      fri: ["00:00-06:00", "18:00-24:00"]
      sat: ["00:00-24:00"]
  shop-003:
    name: Defaults
`
}

// Publish produces lines (jsonl format) to the input topics, in order.
func Publish(t testing.TB, brokers []string, transport *kafka.Transport, lines [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := produce.Lines(ctx, lines, produce.Options{Brokers: brokers, Transport: transport,
		Topics: produce.Topics{Messages: TopicM, Orders: TopicO}})
	if err != nil || n != int64(len(lines)) {
		t.Fatalf("difftest: produce: %d of %d: %v", n, len(lines), err)
	}
}

// KPISeries parses an exposition and keeps the KPI families, keyed like kpi.Series.Key,
// and the health series cskpi_events_total and cskpi_consumer_lag keyed by their sorted
// labels.
func KPISeries(t testing.TB, text []byte) (map[string]float64, map[string]float64) {
	t.Helper()
	out, health, err := ParseKPI(text)
	if err != nil {
		t.Fatalf("parsing exposition: %v", err)
	}
	return out, health
}

// ParseKPI is KPISeries returning its error.
func ParseKPI(text []byte) (map[string]float64, map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, nil, err
	}
	fams := map[string]bool{}
	for _, f := range kpi.Families() {
		fams[f.Name] = true
	}
	out, health := map[string]float64{}, map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := kpi.Series{Name: name}
			var rest []string
			for _, lp := range m.GetLabel() {
				if !s.Set(lp.GetName(), lp.GetValue()) {
					rest = append(rest, lp.GetName()+"="+lp.GetValue())
				}
			}
			switch {
			case fams[name]:
				out[s.Key()] = m.GetGauge().GetValue()
			case name == "cskpi_events_total" || name == "cskpi_consumer_lag":
				v := m.GetCounter().GetValue()
				if name == "cskpi_consumer_lag" {
					v = m.GetGauge().GetValue()
				}
				sort.Strings(rest)
				health[name+"{"+strings.Join(rest, ",")+"}"] = v
			}
		}
	}
	return out, health, nil
}

// ParseAll parses every gauge, counter and untyped sample of an exposition (histogram and
// summary families are left out), keyed "name{k=v,...}" with the labels sorted by name,
// e.g. `cskpi_events_rejected_total{reason=oversize,topic=cs.messages}`.
func ParseAll(text []byte) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var v float64
			switch {
			case m.GetGauge() != nil:
				v = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			case m.GetUntyped() != nil:
				v = m.GetUntyped().GetValue()
			default:
				continue
			}
			out[SampleKey(name, labelPairs(m.GetLabel())...)] = v
		}
	}
	return out, nil
}

func labelPairs[L interface {
	GetName() string
	GetValue() string
}](ls []L) []string {
	out := make([]string, 0, 2*len(ls))
	for _, l := range ls {
		out = append(out, l.GetName(), l.GetValue())
	}
	return out
}

// SampleKey spells the key ParseAll uses for name and label pairs (k1, v1, k2, v2, ...).
func SampleKey(name string, kv ...string) string {
	pairs := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, kv[i]+"="+kv[i+1])
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// Diff lists the series that differ, at most max of them.
func Diff(got, want map[string]float64, max int) []string { return DiffWithin(got, want, max, 0) }

// DiffWithin is Diff with a relative tolerance. A sum over instances needs one: each
// instance rounds its own value to a float64, and a yuan figure beyond 2^53 fen (about
// 9·10^13 yuan) is not exact in one, so the instances' roundings can differ from the
// rounding of the total by an ulp each.
func DiffWithin(got, want map[string]float64, max int, rel float64) []string {
	var out []string
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		g, gok := got[k]
		w, wok := want[k]
		if gok == wok && (g == w || math.Abs(g-w) <= rel*math.Abs(w)) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: serve=%s recompute=%s", k, show(g, gok), show(w, wok)))
	}
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("... and %d more", len(out)-max))
	}
	return out
}

func show(v float64, ok bool) string {
	if !ok {
		return "absent"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Scrape GETs url with the default client.
func Scrape(url string) ([]byte, error) { return ScrapeWith(http.DefaultClient, url, "", "") }

// ScrapeWith GETs url with client, and basic auth when user is set. A status other than
// 200 is an error.
func ScrapeWith(client *http.Client, url, user, pass string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b.Bytes(), err
}

// AwaitMatch polls url's /metrics until every KPI series equals want, or fails with the
// difference. Equality is only reachable once all records are applied, so polling to it is
// a wait on a condition, not on time. records > 0 lets it fail early once that many
// records have an outcome and the series still differ.
func AwaitMatch(t testing.TB, url string, want map[string]float64, records int, timeout time.Duration) map[string]float64 {
	t.Helper()
	return AwaitMatchFunc(t, func() ([]byte, error) { return Scrape(url) }, want, records, timeout)
}

// AwaitMatchFunc is AwaitMatch with its own scrape function (TLS, basic auth, several
// instances summed).
func AwaitMatchFunc(t testing.TB, scrape func() ([]byte, error), want map[string]float64, records int, timeout time.Duration) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []string
	var health map[string]float64
	var settledSince time.Time
	var lastErr error
	for time.Now().Before(deadline) {
		text, err := scrape()
		lastErr = err
		if err == nil {
			var got map[string]float64
			got, health = KPISeries(t, text)
			last = Diff(got, want, 40)
			// A registry gathers its collectors concurrently, so one scrape's outcome
			// counters may be read a moment before its KPI series: with records > 0, the
			// counters must have caught up too.
			if len(last) == 0 && (records <= 0 || Consumed(health) == records) {
				return health
			}
			// Once every record has an outcome and expiry has had a few seconds, a
			// difference is final: fail now rather than at the deadline.
			if records > 0 && Consumed(health) == records {
				if settledSince.IsZero() {
					settledSince = time.Now()
				} else if time.Since(settledSince) > 2*time.Second {
					break
				}
			}
		}
		time.Sleep(100 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
	t.Fatalf("serve did not match recompute (%d reference series); difference:\n%s\nhealth: %v\nlast scrape error: %v",
		len(want), strings.Join(last, "\n"), health, lastErr)
	return nil
}

// Consumed sums cskpi_events_total over topics and outcomes (-1 when absent).
func Consumed(health map[string]float64) int {
	n, seen := 0.0, false
	for k, v := range health {
		if strings.HasPrefix(k, "cskpi_events_total{") {
			n += v
			seen = true
		}
	}
	if !seen {
		return -1
	}
	return int(n)
}

// WindowsConfig is the default configuration of `cskpi serve` (Asia/Shanghai, 15s and 3m).
func WindowsConfig(t testing.TB) windows.Config {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return windows.Config{Location: loc, Thresholds: []int64{15000, 180000}}
}

// Progress sums the next offsets stored in Redis over both input topics and every
// partition, under the default key prefix: the number of records whose batch committed.
// It returns -1 when Redis does not answer.
func Progress(rdb redis.UniversalClient) int64 { return ProgressOf(rdb, Partitions) }

// ProgressOf is Progress for a log of the given partition count.
func ProgressOf(rdb redis.UniversalClient, partitions int) int64 {
	return ProgressOfPrefix(rdb, "cskpi", partitions)
}

// ProgressOfPrefix is ProgressOf under another --redis.key-prefix.
func ProgressOfPrefix(rdb redis.UniversalClient, prefix string, partitions int) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int64
	for p := range partitions {
		vals, err := rdb.HMGet(ctx, fmt.Sprintf("%s:{p%d}:meta", prefix, p), "off:"+TopicM, "off:"+TopicO).Result()
		if err != nil {
			return -1
		}
		for _, v := range vals {
			if s, ok := v.(string); ok {
				o, _ := strconv.ParseInt(s, 10, 64)
				n += o
			}
		}
	}
	return n
}
