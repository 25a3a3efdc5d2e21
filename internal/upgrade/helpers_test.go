package upgrade_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/internal/testlog"
	"github.com/cskpi/cskpi/windows/kpi"
)

const (
	topicM, topicO, topicDL = difftest.TopicM, difftest.TopicO, difftest.TopicDL
	partitions              = difftest.Partitions
	// keyPrefix is --redis.key-prefix of every build under test (the default).
	keyPrefix = "cskpi"

	testdata = "testdata"
	// logFile is the one event log every fixture was made from, and every upgrade test
	// consumes. It is made once (TestMakeLog) and never changed.
	logFile = "testdata/log.jsonl.gz"
	// preIssueCommit is main before issue 19: the last build of layout 5, which cannot read
	// what today's build writes. TestRollingUpdate runs it next to today's build.
	preIssueCommit = "92ef038"
)

// logConfig made testdata/log.jsonl.gz (TestMakeLog): an ordered differential log (no
// Disorder: layout 1 predates exactness under disorder) with absolute times, so that it
// means the same thing whenever it is consumed. Its four "future" records (ts two days
// after Now) are left out of the file: after 2026-12-07 they would no longer be future.
var logConfig = testlog.Config{
	Seed:    19,
	Records: 3500,
	Shops:   3,
	Start:   time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC),
	Span:    5 * 24 * time.Hour,
	Now:     time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC),
}

// sceneLogFile is the log of the fixture made just before the scene label (issue 21): like
// logFile, with after-sale chats and every scene fault, which that build did not read.
const sceneLogFile = "testdata/log-scene.jsonl.gz"

// sceneLogConfig made testdata/log-scene.jsonl.gz: logConfig with another seed, from a
// testlog that writes scenes.
var sceneLogConfig = func() testlog.Config {
	c := logConfig
	c.Seed = 21
	return c
}()

// logConfigs are the logs the fixtures are made from, by file.
var logConfigs = map[string]testlog.Config{logFile: logConfig, sceneLogFile: sceneLogConfig}

// fixture names one fixture: the stored-state layout N written by Commit (the last commit of
// main of that layout, or of a set of families) when SIGKILLed mid-Log.
type fixture struct {
	Name   string // its directory under testdata
	N      int
	Commit string
	Log    string
}

// layouts are the fixtures, one per stored-state layout of main and one per change of
// families since layout 6 described itself.
var layouts = []fixture{
	{"layout1", 1, "8e899c7", logFile}, // the release of 2026-11-30
	{"layout2", 2, "603bba3", logFile},
	{"layout3", 3, "ca8a0b7", logFile}, // first responses, business-time sums, agent active buyers, waiting over
	{"layout4", 4, "f2db490", logFile},
	{"layout5", 5, preIssueCommit, logFile}, // main before issue 19
	{"layout6", 6, "f70b874", logFile},      // layout 6 (issues 19, 20)
	// 0.6.0, the last build before the scene label (issue 21), on a log with scenes it
	// did not read.
	{"layout6-scene", 6, "56271d2", sceneLogFile},
}

// ---- the log ----

// readLog reads testdata/log.jsonl.gz: one record per line.
func readLog(t testing.TB) [][]byte { return readLogFile(t, logFile) }

// readLogFile reads one of the fixed logs.
func readLogFile(t testing.TB, logFile string) [][]byte {
	t.Helper()
	b, err := readMaybeGzip(logFile)
	if err != nil {
		t.Fatalf("reading the fixed log: %v (made once by TestMakeLog; see testdata/README.md)", err)
	}
	var lines [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) > 0 {
			lines = append(lines, l)
		}
	}
	return lines
}

