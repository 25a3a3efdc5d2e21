package upgrade_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/reference"
)

// The names of what today's build exports about stored state (issue 19), in one place so
// that a change of wording is one edit here.
const (
	// sinceMetric{family="<metric name>"}: the stream time (Unix seconds) from which a
	// family counts, for a family the stored state lacked; 0 for a family it had.
	sinceMetric = "cskpi_state_family_since_timestamp_seconds"
	sinceLabel  = "family"
)

// Time bounds of the upgrade test.
const (
	// catchUpTimeout bounds the wait for today's build to store offsets at the end of the
	// log (about 1 500 records; a second or two on 2 cores). A build that does not catch up
	// is reported, and its series are compared all the same.
	catchUpTimeout = 45 * time.Second
	// settleTimeout is how long scrapes are retried once the offsets are at the end, for a
	// scrape that raced the last commit.
	settleTimeout = 3 * time.Second
)

// TestUpgrade: each layout's fixture, the Redis state its own build stored when SIGKILLed
// mid-log, restored into a real redis-server; today's serve consumes the rest of the same
// log; every series equals recompute on the whole log, but the families the layout lacked
// (counters with nothing stored), which equal what was applied after the upgrade:
// recompute on the whole log minus recompute on the records the fixture had applied, both
// as of the whole log's stream time. cskpi_state_family_since_timestamp_seconds says
// from when those count, and 0 for every other family.
func TestUpgrade(t *testing.T) {
	type fixedLog struct {
		lines [][]byte
		spots []spot
		ends  offsets
		at    time.Time
		end   int64 // its stream time
	}
	logs := map[string]*fixedLog{}
	for _, l := range layouts {
		if logs[l.Log] != nil {
			continue
		}
		fl := &fixedLog{lines: readLogFile(t, l.Log)}
		fl.spots, fl.ends = placeLog(t, fl.lines)
		ref, _ := difftest.Reference(t, fl.lines)
		fl.end, fl.at = ref.StreamTime, time.Unix(0, ref.StreamTime)
		logs[l.Log] = fl
	}
	for _, l := range layouts {
		lines, spots, ends, at := logs[l.Log].lines, logs[l.Log].spots, logs[l.Log].ends, logs[l.Log].at
		fullRef := reference.Result{StreamTime: logs[l.Log].end}
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			meta, dump := loadFixture(t, l.Name)
			if meta.Log != logDigest(lines) || meta.LogEnd.String() != ends.String() {
				t.Fatalf("the fixture was made from another log (sha256 %s, end %v), not %s (sha256 %s, end %v)",
					meta.Log, meta.LogEnd, l.Log, logDigest(lines), ends)
			}
			if !strings.HasPrefix(meta.Commit, l.Commit) || meta.Layout != l.N {
				t.Fatalf("testdata/%s was made by %s (layout %d), not by %s", l.Name, meta.Commit, meta.Layout, l.Commit)
			}

			r := testenv.StartRedis(t, testenv.RedisOptions{})
			rdb := r.Client(t)
			restoreDump(t, rdb, dump)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			applied, err := storedOffsets(ctx, rdb)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if applied.String() != meta.Applied.String() {
				t.Fatalf("the dump's offsets %v are not the fixture's %v", applied, meta.Applied)
			}

			// What the fixture's build had applied, and the expected series. No layout
			// before 7 read scene: it counted the prefix as pre-sale, so the log it saw has
			// no scene where it applied it.
			seen := withoutPrefixScenes(lines, spots, applied)
			_, full := difftest.ReferenceWith(t, seen, reference.Options{At: at})
			prefix := linesBelow(seen, spots, applied)
			_, pre := difftest.ReferenceWith(t, prefix, reference.Options{At: at})
			cut := maxTSByPartition(lines, spots, applied)
			var cutMax int64
			for _, ts := range cut {
				cutMax = max(cutMax, ts)
			}
			if cutMax+int64(15*time.Minute) >= fullRef.StreamTime {
				t.Fatalf("the fixture's cut (stream time %s) is within 15 minutes of the log's end %s: cskpi_agent_buyers_active could not be exact",
					time.Unix(0, cutMax).UTC(), at.UTC())
			}
			since := sinceUpgrade(meta.Families)
			want := expected(full, pre, since)
			if since[kpi.OrdersCreatedPaid24h.Name()] {
				// No build before kept an order's events: after the upgrade an order
				// counts when its creation and its payment both come after it.
				_, after := difftest.ReferenceWith(t, appliedOrdersAfter(t, seen, spots, applied), reference.Options{At: at})
				for k := range want {
					if difftest.FamilyOf(k) == kpi.OrdersCreatedPaid24h.Name() {
						want[k] = after[k]
					}
				}
			}

			if l.Log == sceneLogFile {
				// The log's scenes must bite on both sides of the cut: the prefix had
				// after-sale messages the old build counted as pre-sale, and the rest has
				// after-sale series of its own.
				stripped := 0
				for i, line := range prefix {
					if len(line) != len(linesBelow(lines, spots, applied)[i]) {
						stripped++
					}
				}
				after := 0
				for k, v := range want {
					if strings.Contains(k, `scene="aftersale"`) && v != 0 {
						after++
					}
				}
				if stripped == 0 || after == 0 {
					t.Fatalf("the scene log does not test scenes: %d prefix lines had one, %d after-sale series are not 0", stripped, after)
				}
				t.Logf("%s: %d records with a scene applied by the old build (as pre-sale); %d after-sale series not 0", l.Name, stripped, after)
			}
			k := testenv.StartKafka(t, partitions, topicM, topicO, topicDL)
			publishLog(t, k, lines, ends)
			p := startToday(t, "today-on-"+l.Name, serveArgs(k.Brokers, r.Addr, "upgrade"))
			caughtUp := awaitCaughtUp(t, rdb, ends, catchUpTimeout)
			got, all := scrapeSettled(t, p, want, settleTimeout)

			had := map[string]bool{}
			for _, f := range meta.Families {
				had[f] = true
			}
			classes := []struct {
				what string
				in   func(fam string) bool
			}{
				{"families layout " + fmt.Sprint(l.N) + " had (recompute on the whole log)", func(f string) bool { return had[f] }},
				{"families it lacked that count from the upgrade (recompute on the whole log minus on the applied prefix)", func(f string) bool { return since[f] }},
				{"families it lacked that the upgrade makes whole (gauges of the open state; business-time sums of calendar sums it had)", func(f string) bool { return !had[f] && !since[f] }},
			}
			for _, c := range classes {
				g, w := filterFamilies(got, c.in), filterFamilies(want, c.in)
				if d := difftest.Diff(g, w, 20); len(d) > 0 {
					t.Errorf("%s: %d of %d series differ:\n%s", c.what, countDiff(g, w), len(w), strings.Join(d, "\n"))
				}
			}

			// From when each family counts.
			var sinceLow int64 // the upgrade is after every partition's last applied record
			for _, ts := range cut {
				sinceLow = max(sinceLow, ts)
			}
			checkSince(t, all, stampedSince(meta.Families), float64(sinceLow/int64(time.Second)), float64(fullRef.StreamTime)/1e9)

			t.Logf("%s (%s): %d of %d records applied by the old build, the rest by today's in %v; %d series compared (%d counting from the upgrade); %v in all",
				l.Name, meta.Commit[:7], applied.total(), ends.total(), caughtUp.Round(time.Millisecond), len(want),
				len(filterFamilies(want, func(f string) bool { return since[f] })), time.Since(began).Round(time.Millisecond))
		})
	}
}

