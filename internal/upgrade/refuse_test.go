package upgrade_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// How today's build says that it refuses a partition's stored state (issue 19 §3), in one
// place so that a change of wording is one edit here.
const (
	// refusedMetric{partition="N",reason="..."} is 1 while partition N is refused.
	refusedMetric    = "cskpi_partition_state_refused"
	refusedPartition = "partition"
	refusedReason    = "reason"
	reasonNewer      = "newer"   // written by a newer build (a layout from the future)
	reasonDamaged    = "damaged" // does not decode
	// The one log line per refused partition and cause: its level (logfmt, the default
	// format), a word it contains (matched case-insensitively), and the partition's field.
	refusedLogLevel = "level=ERROR"
	refusedLogWord  = "refused"
	refusedLogField = "partition"
)

// Time bounds of the refusal test.
const (
	// refusalTimeout bounds the wait for the refusal to show in /metrics.
	refusalTimeout = 20 * time.Second
	// refusalObserve is how long the refused state is watched once the refusal shows: no
	// key may change, /-/ready must stay 503, and no second log line may come. It is longer
	// than a retry loop's back-off, so that a refusal repeated on every retry shows.
	refusalObserve = 6 * time.Second
)

// TestRefuseUnreadable: state that today's build cannot read is held unconsumed and never
// written, /-/ready answers 503, a gauge says which partition and why, and one ERROR line
// per partition says so, not one per retry. The layout-5 fixture restored, then changed:
// a layout from the future (every partition's meta v = 99) refuses every partition; a
// damaged bucket of partition 0 refuses that partition alone while the others consume to the
// end of the log.
func TestRefuseUnreadable(t *testing.T) {
	lines := readLog(t)
	_, ends := placeLog(t, lines)
	cases := []struct {
		name    string
		change  func(t *testing.T, d *redisDump)
		refused []int // partitions refused; the others consume to the end
		reason  string
	}{
		{"newer", func(t *testing.T, d *redisDump) {
			for p := range partitions {
				setField(t, d, fmt.Sprintf("%s:{p%d}:meta", keyPrefix, p), "v", []byte("99"))
			}
		}, []int{0, 1, 2, 3}, reasonNewer},
		{"damaged", func(t *testing.T, d *redisDump) {
			key := fmt.Sprintf("%s:{p0}:b", keyPrefix)
			// The newest bucket, in every window when the partition is loaded: whenever
			// the build decodes what, it needs this one. An over-long varint, then text: no
			// varint-based encoding reads it.
			setField(t, d, key, newestBucket(t, d, key), []byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffgarbage"))
		}, []int{0}, reasonDamaged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			_, dump := loadFixture(t, "layout5")
			c.change(t, &dump)
			r := testenv.StartRedis(t, testenv.RedisOptions{})
			rdb := r.Client(t)
			restoreDump(t, rdb, dump)
			k := testenv.StartKafka(t, partitions, topicM, topicO, topicDL)
			publishLog(t, k, lines, ends)
			held := func(key string) bool {
				for _, p := range c.refused {
					if strings.HasPrefix(key, fmt.Sprintf("%s:{p%d}:", keyPrefix, p)) {
						return true
					}
				}
				// Nothing consumes: the shared stream time stays too.
				return len(c.refused) == partitions
			}
			before := filterDump(dump, held)
			p := startToday(t, "today-"+c.name, serveArgs(k.Brokers, r.Addr, "refuse"))

			// The refusal shows.
			shown := true
			testWait(t, refusalTimeout, func() bool {
				m, err := p.Metrics()
				if err != nil {
					return false
				}
				for _, part := range c.refused {
					if m[refusedKey(part, c.reason)] != 1 {
						return false
					}
				}
				return true
			}, func() {
				shown = false
				m, _ := p.Metrics()
				t.Errorf("%s{reason=%q} did not become 1 for partitions %v within %v; it has %v", refusedMetric, c.reason,
					c.refused, refusalTimeout, samplesOf(m, refusedMetric))
			})
			// The others consume to the end of the log.
			var consuming []int
			for part := range partitions {
				if !slices.Contains(c.refused, part) {
					consuming = append(consuming, part)
				}
			}
			if len(consuming) > 0 {
				others := offsets{}
				for _, part := range consuming {
					others[part] = ends[part]
				}
				awaitCaughtUp(t, rdb, others, catchUpTimeout)
			}

			// Watched for a while: nothing written, not ready.
			var changed []string
			var notReady int
			watchUntil := time.Now().Add(refusalObserve)
			for time.Now().Before(watchUntil) && len(changed) == 0 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				now, err := dumpRedis(ctx, rdb)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				changed = diffDumps(before, filterDump(now, held))
				if code := p.Ready(); code != 503 {
					notReady = code
				}
				time.Sleep(250 * time.Millisecond) // sampling interval of a bounded observation
			}
			if len(changed) > 0 {
				t.Errorf("the refused state was written to:\n%s", strings.Join(changed, "\n"))
			}
			if code := p.Ready(); code != 503 || notReady != 0 {
				t.Errorf("/-/ready answered %d at the end (and %d during the %v watched; 0: always 503), want 503 throughout",
					code, notReady, refusalObserve)
			}

			// The gauge: 1 for each refused partition with the reason, nothing else at 1.
			m, err := p.Metrics()
			if err != nil {
				t.Fatal(err)
			}
			var wrong []string
			for part := range partitions {
				want := slices.Contains(c.refused, part)
				for _, reason := range []string{reasonNewer, reasonDamaged} {
					v, ok := m[refusedKey(part, reason)]
					if want && reason == c.reason && v != 1 {
						wrong = append(wrong, fmt.Sprintf("%s = %v (present %v), want 1", refusedKey(part, reason), v, ok))
					}
					if (!want || reason != c.reason) && ok && v != 0 {
						wrong = append(wrong, fmt.Sprintf("%s = %v, want 0 or absent", refusedKey(part, reason), v))
					}
				}
			}
			if len(wrong) > 0 {
				t.Errorf("%s:\n%s", refusedMetric, strings.Join(wrong, "\n"))
			}

			// One ERROR line per refused partition, none for the others.
			log := p.Log()
			for part := range partitions {
				n := countRefusalLines(log, part)
				want := 0
				if slices.Contains(c.refused, part) {
					want = 1
				}
				if n != want {
					t.Errorf("partition %d: %d log lines with %s mentioning %q, want %d", part, n, refusedLogLevel, refusedLogWord, want)
				}
			}
			t.Logf("%s: refusal shown %v; watched %v after it; %v in all", c.name, shown, refusalObserve, time.Since(began).Round(time.Millisecond))
		})
	}
}