// logDigest is the SHA-256 of the lines, newline-terminated: what a fixture records of its log.
func logDigest(lines [][]byte) string {
	h := sha256.New()
	for _, l := range lines {
		h.Write(l)
		h.Write([]byte("\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func readMaybeGzip(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return io.ReadAll(zr)
}

func writeGzip(path string, b []byte) error {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// ---- where each record of the log lands ----

// offsets are next offsets (records below them applied) by partition and topic name.
type offsets map[int]map[string]int64

func (o offsets) total() int64 {
	var n int64
	for _, m := range o {
		for _, v := range m {
			n += v
		}
	}
	return n
}

func (o offsets) String() string {
	var parts []string
	for p := range partitions {
		parts = append(parts, fmt.Sprintf("p%d m=%d o=%d", p, o[p][topicM], o[p][topicO]))
	}
	return strings.Join(parts, ", ")
}

// spot is where a published line lands: its topic, partition and offset.
type spot struct {
	topic string
	part  int
	off   int64
}

// placeLog computes where difftest.Publish puts each line on a fresh broker: the topic
// of its role, the partition of produce's balancer (murmur2 of the key, CONTRACT §1), the
// offset of its place among its partition's lines (produce keeps the file's order per
// partition). It returns the spots and the end offsets.
func placeLog(t testing.TB, lines [][]byte) ([]spot, offsets) {
	t.Helper()
	bal := &kafka.Murmur2Balancer{Consistent: true}
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	ends := offsets{}
	for p := range partitions {
		ends[p] = map[string]int64{topicM: 0, topicO: 0}
	}
	spots := make([]spot, len(lines))
	for i, l := range lines {
		r, err := jsonl.Parse(l)
		if err != nil {
			t.Fatalf("log line %d: %v", i+1, err)
		}
		topic := topicM
		if r.Topic == event.Orders {
			topic = topicO
		}
		p := bal.Balance(kafka.Message{Topic: topic, Key: r.Key}, parts...)
		spots[i] = spot{topic, p, ends[p][topic]}
		ends[p][topic]++
	}
	return spots, ends
}

// linesBelow are the lines below the offsets, in log order: what a build that stored these
// offsets has consumed.
func linesBelow(lines [][]byte, spots []spot, off offsets) [][]byte {
	var out [][]byte
	for i, s := range spots {
		if s.off < off[s.part][s.topic] {
			out = append(out, lines[i])
		}
	}
	return out
}

// maxTSByPartition is, per partition, the largest ts of the lines below off that decode:
// the partition's event-time watermark once they are applied (the few lines rejected for
// their time are never the largest in an ordered log).
func maxTSByPartition(lines [][]byte, spots []spot, off offsets) map[int]int64 {
	out := map[int]int64{}
	for i, s := range spots {
		if s.off >= off[s.part][s.topic] {
			continue
		}
		r, err := jsonl.Parse(lines[i])
		if err != nil {
			continue
		}
		if ev, reason := event.Decode(r.Topic, r.Value); reason == event.OK && ev.TS > out[s.part] {
			out[s.part] = ev.TS
		}
	}
	return out
}

// brokerEnds asks the broker for the end offsets of both input topics.
func brokerEnds(t testing.TB, brokers []string) offsets {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := map[string][]kafka.OffsetRequest{}
	for _, topic := range []string{topicM, topicO} {
		for p := range partitions {
			req[topic] = append(req[topic], kafka.LastOffsetOf(p))
		}
	}
	resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	out := offsets{}
	for p := range partitions {
		out[p] = map[string]int64{}
	}
	for topic, ps := range resp.Topics {
		for _, po := range ps {
			if po.Error != nil {
				t.Fatalf("list offsets %s/%d: %v", topic, po.Partition, po.Error)
			}
			out[po.Partition][topic] = po.LastOffset
		}
	}
	return out
}

// publishLog publishes the lines to a fresh broker the way every fixture was made
// (difftest.Publish: produce, in file order), and checks that each partition ends where
// placeLog says, so that the offsets a fixture stored name the same records here.
func publishLog(t testing.TB, k *testenv.Kafka, lines [][]byte, ends offsets) {
	t.Helper()
	difftest.Publish(t, k.Brokers, nil, lines)
	if got := brokerEnds(t, k.Brokers); got.String() != ends.String() {
		t.Fatalf("the published log ends at %v, but the fixtures were made where it ends at %v: produce's partitioning changed, and the stored offsets no longer name the same records", got, ends)
	}
}

// ---- stored state ----

// storedOffsets reads the next offsets every partition's meta holds (0 where none).
func storedOffsets(ctx context.Context, rdb *redis.Client) (offsets, error) {
	out := offsets{}
	for p := range partitions {
		out[p] = map[string]int64{}
		vals, err := rdb.HMGet(ctx, fmt.Sprintf("%s:{p%d}:meta", keyPrefix, p), "off:"+topicM, "off:"+topicO).Result()
		if err != nil {
			return nil, err
		}
		for i, topic := range []string{topicM, topicO} {
			if s, ok := vals[i].(string); ok {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("partition %d off:%s = %q: %w", p, topic, s, err)
				}
				out[p][topic] = n
			}
		}
	}
	return out, nil
}

// awaitOffsets waits until every partition's stored offsets reach ends.
func awaitOffsets(t testing.TB, rdb *redis.Client, ends offsets, timeout time.Duration, what string) {
	t.Helper()
	if last, _, ok := pollOffsets(rdb, ends, timeout); !ok {
		t.Fatalf("%s: stored offsets did not reach the end of the log within %v: stored %v, end %v", what, timeout, last, ends)
	}
}

// pollOffsets reads the stored offsets until they reach ends or timeout passes, and returns
// the last read, how long it took and whether they reached ends.
func pollOffsets(rdb *redis.Client, ends offsets, timeout time.Duration) (offsets, time.Duration, bool) {
	began := time.Now()
	var last offsets
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		got, err := storedOffsets(ctx, rdb)
		cancel()
		if err == nil {
			last = got
			if reached(got, ends) {
				return last, time.Since(began), true
			}
		}
		if time.Since(began) > timeout {
			return last, time.Since(began), false
		}
		time.Sleep(20 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

func reached(got, ends offsets) bool {
	for p, m := range ends {
		for topic, end := range m {
			if got[p][topic] < end {
				return false
			}
		}
	}
	return true
}

// redisDump is every key under the key prefix but the claims (which expire): hashes with
// all their fields, strings with their value. In JSON, values are base64 (encoding/json's
// []byte), so that binary survives; field names and keys are text.
type redisDump struct {
	Keys []dumpKey `json:"keys"`
}

type dumpKey struct {
	Key    string      `json:"key"`
	Type   string      `json:"type"` // "hash" or "string"
	Value  []byte      `json:"value,omitempty"`
	Fields []dumpField `json:"fields,omitempty"`
}

type dumpField struct {
	Name  string `json:"f"`
	Value []byte `json:"v"`
}

// dumpRedis reads every key under keyPrefix but the claims.
func dumpRedis(ctx context.Context, rdb *redis.Client) (redisDump, error) {
	var keys []string
	iter := rdb.Scan(ctx, 0, keyPrefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		if k := iter.Val(); !strings.HasSuffix(k, ":claim") {
			keys = append(keys, k)
		}
	}
	if err := iter.Err(); err != nil {
		return redisDump{}, err
	}
	sort.Strings(keys)
	var d redisDump
	for _, k := range keys {
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			return redisDump{}, err
		}
		dk := dumpKey{Key: k, Type: typ}
		switch typ {
		case "hash":
			m, err := rdb.HGetAll(ctx, k).Result()
			if err != nil {
				return redisDump{}, err
			}
			for f, v := range m {
				dk.Fields = append(dk.Fields, dumpField{f, []byte(v)})
			}
			sort.Slice(dk.Fields, func(i, j int) bool { return dk.Fields[i].Name < dk.Fields[j].Name })
		case "string":
			v, err := rdb.Get(ctx, k).Bytes()
			if err != nil {
				return redisDump{}, err
			}
			dk.Value = v
		case "none":
			continue // expired between SCAN and TYPE
		default:
			return redisDump{}, fmt.Errorf("key %s has type %s: the dump knows hashes and strings", k, typ)
		}
		d.Keys = append(d.Keys, dk)
	}
	return d, nil
}

// restoreDump writes d into an empty Redis.
func restoreDump(t testing.TB, rdb *redis.Client, d redisDump) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("restoring into a Redis that is not empty (%d keys, %v)", n, err)
	}
	pipe := rdb.Pipeline()
	for _, k := range d.Keys {
		switch k.Type {
		case "hash":
			args := make([]any, 0, 2*len(k.Fields))
			for _, f := range k.Fields {
				args = append(args, f.Name, f.Value)
			}
			pipe.HSet(ctx, k.Key, args...)
		case "string":
			pipe.Set(ctx, k.Key, k.Value, 0)
		default:
			t.Fatalf("dump key %s: unknown type %q", k.Key, k.Type)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("restoring the dump: %v", err)
	}
	got, err := dumpRedis(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffDumps(d, got); len(diff) > 0 {
		t.Fatalf("the restored Redis differs from the dump:\n%s", strings.Join(diff, "\n"))
	}
}

// diffDumps lists the differences between two dumps (at most 40), keys and fields in order.
func diffDumps(a, b redisDump) []string {
	type entry struct{ typ, val string }
	flat := func(d redisDump) map[string]entry {
		m := map[string]entry{}
		for _, k := range d.Keys {
			if k.Type == "string" {
				m[k.Key] = entry{k.Type, string(k.Value)}
				continue
			}
			m[k.Key] = entry{k.Type, ""}
			for _, f := range k.Fields {
				m[k.Key+" "+strconv.Quote(f.Name)] = entry{"field", string(f.Value)}
			}
		}
		return m
	}
	fa, fb := flat(a), flat(b)
	names := map[string]bool{}
	for k := range fa {
		names[k] = true
	}
	for k := range fb {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		ea, oka := fa[k]
		eb, okb := fb[k]
		switch {
		case !oka:
			out = append(out, fmt.Sprintf("%s: added (%s %s)", k, eb.typ, abbrev(eb.val)))
		case !okb:
			out = append(out, fmt.Sprintf("%s: removed (was %s %s)", k, ea.typ, abbrev(ea.val)))
		case ea != eb:
			out = append(out, fmt.Sprintf("%s: %s -> %s", k, abbrev(ea.val), abbrev(eb.val)))
		}
	}
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("... and %d more", len(out)-40))
	}
	return out
}

func abbrev(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// ---- fixtures ----

// fixtureMeta is testdata/layoutN/fixture.json: how the dump next to it was made.
type fixtureMeta struct {
	Layout int    `json:"layout"`
	Commit string `json:"commit"` // full hash of the build that wrote the state
	Made   string `json:"made"`   // when, RFC 3339
	How    string `json:"how"`    // the command that made it
	Go     string `json:"go"`     // the Go toolchain that built the old commit
	// Log is the SHA-256 of the log's lines (newline-terminated) and LogRecords their number.
	Log        string `json:"log_sha256"`
	LogRecords int    `json:"log_records"`
	// ServeArgs are the old build's serve flags, addresses and ports left out.
	ServeArgs []string `json:"serve_args"`
	// Families are the KPI families the layout's build had (its windows/kpi table).
	Families []string `json:"families"`
	// Applied are the next offsets stored in each partition's meta when the build was
	// SIGKILLed: the records below them were applied. LogEnd is where the log ends.
	Applied        offsets `json:"applied"`
	AppliedRecords int64   `json:"applied_records"`
	LogEnd         offsets `json:"log_end"`
	// StreamTime is the stored <prefix>:streamtime at the kill, RFC 3339.
	StreamTime string `json:"stream_time"`
	// WholeLog is how the same build did on the whole log (a separate run to the end,
	// compared with today's recompute over the families it has): "exact", or the
	// differences.
	WholeLog []string `json:"whole_log"`
	// DumpFile names the dump: redis.json or redis.json.gz.
	DumpFile string `json:"dump_file"`
}

func fixtureDir(name string) string { return filepath.Join(testdata, name) }

// loadFixture reads testdata/layoutN: its meta and its dump.
func loadFixture(t testing.TB, name string) (fixtureMeta, redisDump) {
	t.Helper()
	dir := fixtureDir(name)
	var m fixtureMeta
	b, err := os.ReadFile(filepath.Join(dir, "fixture.json"))
	if err != nil {
		t.Fatalf("fixture %s: %v (made by TestMakeFixtures; see testdata/README.md)", name, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s/fixture.json: %v", dir, err)
	}
	b, err = readMaybeGzip(filepath.Join(dir, m.DumpFile))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	var d redisDump
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s/%s: %v", dir, m.DumpFile, err)
	}
	return m, d
}

// encodeDump renders a dump as indented JSON, one field per line; field names must be text.
func encodeDump(d redisDump) ([]byte, error) {
	for _, k := range d.Keys {
		for _, f := range k.Fields {
			if !utf8.ValidString(f.Name) {
				return nil, fmt.Errorf("key %s: field name %q is not UTF-8: the dump format keeps names as text", k.Key, f.Name)
			}
		}
	}
	return json.MarshalIndent(d, "", " ")
}

// ---- builds ----

// repoRoot is the module's root directory (tests run in the package's directory).
func repoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatalf("not inside a Go module")
	}
	return filepath.Dir(gomod)
}

// fullCommit resolves commit in the repository's history; it fails the test, saying what
// to do, when the history is not there (a shallow clone).
func fullCommit(t testing.TB, commit string) string {
	t.Helper()
	sha, err := resolveCommit(t, commit)
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// requireCommit is fullCommit for a test of make test: without the history it fails under
// CI and is skipped loudly elsewhere, as testenv does for a missing tool.
func requireCommit(t testing.TB, commit string) string {
	t.Helper()
	sha, err := resolveCommit(t, commit)
	if err == nil {
		return sha
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%v; CI is set: CI must run this test", err)
	}
	t.Skipf("SKIPPING: %v", err)
	return ""
}

func resolveCommit(t testing.TB, commit string) (string, error) {
	t.Helper()
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "rev-parse", "--verify", "--quiet", commit+"^{commit}").Output()
	if err != nil {
		shallow, _ := exec.Command("git", "-C", root, "rev-parse", "--is-shallow-repository").Output()
		return "", fmt.Errorf("commit %s is not in the git history of %s (shallow clone: %s): the upgrade tests build earlier commits; run 'git fetch --unshallow'",
			commit, root, strings.TrimSpace(string(shallow)))
	}
	return strings.TrimSpace(string(out)), nil
}

// buildCommit builds ./cmd/cskpi of an earlier commit with scripts/build-commit.sh, once per
// machine: the binary is cached as <os.UserCacheDir>/cskpi-builds/<full sha>/kpiserve (a name
// without "cskpi", like internal/faults' binary, so that nothing ending processes by that
// name ends it mid-test). It returns the binary and how long the build took (0 if cached).
func buildCommit(t testing.TB, commit string) (string, time.Duration) {
	t.Helper()
	sha := fullCommit(t, commit)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "cskpi-builds", sha, "kpiserve")
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return bin, 0
	}
	began := time.Now()
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "build-commit.sh"), sha, bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", commit, err, out)
	}
	return bin, time.Since(began)
}