// withoutPrefixScenes is the log with the scene field removed from the lines below off:
// what a build that did not read scene counted of them.
func withoutPrefixScenes(lines [][]byte, spots []spot, off offsets) [][]byte {
	out := make([][]byte, len(lines))
	for i, s := range spots {
		out[i] = lines[i]
		if s.off < off[s.part][s.topic] {
			out[i] = stripScene(lines[i])
		}
	}
	return out
}

// sceneField matches a scene member of a log line with a plain value (the test logs write
// no other), and the comma that joins it to the next or the previous member.
var sceneField = regexp.MustCompile(`"scene"\s*:\s*("[^"\\]*"|[-0-9.eE+]+|true|false|null|\{[^{}]*\}|\[[^\[\]]*\])\s*,|,\s*"scene"\s*:\s*("[^"\\]*"|[-0-9.eE+]+|true|false|null|\{[^{}]*\}|\[[^\[\]]*\])`)

func stripScene(line []byte) []byte {
	return sceneField.ReplaceAll(line, nil)
}

// appliedOrdersAfter are the order_created and order_paid lines at or above off that the
// whole log applies (judged in log order, as recompute does), in log order.
func appliedOrdersAfter(t testing.TB, lines [][]byte, spots []spot, off offsets) [][]byte {
	t.Helper()
	j, err := reference.NewJudge(reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i, l := range lines {
		r, err := jsonl.Parse(l)
		if err != nil {
			t.Fatalf("log line %d: %v", i+1, err)
		}
		outcome, _, ev := j.Judge(r)
		if outcome == reference.Applied && spots[i].off >= off[spots[i].part][spots[i].topic] &&
			(ev.Kind == event.OrderCreated || ev.Kind == event.OrderPaid) {
			out = append(out, l)
		}
	}
	return out
}

// expected is the whole log's series, but for the families in since: whole minus prefix,
// subtracted in the family's integer unit so that no float rounding enters.
func expected(full, pre map[string]float64, since map[string]bool) map[string]float64 {
	want := map[string]float64{}
	for k, v := range full {
		fam := difftest.FamilyOf(k)
		if !since[fam] {
			want[k] = v
			continue
		}
		u := unitOf(fam)
		want[k] = u.Export(scaled(u, v) - scaled(u, pre[k]))
	}
	return want
}

func filterFamilies(m map[string]float64, in func(string) bool) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if in(difftest.FamilyOf(k)) {
			out[k] = v
		}
	}
	return out
}

