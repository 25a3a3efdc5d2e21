package event

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestParseTime: the fast path against time.Parse on the shapes it must leave to it.
func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool // parseTimeFast decides it
		ok   bool // time.Parse accepts it within 1678..2261
	}{
		{"2026-11-20T10:00:00Z", true, true},
		{"2026-11-20T10:00:07.250+08:00", true, true},
		{"2026-11-20T10:00:00.123456789-05:30", true, true},
		{"2026-11-20T10:00:00-00:00", true, true},
		{"2024-02-29T00:00:00Z", true, true},
		{"2000-02-29T00:00:00Z", true, true},
		{"1678-01-01T00:00:00+23:59", true, true},
		{"2261-12-31T23:59:59.999999999-23:59", true, true},
		{"1969-12-31T23:59:59.999999999Z", true, true},
		{"2026-11-20T10:00:00.1234567891Z", false, true},    // 10 fraction digits: truncated
		{"2026-11-20T10:00:00,5Z", false, true},             // comma separator
		{"2026-11-20T10:00:00+24:00", false, true},          // time.Parse takes offset hour 24
		{"2026-11-20T10:00:00+23:60", false, true},          // and offset minute 60
		{"2026-11-20T1:00:00Z", false, true},                // and a one-digit hour
		{"2026-11-20T24:00:00Z", false, false},              // but not hour 24
		{"2026-11-20T23:59:60Z", false, false},              // nor a leap second
		{"2023-02-29T00:00:00Z", false, false},              // nor a day the month lacks
		{"1900-02-29T00:00:00Z", false, false},              // century, not leap
		{"2026-04-31T00:00:00Z", false, false},              // April has 30 days
		{"2026-11-20t10:00:00Z", false, false},              // lowercase t
		{"2026-11-20T10:00:00z", false, false},              // lowercase z
		{"2026-11-20T10:00:00.Z", false, false},             // empty fraction
		{"2026-11-20T10:00:00", false, false},               // no zone
		{"2026-11-20T10:00:00+0800", false, false},          // no colon in the offset
		{"0000-01-01T00:00:00Z", false, false},              // year outside 1678..2261
		{"9999-12-31T23:59:59Z", false, false},              // year outside 1678..2261
		{"1677-12-31T23:59:59Z", false, false},              // year outside 1678..2261
		{"2262-01-01T00:00:00Z", false, false},              // year outside 1678..2261
		{"2261-12-31T23:59:59-23:59", true, true},           // 2262 in UTC, still within UnixNano
		{"1678-01-01T00:00:00.000000001+23:59", true, true}, // 1677 in UTC, still within UnixNano
	} {
		t.Run(tc.in, func(t *testing.T) {
			fns, fast := parseTimeFast(tc.in)
			ns, ok := parseTime(tc.in)
			tm, err := time.Parse(time.RFC3339Nano, tc.in)
			want := err == nil && tm.Year() >= 1678 && tm.Year() <= 2261
			if fast != tc.fast || ok != tc.ok || want != tc.ok {
				t.Fatalf("fast %v, ok %v, time.Parse ok %v (%v); want fast %v ok %v", fast, ok, want, err, tc.fast, tc.ok)
			}
			if ok && ns != tm.UnixNano() || fast && fns != tm.UnixNano() {
				t.Errorf("parseTime = %d, fast %d, time.Parse %d", ns, fns, tm.UnixNano())
			}
		})
	}
}

// TestParseTimeEveryDay: the fast path against time.Parse on every day of 1677..2262, each at
// a random time, fraction and offset, with a local zone of +08:00 too (time.Parse gives a time
// whose offset matches the local zone's that zone).
func TestParseTimeEveryDay(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("CST", 8*3600)} {
		time.Local = loc
		t.Run(loc.String(), parseTimeEveryDay)
	}
}

func parseTimeEveryDay(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fracs := []string{"", ".5", ".05", ".123", ".000001", ".999999999", ".10000000", ".1234567"}
	for d := time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2263; d = d.AddDate(0, 0, 1) {
		zone := "Z"
		if o := rng.IntN(24*60*2-1) - (24*60 - 1); rng.IntN(4) == 0 {
			zone = "+08:00"
		} else if o != 0 || rng.IntN(2) == 0 {
			sign := '+'
			if o < 0 {
				sign, o = '-', -o
			}
			zone = fmt.Sprintf("%c%02d:%02d", sign, o/60, o%60)
		}
		s := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d%s%s", d.Year(), d.Month(), d.Day(),
			rng.IntN(24), rng.IntN(60), rng.IntN(60), fracs[rng.IntN(len(fracs))], zone)
		want, wok := oracleParseTime(s)
		got, ok := parseTime(s)
		fast, fok := parseTimeFast(s)
		if ok != wok || got != want || fok && fast != want {
			t.Fatalf("%s: parseTime %d %v, fast %d %v; time.Parse %d %v", s, got, ok, fast, fok, want, wok)
		}
		if y := d.Year(); fok != (y >= 1678 && y <= 2261) {
			t.Fatalf("%s: fast path %v", s, fok)
		}
	}
}