// familiesOf lists the KPI families of an earlier commit's windows/kpi table.
func familiesOf(t testing.TB, commit string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", repoRoot(t), "show", fullCommit(t, commit)+":windows/kpi/kpi.go").Output()
	if err != nil {
		t.Fatalf("git show %s:windows/kpi/kpi.go: %v", commit, err)
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`"(cskpi_[a-z0-9_]+)"`).FindAllSubmatch(out, -1) {
		seen[string(m[1])] = true
	}
	known := map[string]bool{}
	for _, f := range kpi.Families() {
		known[f.Name] = true
	}
	var fams []string
	for n := range seen {
		if !known[n] {
			t.Fatalf("%s's KPI table has %s, which today's table does not know", commit, n)
		}
		fams = append(fams, n)
	}
	sort.Strings(fams)
	return fams
}

// ---- comparing series ----

// sinceUpgrade says which of today's families a layout with the given families lacks in a
// way the upgrade cannot make up: they count from the upgrade on. A lacking Counter (or
// PerThreshold) family has no stored counts; a lacking Shortfall family is one when its
// base is, and otherwise its base and a zero shortfall (no shop directory here) give it
// whole; a lacking Gauge family is computed from the open state, which every layout kept.
func sinceUpgrade(had []string) map[string]bool {
	has := map[string]bool{}
	for _, n := range had {
		has[n] = true
	}
	out := map[string]bool{}
	for _, f := range kpi.Families() {
		if has[f.Name] {
			continue
		}
		switch f.Kind {
		case kpi.Counter, kpi.PerThreshold:
			out[f.Name] = true
		case kpi.Shortfall:
			if !has[f.Base.Name()] {
				out[f.Name] = true
			}
		}
	}
	return out
}

