package difftest

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/windows/kpi"
)

// SumInstances combines the KPI series of several instances the way the recording rules
// do: `sum without (instance)`, and `max` for cskpi_waiting_oldest_seconds. Values are
// added as the decimals the expositions spell, exactly, and rounded once at the end, so
// that splitting a sum of yuan across instances does not itself cost a float rounding.
func SumInstances(series ...map[string]float64) map[string]float64 {
	sums := map[string]*big.Rat{}
	out := map[string]float64{}
	for _, s := range series {
		for k, v := range s {
			if strings.HasPrefix(k, kpi.WaitingOldest.Name()+"{") {
				if cur, ok := out[k]; !ok || v > cur {
					out[k] = v
				}
				continue
			}
			r, ok := new(big.Rat).SetString(strconv.FormatFloat(v, 'g', -1, 64))
			if !ok {
				panic(fmt.Sprintf("unparsable value %v", v))
			}
			if sums[k] == nil {
				sums[k] = new(big.Rat)
			}
			sums[k].Add(sums[k], r)
		}
	}
	for k, r := range sums {
		out[k], _ = r.Float64()
	}
	return out
}

// AwaitSumMatch polls every instance until the sum of their KPI series equals want, or
// fails with the difference, and returns each instance's health series of that scrape.
// The series of a family in partial (by name) are held to at most want's instead: a
// family that an older build in the group did not count (internal/upgrade).
func AwaitSumMatch(t testing.TB, procs []*Proc, want map[string]float64, partial map[string]bool, timeout time.Duration) (health []map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []string
	var lastErr error
	for time.Now().Before(deadline) {
		var parts []map[string]float64
		health = health[:0]
		lastErr = nil
		for _, p := range procs {
			b, err := p.Scrape()
			if err != nil {
				lastErr = err
				break
			}
			k, h, err := ParseKPI(b)
			if err != nil {
				lastErr = err
				break
			}
			parts = append(parts, k)
			health = append(health, h)
		}
		if lastErr == nil {
			got, exact := SumInstances(parts...), map[string]float64{}
			last = nil
			for k, v := range got {
				if partial[FamilyOf(k)] {
					if w := want[k]; v > w*(1+1e-12) {
						last = append(last, fmt.Sprintf("%s: serve=%v above recompute=%v", k, v, w))
					}
					delete(got, k)
				}
			}
			for k, v := range want {
				if !partial[FamilyOf(k)] {
					exact[k] = v
				}
			}
			// One ulp per instance: see DiffWithin.
			last = append(last, DiffWithin(got, exact, 40, float64(len(parts))*0x1p-52)...)
			if len(last) == 0 {
				return health
			}
		}
		time.Sleep(100 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
	t.Fatalf("the sum over %d instances did not match recompute (%d series); difference:\n%s\nlast error: %v",
		len(procs), len(want), strings.Join(last, "\n"), lastErr)
	return nil
}

// FamilyOf is the family name of a series key (kpi.Series.Key).
func FamilyOf(key string) string {
	name, _, _ := strings.Cut(key, "{")
	return name
}

// CountLines counts the lines of log containing every one of subs.
func CountLines(log string, subs ...string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if all {
			n++
		}
	}
	return n
}
