package windows

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
)

func TestBucketIndexes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ts         int64
		minute, hr int64
	}{
		{"epoch", 0, 0, 0},
		{"last ns of first minute", int64(time.Minute) - 1, 0, 0},
		{"first ns of second minute", int64(time.Minute), 1, 0},
		{"one ns before epoch", -1, -1, -1},
		{"one hour", int64(time.Hour), 60, 1},
		{"minus one minute exactly", -int64(time.Minute), -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MinuteOf(tc.ts); got != tc.minute {
				t.Errorf("MinuteOf = %d, want %d", got, tc.minute)
			}
			if got := HourOf(tc.ts); got != tc.hr {
				t.Errorf("HourOf = %d, want %d", got, tc.hr)
			}
		})
	}
}

func TestSpansAt(t *testing.T) {
	a := time.Date(2026, 11, 20, 10, 30, 15, 0, time.UTC).UnixNano()
	sp := SpansAt(a)
	m, h := MinuteOf(a), HourOf(a)
	w15m, w24h, w28d := mustWindow(kpi.W15m), mustWindow(kpi.W24h), mustWindow(kpi.W28d)
	for _, tc := range []struct {
		name string
		span Span
		idx  int64
		in   bool
	}{
		{"15m holds A's minute", sp[w15m], m, true},
		{"15m holds 14 minutes before", sp[w15m], m - 14, true},
		{"15m excludes 15 minutes before", sp[w15m], m - 15, false},
		{"15m excludes the next minute", sp[w15m], m + 1, false},
		{"24h holds 1439 minutes before", sp[w24h], m - 1439, true},
		{"24h excludes 1440 minutes before", sp[w24h], m - 1440, false},
		{"28d holds 671 hours before", sp[w28d], h - 671, true},
		{"28d excludes 672 hours before", sp[w28d], h - 672, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.span.Has(tc.idx); got != tc.in {
				t.Errorf("Has(%d) = %v, want %v (span %+v)", tc.idx, got, tc.in, tc.span)
			}
		})
	}
}

// TestWindowTable: the buckets' windows are kpi.Windows(), row by row, and each family's
// windows resolve to the rows it names.
func TestWindowTable(t *testing.T) {
	res := map[time.Duration]byte{time.Minute: resMinute, time.Hour: resHour}
	for i, w := range kpi.Windows() {
		if got := windowTable[i]; got.name != w.Name || got.res != res[w.Bucket] || got.n != w.Buckets {
			t.Errorf("windowTable[%d] = %+v, want %+v", i, got, w)
		}
	}
	for _, f := range kpi.Families() {
		var names []string
		for _, w := range familyWindows[f.ID] {
			names = append(names, windowTable[w].name)
		}
		if fmt.Sprint(names) != fmt.Sprint(f.Windows) {
			t.Errorf("%s: windows %v, want %v", f.Name, names, f.Windows)
		}
	}
}

// TestKeptFrom: buckets are kept from the first minute of the 24h window and the first hour
// of the 28d window, the longest window of each resolution.
func TestKeptFrom(t *testing.T) {
	a := time.Date(2026, 11, 20, 10, 30, 15, 0, time.UTC).UnixNano()
	minute, hour := SpansAt(a).keptFrom()
	if want := MinuteOf(a) - 1439; minute != want {
		t.Errorf("minutes kept from %d, want %d", minute, want)
	}
	if want := HourOf(a) - 671; hour != want {
		t.Errorf("hours kept from %d, want %d", hour, want)
	}
}