// trailingGauges are the gauge families computed from stored state of a trailing window
// rather than from the open state: cskpi_agent_buyers_active counts the buyers each agent
// replied to in the last 15 minutes, from the recent replies that layouts 1 and 2 did not
// store. After an upgrade from a layout that lacked one, the family is short until a window
// has passed: its value is compared with the whole log's (every fixture's cut is more than
// the window before the log's end), and cskpi_state_family_since_timestamp_seconds stamps
// it with the upgrade like the families of sinceUpgrade.
var trailingGauges = []kpi.ID{kpi.AgentBuyersActive}

// stampedSince are the families whose since gauge is the upgrade's stream time: those of
// sinceUpgrade, and the trailing gauges the layout lacked.
func stampedSince(had []string) map[string]bool {
	out := sinceUpgrade(had)
	for _, id := range trailingGauges {
		if !slices.Contains(had, id.Name()) {
			out[id.Name()] = true
		}
	}
	return out
}

// unitOf is the exported unit of a family by name.
func unitOf(name string) kpi.Unit {
	for _, f := range kpi.Families() {
		if f.Name == name {
			return f.Unit
		}
	}
	return kpi.Count
}

// scaled is an exported value in the family's kept integer unit (ms, fen, count).
func scaled(u kpi.Unit, v float64) int64 {
	switch u {
	case kpi.Millis:
		return int64(math.Round(v * 1000))
	case kpi.Fen:
		return int64(math.Round(v * 100))
	}
	return int64(math.Round(v))
}