func refusedKey(part int, reason string) string {
	return difftest.SampleKey(refusedMetric, refusedPartition, fmt.Sprint(part), refusedReason, reason)
}

// countRefusalLines counts the log lines of the refusal of a partition.
func countRefusalLines(log string, part int) int {
	field := regexp.MustCompile(`(^|\s)` + refusedLogField + `="?` + fmt.Sprint(part) + `"?(\s|$)`)
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, refusedLogLevel) && strings.Contains(strings.ToLower(l), strings.ToLower(refusedLogWord)) && field.MatchString(l) {
			n++
		}
	}
	return n
}

func samplesOf(m map[string]float64, name string) []string {
	var out []string
	for k, v := range m {
		if strings.HasPrefix(k, name+"{") {
			out = append(out, fmt.Sprintf("%s=%v", k, v))
		}
	}
	sort.Strings(out)
	return out
}

// testWait polls cond until it holds or timeout passes, and then calls failed (which
// reports, fatally or not).
func testWait(t *testing.T, timeout time.Duration, cond func() bool, failed func()) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			failed()
			return
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
}

// setField sets a field of a hash of the dump.
func setField(t *testing.T, d *redisDump, key, field string, value []byte) {
	t.Helper()
	for i := range d.Keys {
		if d.Keys[i].Key != key {
			continue
		}
		for j := range d.Keys[i].Fields {
			if d.Keys[i].Fields[j].Name == field {
				d.Keys[i].Fields[j].Value = value
				return
			}
		}
		d.Keys[i].Fields = append(d.Keys[i].Fields, dumpField{field, value})
		return
	}
	t.Fatalf("the dump has no key %s", key)
}

// newestBucket is the bucket field of the hash key with the latest time: the largest minute
// bucket ("m|<minute>"), else the largest of any kind.
func newestBucket(t *testing.T, d *redisDump, key string) string {
	t.Helper()
	best, bestN := "", int64(-1)
	for _, k := range d.Keys {
		if k.Key != key {
			continue
		}
		for _, f := range k.Fields {
			kind, num, ok := strings.Cut(f.Name, "|")
			var n int64
			if _, err := fmt.Sscan(num, &n); !ok || err != nil {
				continue
			}
			if kind == "m" {
				n += 1 << 40 // minute buckets first
			}
			if n > bestN {
				best, bestN = f.Name, n
			}
		}
	}
	if best == "" {
		t.Fatalf("%s has no bucket field", key)
	}
	return best
}

// filterDump keeps the keys for which keep holds.
func filterDump(d redisDump, keep func(key string) bool) redisDump {
	var out redisDump
	for _, k := range d.Keys {
		if keep(k.Key) {
			out.Keys = append(out.Keys, k)
		}
	}
	return out
}