func TestMsBetween(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to int64
		want     int64
	}{
		{"floors", 0, 1_999_999, 1},
		{"never below zero", 10, 5, 0},
		{"exact", 0, int64(15 * time.Second), 15000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := msBetween(tc.from, tc.to); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestLocalDate(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	midnight := time.Date(2026, 11, 20, 16, 0, 0, 0, time.UTC).UnixNano() // 00:00 on the 21st in Shanghai
	if a, b := localDate(midnight-1, sh), localDate(midnight, sh); b != a+1 {
		t.Errorf("local midnight: dates %d and %d, want consecutive", a, b)
	}
	if a, b := localDate(midnight-1, time.UTC), localDate(midnight, time.UTC); a != b {
		t.Errorf("UTC: 16:00 is not midnight, got %d and %d", a, b)
	}
}

// The cached local day must agree with the direct computation, also across DST changes
// that happen at midnight (Sao Paulo until 2019) and in zones with half-hour offsets.
func TestLocalDateCacheAgrees(t *testing.T) {
	for _, zone := range []string{"Asia/Shanghai", "America/Sao_Paulo", "Asia/Kolkata", "UTC"} {
		t.Run(zone, func(t *testing.T) {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Fatal(err)
			}
			p := NewPartition(0, Config{Location: loc})
			ts := time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC).UnixNano()
			for range 20000 {
				ts += int64(17*time.Minute + 13*time.Second)
				if got, want := p.localDate("s1", ts), localDate(ts, loc); got != want {
					t.Fatalf("%s: cached %d, direct %d", time.Unix(0, ts).In(loc), got, want)
				}
			}
		})
	}
}

// localDate is the day number of ts in loc (days since 1970-01-01 in that zone's calendar),
// computed without the partition's cache.
func localDate(ts int64, loc *time.Location) int32 {
	return dayNumber(time.Unix(0, ts).In(loc).Date())
}

// TestLayoutNamesEveryPosition: stored vectors are read by the names of their positions
// (stored.go), so every position has one name that this build knows.
func TestLayoutNamesEveryPosition(t *testing.T) {
	l := newLayout([]int64{15_000, 180_000})
	if len(l.shop) != l.shopLen || len(l.agent) != l.agentLen {
		t.Fatalf("%d shop names for %d positions, %d agent names for %d", len(l.shop), l.shopLen, len(l.agent), l.agentLen)
	}
	for _, names := range [][]string{l.shop, l.agent} {
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				t.Errorf("slot %q twice", n)
			}
			seen[n] = true
			if err := knownSlot(0, n, familiesByName()); err != nil {
				t.Errorf("slot %q: %v", n, err)
			}
		}
	}
	for _, tc := range []struct {
		at   int
		want string
	}{
		{l.at(kpi.BuyerMessages, event.Presale), "cskpi_buyer_messages{scene=presale}"},
		{l.at(kpi.BuyerMessages, event.Aftersale), "cskpi_buyer_messages{scene=aftersale}"},
		{l.at(kpi.HumanMessages, event.Presale), "cskpi_human_messages"},
		{l.threshold(kpi.ResponsesWithin, event.Presale, 0), "cskpi_responses_within{le_ms=15000;scene=presale}"},
		{l.threshold(kpi.ResponsesWithin, event.Aftersale, 1), "cskpi_responses_within{le_ms=180000;scene=aftersale}"},
		{l.at(kpi.ResponseBusinessTimeSum, event.Aftersale), "cskpi_response_business_time_seconds_sum{shortfall_of=cskpi_response_time_seconds_sum;scene=aftersale}"},
	} {
		if got := l.shop[tc.at]; got != tc.want {
			t.Errorf("slot %d is named %q, want %q", tc.at, got, tc.want)
		}
	}
	for _, n := range []string{"cskpi_buyer_messages{scene=presale}", "cskpi_responses_within{le_ms=15000;scene=presale}",
		"cskpi_response_business_time_seconds_sum{shortfall_of=cskpi_response_time_seconds_sum;scene=aftersale}"} {
		plain, _ := withoutScene(n)
		if err := knownSlot(0, plain, familiesByName()); err != nil || strings.Contains(plain, "scene") || strings.Contains(plain, ";") {
			t.Errorf("withoutScene(%q) = %q: %v", n, plain, err)
		}
	}
	if l.shop[l.shopActivity] != activitySlot || l.agent[l.agentActivity] != activitySlot {
		t.Errorf("activity slots named %q, %q", l.shop[l.shopActivity], l.agent[l.agentActivity])
	}
}