func countDiff(got, want map[string]float64) int {
	n := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			n++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			n++
		}
	}
	return n
}

// awaitCaughtUp waits until the stored offsets reach ends and returns how long that took;
// when they do not within timeout it reports an error and returns, so that the series are
// compared all the same.
func awaitCaughtUp(t *testing.T, rdb *redis.Client, ends offsets, timeout time.Duration) time.Duration {
	t.Helper()
	last, took, ok := pollOffsets(rdb, ends, timeout)
	if !ok {
		t.Errorf("today's build did not catch up within %v: stored offsets %v, end of the log %v", timeout, last, ends)
	}
	return took
}

// scrapeSettled scrapes p until its KPI series equal want or settle passes, and returns
// the KPI series and every sample of the last scrape.
func scrapeSettled(t *testing.T, p *difftest.Proc, want map[string]float64, settle time.Duration) (map[string]float64, map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		b, err := p.Scrape()
		if err == nil {
			got, _, perr := difftest.ParseKPI(b)
			all, aerr := difftest.ParseAll(b)
			if perr == nil && aerr == nil && (reflect.DeepEqual(got, want) || time.Now().After(deadline)) {
				return got, all
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("scraping %s: %v", p.Name, err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

// checkSince checks cskpi_state_family_since_timestamp_seconds for every family of today's
// table: for a family in since (stampedSince) a stream time in [low, high] seconds (the
// upgrade: after the old build's last applied record, at most the log's end), 0 for every
// other family.
func checkSince(t *testing.T, all map[string]float64, since map[string]bool, low, high float64) {
	t.Helper()
	var bad []string
	for _, f := range kpi.Families() {
		key := difftest.SampleKey(sinceMetric, sinceLabel, f.Name)
		v, ok := all[key]
		switch {
		case !ok:
			bad = append(bad, key+": absent")
		case since[f.Name] && (v < low || v > high || math.IsNaN(v)):
			bad = append(bad, fmt.Sprintf("%s = %s, want the upgrade's stream time, in [%s, %s]", key,
				fmtUnix(v), fmtUnix(low), fmtUnix(high)))
		case !since[f.Name] && v != 0:
			bad = append(bad, fmt.Sprintf("%s = %s, want 0: the stored state had it", key, fmtUnix(v)))
		}
	}
	var extra []string
	for k := range all {
		if strings.HasPrefix(k, sinceMetric+"{") {
			known := false
			for _, f := range kpi.Families() {
				known = known || k == difftest.SampleKey(sinceMetric, sinceLabel, f.Name)
			}
			if !known {
				extra = append(extra, k)
			}
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		bad = append(bad, k+": not a family of today's table")
	}
	allAbsent := len(bad) == len(kpi.Families()) && len(extra) == 0
	for _, b := range bad {
		allAbsent = allAbsent && strings.HasSuffix(b, ": absent")
	}
	if n := len(kpi.Families()); allAbsent {
		t.Errorf("%s: absent for all %d families (%d of them stamped with the upgrade)", sinceMetric, n, len(since))
	} else if len(bad) > 0 {
		t.Errorf("%s (%d families stamped with the upgrade):\n%s", sinceMetric, len(since), strings.Join(bad, "\n"))
	}
}

func fmtUnix(s float64) string {
	if s == 0 {
		return "0"
	}
	return fmt.Sprintf("%.3f (%s)", s, time.Unix(0, int64(s*1e9)).UTC().Format(time.RFC3339))
}
