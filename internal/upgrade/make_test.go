package upgrade_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/internal/testlog"
)

// The generators below write testdata; they run only when asked (testdata/README.md).
const (
	makeLogEnv      = "CSKPI_MAKE_LOG"
	makeFixturesEnv = "CSKPI_MAKE_FIXTURES"
)

// How a fixture's build is stopped: SIGKILLed once the offsets it stored cover killAfter
// of the log more than its first publishSplit (see killRun), and kept only when every
// partition is between partMin and partMax of its own records, the whole between wholeMin
// and wholeMax, and the stored stream time at least cutBeforeEnd before the log's end
// (cskpi_agent_buyers_active looks 15 minutes back).
const (
	publishSplit           = 0.5
	killAfter              = 0.04
	partMin, partMax       = 0.2, 0.9
	wholeMin, wholeMax     = 0.4, 0.7
	cutBeforeEnd           = time.Hour
	fixtureGroup           = "fixture"
	fixtureBatch           = "--batch.size=20"
	maxDumpPlain           = 64 << 10 // a larger dump is written gzipped
	killAttempts           = 3
	oldServeConsumeTimeout = 90 * time.Second
)

// TestMakeLog writes the fixed logs that are missing (testdata/log.jsonl.gz,
// testdata/log-scene.jsonl.gz), once: it never overwrites one, because the fixtures are bound
// to it (their stored offsets name its records).
//
//	CSKPI_MAKE_LOG=1 go test -count=1 -run '^TestMakeLog$' ./internal/upgrade
func TestMakeLog(t *testing.T) {
	if os.Getenv(makeLogEnv) == "" {
		t.Skipf("writes the missing fixed logs; set %s=1 to make them (once: the fixtures are bound to them)", makeLogEnv)
	}
	for path, cfg := range logConfigs {
		if _, err := os.Stat(path); err == nil {
			t.Logf("%s exists: the fixtures are bound to it; delete it and its fixtures to start over", path)
			continue
		}
		lines := testlog.Lines(cfg)
		var kept [][]byte
		dropped := 0
		for _, l := range lines {
			r, err := jsonl.Parse(l)
			if err != nil {
				t.Fatal(err)
			}
			if ev, reason := event.Decode(r.Topic, r.Value); reason == event.OK && ev.TS > cfg.Now.UnixNano() {
				dropped++ // a "future" record: it would not stay one
				continue
			}
			kept = append(kept, l)
		}
		if err := os.MkdirAll(testdata, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writeGzip(path, append(bytes.Join(kept, []byte("\n")), '\n')); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d records (%d future records left out), sha256 of lines %s", path, len(kept), dropped, logDigest(kept))
	}
}

// TestMakeFixtures makes testdata/layoutN with the build of layout N (scripts/build-commit.sh):
//
//	CSKPI_MAKE_FIXTURES=missing go test -count=1 -timeout 30m -v -run '^TestMakeFixtures$' ./internal/upgrade
//	CSKPI_MAKE_FIXTURES=layout3 go test -count=1 -v -run '^TestMakeFixtures$' ./internal/upgrade   # remake layout 3
//
// For each layout it first runs the old build on the whole log and records how it compares
// with today's recompute (fixture.json "whole_log"), then publishes the log to a fresh broker
// and Redis, runs the old build's serve with the event clock and small batches, SIGKILLs it
// mid-log and dumps what it stored.
func TestMakeFixtures(t *testing.T) {
	which := os.Getenv(makeFixturesEnv)
	if which == "" {
		t.Skipf("writes testdata/layoutN; set %s=missing (or =1) to make the missing fixtures, or =layoutN[,layoutM] to remake those", makeFixturesEnv)
	}
	want := map[string]bool{}
	if which != "missing" && which != "1" {
		for _, n := range strings.Split(which, ",") {
			n = strings.TrimSpace(n)
			if !slices.ContainsFunc(layouts, func(f fixture) bool { return f.Name == n }) {
				t.Fatalf("%s=%q: want missing (or 1), or fixtures by name: layout3,layout6-scene", makeFixturesEnv, which)
			}
			want[n] = true
		}
	}
	for _, l := range layouts {
		t.Run(l.Name, func(t *testing.T) {
			if len(want) > 0 && !want[l.Name] {
				t.Skip("not asked for")
			}
			if _, err := os.Stat(filepath.Join(fixtureDir(l.Name), "fixture.json")); err == nil && len(want) == 0 {
				t.Skip("exists; name the fixture to remake it")
			}
			makeFixture(t, l, readLogFile(t, l.Log))
		})
	}
}

func makeFixture(t *testing.T, f fixture, lines [][]byte) {
	layout, commit := f.N, f.Commit
	sha := fullCommit(t, commit)
	bin, took := buildCommit(t, commit)
	t.Logf("layout %d: build of %s: %v (0: cached) -> %s", layout, sha[:12], took.Round(time.Second), bin)
	spots, ends := placeLog(t, lines)
	total := ends.total()
	// No fixture's build read scene: it counts what recompute counts of the log without it.
	stripped := make([][]byte, len(lines))
	for i, l := range lines {
		stripped[i] = stripScene(l)
	}
	ref, want := difftest.Reference(t, stripped)
	fams := familiesOf(t, commit)
	had := map[string]bool{}
	for _, f := range fams {
		had[f] = true
	}
	// A build before the scene label exports each family without it: both scenes together.
	wantHad := map[string]float64{}
	for k, v := range want {
		if had[difftest.FamilyOf(k)] {
			wantHad[sceneLabel.ReplaceAllString(k, "")] += v
		}
	}

	// The whole log through the old build: whether it is exact on this log at all.
	whole := wholeRun(t, bin, layout, lines, ends, wantHad)
	if len(whole) == 0 {
		whole = []string{"exact"}
		t.Logf("layout %d: the old build on the whole log equals today's recompute on all %d series of its %d families", layout, len(wantHad), len(fams))
	} else {
		t.Logf("layout %d: the old build on the whole log differs from today's recompute:\n%s", layout, strings.Join(whole, "\n"))
	}

	var applied offsets
	var dump redisDump
	var stream string
	for attempt := 1; ; attempt++ {
		var ok bool
		applied, dump, stream, ok = killRun(t, bin, layout, attempt, lines, ends)
		if !ok {
			if attempt == killAttempts {
				t.Fatalf("layout %d: no kill landed where it should in %d attempts", layout, attempt)
			}
			continue
		}
		// The cut must leave the last 15 minutes (and more) of stream time to the new build.
		cut := maxTSByPartition(lines, spots, applied)
		var cutMax int64
		for _, ts := range cut {
			cutMax = max(cutMax, ts)
		}
		if cutMax+int64(cutBeforeEnd) > ref.StreamTime {
			t.Logf("attempt %d: the cut's stream time %s is within %v of the log's end %s; again", attempt,
				time.Unix(0, cutMax).UTC(), cutBeforeEnd, time.Unix(0, ref.StreamTime).UTC())
			if attempt == killAttempts {
				t.Fatalf("layout %d: no kill landed early enough in stream time", layout)
			}
			continue
		}
		break
	}

	// The state is the layout's: every partition's meta says so.
	for pn := range partitions {
		key := fmt.Sprintf("%s:{p%d}:meta", keyPrefix, pn)
		var v string
		for _, k := range dump.Keys {
			if k.Key == key {
				for _, f := range k.Fields {
					if f.Name == "v" {
						v = string(f.Value)
					}
				}
			}
		}
		if v != strconv.Itoa(layout) {
			t.Fatalf("%s v = %q: %s did not write layout %d", key, v, commit, layout)
		}
	}

	dir := fixtureDir(f.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	enc, err := encodeDump(dump)
	if err != nil {
		t.Fatal(err)
	}
	dumpFile := "redis.json"
	for _, old := range []string{"redis.json", "redis.json.gz"} {
		_ = os.Remove(filepath.Join(dir, old))
	}
	if len(enc) > maxDumpPlain {
		dumpFile = "redis.json.gz"
		err = writeGzip(filepath.Join(dir, dumpFile), enc)
	} else {
		err = os.WriteFile(filepath.Join(dir, dumpFile), enc, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	meta := fixtureMeta{
		Layout: layout, Commit: sha, Made: time.Now().UTC().Format(time.RFC3339),
		How:        fmt.Sprintf("%s=%s go test -count=1 -v -run '^TestMakeFixtures$' ./internal/upgrade", makeFixturesEnv, f.Name),
		Go:         runtime.Version(),
		Log:        logDigest(lines),
		LogRecords: len(lines),
		ServeArgs:  oldServeFlags(),
		Families:   fams,
		Applied:    applied, AppliedRecords: applied.total(), LogEnd: ends,
		StreamTime: stream,
		WholeLog:   whole,
		DumpFile:   dumpFile,
	}
	mb, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fixture.json"), append(mb, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, dumpFile))
	t.Logf("layout %d: %s/%s (%d bytes, %d keys): %d of %d records applied (%s)", layout, dir, dumpFile, st.Size(),
		len(dump.Keys), applied.total(), total, applied)
}

// sceneLabel is the scene label in a kpi.Series key.
var sceneLabel = regexp.MustCompile(`scene="[a-z]*",`)

// oldServeFlags are the old builds' serve flags besides the addresses: flags every layout's
// build has (--kafka.rebalance-timeout and --kafka.heartbeat-interval came with layout 5).
func oldServeFlags() []string {
	return []string{"--kafka.group=" + fixtureGroup, "--clock=event", fixtureBatch}
}

func startOld(t *testing.T, bin, name string, k *testenv.Kafka, r *testenv.Redis) *difftest.Proc {
	t.Helper()
	args := append([]string{"--kafka.brokers=" + strings.Join(k.Brokers, ","), "--redis.addr=" + r.Addr}, oldServeFlags()...)
	return difftest.StartServe(t, bin, difftest.ServeOptions{Name: name, Args: args})
}

// wholeRun runs the old build on the whole log and returns how its series differ from want
// (nothing when exact).
func wholeRun(t *testing.T, bin string, layout int, lines [][]byte, ends offsets, want map[string]float64) []string {
	t.Helper()
	k := testenv.StartKafka(t, partitions, topicM, topicO, topicDL)
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	publishLog(t, k, lines, ends)
	p := startOld(t, bin, fmt.Sprintf("layout%d-whole", layout), k, r)
	awaitOffsets(t, r.Client(t), ends, oldServeConsumeTimeout, "the old build on the whole log")
	var diff []string
	// Once the offsets are stored the mirror has the records; a few scrapes let a scrape
	// that raced the last commit settle.
	settle := time.Now().Add(3 * time.Second)
	for {
		b, err := p.Scrape()
		if err == nil {
			got, _ := difftest.KPISeries(t, b)
			if diff = difftest.Diff(got, want, 40); len(diff) == 0 || time.Now().After(settle) {
				break
			}
		} else if time.Now().After(settle) {
			t.Fatalf("scraping the old build: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
	p.Kill()
	return diff
}

// killRun runs the old build on the log and SIGKILLs it mid-log; ok says the kill landed
// inside the bounds. The log's few conversations make partitions of unequal size, which
// a consumer reads at about the same pace, so a kill on the whole log's progress would find
// the small partitions done: the first publishSplit of the log is published and applied
// first, then the rest, and the kill lands killAfter of the log later, mid-consumption in
// every partition.
func killRun(t *testing.T, bin string, layout, attempt int, lines [][]byte, ends offsets) (offsets, redisDump, string, bool) {
	t.Helper()
	k := testenv.StartKafka(t, partitions, topicM, topicO, topicDL)
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	rdb := r.Client(t)
	split := int(float64(len(lines)) * publishSplit)
	_, firstEnds := placeLog(t, lines[:split])
	difftest.Publish(t, k.Brokers, nil, lines[:split])
	p := startOld(t, bin, fmt.Sprintf("layout%d-kill%d", layout, attempt), k, r)
	awaitOffsets(t, rdb, firstEnds, oldServeConsumeTimeout, "the old build on the first part of the log")
	difftest.Publish(t, k.Brokers, nil, lines[split:])
	if got := brokerEnds(t, k.Brokers); got.String() != ends.String() {
		t.Fatalf("the published log ends at %v, not at %v", got, ends)
	}
	total := ends.total()
	target := firstEnds.total() + int64(float64(total)*killAfter)
	deadline := time.Now().Add(oldServeConsumeTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got, err := storedOffsets(ctx, rdb)
		cancel()
		if err == nil && got.total() >= target {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old build did not apply %d records within %v (stored %v)", target, oldServeConsumeTimeout, got)
		}
		if !p.Alive() {
			t.Fatalf("the old build exited: %v", p.ExitErr())
		}
		time.Sleep(2 * time.Millisecond) // a tight poll: the kill should land close to the target
	}
	p.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	applied, err := storedOffsets(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	frac := float64(applied.total()) / float64(total)
	ok := frac >= wholeMin && frac <= wholeMax
	for pn := range partitions {
		var n, end int64
		for _, topic := range []string{topicM, topicO} {
			n += applied[pn][topic]
			end += ends[pn][topic]
		}
		if f := float64(n) / float64(end); f < partMin || f > partMax {
			ok = false
		}
	}
	t.Logf("attempt %d: killed at %d of %d records (%.0f%%): %v", attempt, applied.total(), total, 100*frac, applied)
	if !ok {
		return nil, redisDump{}, "", false
	}
	d, err := dumpRedis(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	var stream string
	for _, key := range d.Keys {
		if key.Key == keyPrefix+":streamtime" {
			ns, err := strconv.ParseInt(string(key.Value), 10, 64)
			if err != nil {
				t.Fatalf("streamtime %q: %v", key.Value, err)
			}
			stream = time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
		}
	}
	if !slices.ContainsFunc(d.Keys, func(k dumpKey) bool { return strings.HasSuffix(k.Key, ":meta") }) {
		t.Fatalf("the dump has no partition meta")
	}
	return applied, d, stream, true
}
