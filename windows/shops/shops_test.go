package shops

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func parse(t *testing.T, yaml string) *Directory {
	t.Helper()
	d, err := ParseDirectory([]byte(yaml), zone(t, "Asia/Shanghai"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const weekdayShops = `
shops:
  sh:
    name: 上海旗舰店
    team: east
    business_hours:
      mon: ["09:00-18:00"]
      tue: ["09:00-18:00"]
      wed: ["09:00-18:00"]
      thu: ["09:00-18:00"]
      fri: ["09:00-12:00", "13:00-18:00"]
    closed: ["2026-10-01"]
    response_target: 30s
    aftersale_response_target: 5m
  ny:
    timezone: America/New_York
    business_hours:
      sun: ["00:00-24:00"]
      mon: ["01:30-02:30", "09:00-17:00"]
  always:
    name: Always open
`

func TestBusinessTime(t *testing.T) {
	d := parse(t, weekdayShops)
	sh, ny := zone(t, "Asia/Shanghai"), zone(t, "America/New_York")
	at := func(loc *time.Location, s string) int64 {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	for _, tc := range []struct {
		name     string
		shop     string
		loc      *time.Location
		from, to string
		want     time.Duration
	}{
		{"inside the hours", "sh", sh, "2026-11-24 10:00", "2026-11-24 10:20", 20 * time.Minute},
		{"before opening", "sh", sh, "2026-11-24 07:00", "2026-11-24 09:30", 30 * time.Minute},
		{"across midnight", "sh", sh, "2026-11-24 17:30", "2026-11-25 09:15", 45 * time.Minute},
		{"lunch break on Friday", "sh", sh, "2026-11-27 11:00", "2026-11-27 14:00", 2 * time.Hour},
		{"over the weekend", "sh", sh, "2026-11-27 17:00", "2026-11-30 10:00", 2 * time.Hour},
		{"a closed date", "sh", sh, "2026-09-30 17:00", "2026-10-02 10:00", 2 * time.Hour},
		{"all closed", "sh", sh, "2026-11-28 00:00", "2026-11-29 23:59", 0},
		{"always open", "always", sh, "2026-11-28 00:00", "2026-11-29 00:00", 24 * time.Hour},
		{"not in the directory", "other", sh, "2026-11-28 00:00", "2026-11-28 05:00", 5 * time.Hour},
		// 2026-11-01: clocks go back at 02:00 EDT. Sunday 00:00-24:00 lasts 25 hours.
		{"a 25-hour Sunday", "ny", ny, "2026-11-01 00:00", "2026-11-02 00:00", 25 * time.Hour},
		// 2026-03-08: clocks go forward at 02:00 EST. Sunday lasts 23 hours.
		{"a 23-hour Sunday", "ny", ny, "2026-03-08 00:00", "2026-03-09 00:00", 23 * time.Hour},
		// 2027-03-14 is a Sunday; Monday 2027-03-15 01:30-02:30 is an ordinary hour.
		{"a DST zone on an ordinary night", "ny", ny, "2027-03-15 01:00", "2027-03-15 03:00", time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := d.Shop(tc.shop).BusinessNs(at(tc.loc, tc.from), at(tc.loc, tc.to))
			if time.Duration(got) != tc.want {
				t.Errorf("business time %v, want %v", time.Duration(got), tc.want)
			}
		})
	}
}

// bruteForce counts the minutes of [from, to) (minute-aligned) whose start the shop's wall
// clock shows inside its hours: the definition, one minute at a time.
func bruteForce(s *Shop, from, to int64) int64 {
	var n int64
	for t := from; t < to; t += int64(time.Minute) {
		tm := time.Unix(0, t).In(s.Location)
		if s.Closed[tm.Format(time.DateOnly)] {
			continue
		}
		m := tm.Hour()*60 + tm.Minute()
		if s.Hours == nil {
			n++
			continue
		}
		for _, sp := range s.Hours[tm.Weekday()] {
			if m >= sp.from && m < sp.to {
				n++
				break
			}
		}
	}
	return n * int64(time.Minute)
}

// TestBusinessTimeProperties: against the brute force on random shops and intervals around
// DST transitions in three zones; never more than calendar time; all of it when always open.
func TestBusinessTimeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	days := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	for _, zoneName := range []string{"America/New_York", "Europe/Berlin", "Asia/Shanghai", "Australia/Lord_Howe"} {
		loc := zone(t, zoneName)
		for _, around := range []string{"2026-03-08", "2026-03-29", "2026-04-05", "2026-10-04", "2026-10-25", "2026-11-01", "2026-07-15"} {
			base, _ := time.ParseInLocation(time.DateOnly, around, loc)
			for range 30 {
				var b strings.Builder
				fmt.Fprintf(&b, "shops:\n  s:\n    timezone: %s\n", zoneName)
				if rng.IntN(4) > 0 {
					b.WriteString("    business_hours:\n")
					for _, day := range days {
						if rng.IntN(3) == 0 {
							continue
						}
						from := rng.IntN(20 * 60)
						to := from + 1 + rng.IntN(24*60-from)
						fmt.Fprintf(&b, "      %s: [\"%02d:%02d-%s\"]\n", day, from/60, from%60, hhmm(to))
					}
				}
				if rng.IntN(3) == 0 {
					fmt.Fprintf(&b, "    closed: [%q]\n", base.AddDate(0, 0, rng.IntN(3)-1).Format(time.DateOnly))
				}
				d, err := ParseDirectory([]byte(b.String()), loc)
				if err != nil {
					t.Fatalf("%v\n%s", err, b.String())
				}
				s := d.Shop("s")
				from := base.Add(time.Duration(rng.IntN(48*60)-24*60) * time.Minute).UnixNano()
				to := from + int64(rng.IntN(60*60))*int64(time.Minute)
				got, want := s.BusinessNs(from, to), bruteForce(s, from, to)
				if got != want {
					t.Fatalf("%s %s: [%v, %v): business %v, brute force %v\n%s", zoneName, around,
						time.Unix(0, from).In(loc), time.Unix(0, to).In(loc), time.Duration(got), time.Duration(want), b.String())
				}
				// Off the minute grid too: never more than calendar time.
				off := rng.Int64N(int64(time.Minute))
				if g := s.BusinessNs(from+off, to); g > to-from-off || g < 0 {
					t.Fatalf("business %v of a %v interval", time.Duration(g), time.Duration(to-from-off))
				}
				if s.AlwaysOpen() && got != to-from {
					t.Fatalf("an always-open shop: %v of %v", time.Duration(got), time.Duration(to-from))
				}
			}
		}
	}
}

func hhmm(m int) string {
	if m == 24*60 {
		return "24:00"
	}
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}

func TestDirectoryRefusesInvalidFiles(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field", "shops:\n  s:\n    nmae: x\n", "nmae"},
		{"bad zone", "shops:\n  s:\n    timezone: Mars/Olympus\n", "shop s: timezone"},
		{"bad weekday", "shops:\n  s:\n    business_hours:\n      funday: [\"09:00-10:00\"]\n", "not a weekday"},
		{"bad range", "shops:\n  s:\n    business_hours:\n      mon: [\"9-17\"]\n", "not a range"},
		{"backwards range", "shops:\n  s:\n    business_hours:\n      mon: [\"18:00-09:00\"]\n", "ends before it starts"},
		{"overlap", "shops:\n  s:\n    business_hours:\n      mon: [\"09:00-12:00\", \"11:00-13:00\"]\n", "overlap"},
		{"bad date", "shops:\n  s:\n    closed: [\"2026-13-01\"]\n", "not a date"},
		{"bad target", "shops:\n  s:\n    response_target: fast\n", "response_target"},
		{"bad after-sale target", "shops:\n  s:\n    aftersale_response_target: slow\n", "shop s: aftersale_response_target \"slow\""},
		{"zero after-sale target", "shops:\n  s:\n    aftersale_response_target: 0s\n", "aftersale_response_target \"0s\" is not a positive duration"},
		{"negative after-sale target", "shops:\n  s:\n    aftersale_response_target: -3m\n", "aftersale_response_target"},
		{"bad shop id", "shops:\n  \"a b\":\n    name: x\n", "shop id"},
		{"not yaml", "shops: [\n", "shop directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDirectory([]byte(tc.yaml), time.UTC)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	d, err := ParseDirectory(nil, time.UTC)
	if err != nil || len(d.Shops) != 0 {
		t.Errorf("empty file: %v %v", d, err)
	}
	d = parse(t, weekdayShops)
	if s := d.Shop("sh"); s.Name != "上海旗舰店" || s.Team != "east" || s.ResponseTarget != 30*time.Second || s.AftersaleResponseTarget != 5*time.Minute {
		t.Errorf("shop sh: %+v", s)
	}
	if s := d.Shop("ny"); s.ResponseTarget != DefaultResponseTarget || s.AftersaleResponseTarget != DefaultAftersaleResponseTarget ||
		s.Location.String() != "America/New_York" {
		t.Errorf("shop ny: %+v", s)
	}
}

// TestDirectoryErrorsSayWhere: an error names the file, the line, the shop and the key as
// the file spells them, and is the first in the file's order, never a Go type.
func TestDirectoryErrorsSayWhere(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"shops:\n  shop-001:\n    name: a\n  shop-002:\n    nmae: 杭州旗舰店\n",
			`shops.yml: line 5: shop shop-002: unknown field "nmae" (did you mean "name"?)`},
		{"shops:\n  s:\n    team: east\n    respons_target: 20s\n",
			`shops.yml: line 4: shop s: unknown field "respons_target" (did you mean "response_target"?)`},
		{"shops:\n  s:\n    colour: red\n",
			`shops.yml: line 3: shop s: unknown field "colour" (known: name, team, timezone, business_hours, closed, response_target, aftersale_response_target)`},
		{"shop:\n  s: {}\n", `shops.yml: line 1: unknown field "shop" (did you mean "shops"?)`},
		{"shops:\n  s:\n    timezone: Mars/Olympus\n", `shops.yml: line 3: shop s: timezone "Mars/Olympus": unknown time zone Mars/Olympus`},
		{"shops:\n  s:\n    business_hours:\n      mon: \"09:00-10:00\"\n",
			`shops.yml: line 4: shop s: business_hours mon: want a list, such as ["09:00-18:00"], got "09:00-10:00"`},
		{"shops:\n  s:\n    business_hours:\n      mon: [\"09:00-12:00\"]\n      Mon: [\"13:00-14:00\"]\n",
			`shops.yml: line 5: shop s: business_hours: Mon given twice`},
		{"shops:\n  s:\n    closed: [\"2026-12-24\", \"2026-13-01\"]\n", `shops.yml: line 3: shop s: closed: "2026-13-01" is not a date (YYYY-MM-DD)`},
		{"shops:\n  s:\n    response_target: fast\n", `shops.yml: line 3: shop s: response_target "fast" is not a positive duration (15s, 1m)`},
		{"shops:\n  s: {name: a}\n  s: {name: b}\n", `shops.yml: line 3: shop s given twice (first at line 2)`},
		{"shops:\n  s:\n    name: a\n    name: b\n", `shops.yml: line 4: shop s: field "name" given twice (first at line 3)`},
		{"shops:\n  s: [1]\n", `shops.yml: line 2: shop s: want a mapping of fields (name, team, timezone, business_hours, closed, response_target, aftersale_response_target), got a list`},
		{"shops:\n  s:\n    name: [1]\n", `shops.yml: line 3: shop s: name: want a single value, got a list`},
		{"- a\n", `shops.yml: line 1: want a mapping with the key shops, got a list`},
		{"shops: [\n", `shops.yml: line 1: did not find expected node content`},
		// Two faults: the first in the file's order, whatever the map order.
		{"shops:\n  a:\n    timezone: Mars/Olympus\n  b:\n    nmae: x\n", `shops.yml: line 3: shop a: timezone "Mars/Olympus": unknown time zone Mars/Olympus`},
	} {
		for range 5 { // the same error every time
			_, err := Parse("shops.yml", []byte(tc.yaml), time.UTC)
			if err == nil || err.Error() != tc.want {
				t.Errorf("%q:\n got %v\nwant %s", tc.yaml, err, tc.want)
				break
			}
		}
	}
}

// TestDirectoryYAML: anchors, aliases and merge keys are YAML's; a shop or field without a
// value takes the defaults.
func TestDirectoryYAML(t *testing.T) {
	d := parse(t, `
shops:
  a: &base
    team: east
    response_target: 20s
    business_hours: &weekdays
      mon: ["09:00-18:00"]
  b:
    <<: *base
    team: west
  c:
    business_hours: *weekdays
    closed:
  d:
  e:
    name:
    business_hours:
`)
	for _, tc := range []struct {
		id, team string
		target   time.Duration
		hours    bool
	}{{"a", "east", 20 * time.Second, true}, {"b", "west", 20 * time.Second, true}, {"c", "", DefaultResponseTarget, true},
		{"d", "", DefaultResponseTarget, false}, {"e", "", DefaultResponseTarget, false}} {
		s := d.Shop(tc.id)
		if s == nil || s.Team != tc.team || s.ResponseTarget != tc.target || (s.Hours != nil) != tc.hours {
			t.Errorf("shop %s: %+v, want team %q, target %v, hours %v", tc.id, s, tc.team, tc.target, tc.hours)
		}
	}
}
