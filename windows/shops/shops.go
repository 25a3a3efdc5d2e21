package shops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"
)

// The response targets when the directory gives none (CONTRACT §6): the pre-sale buyer's
// patience, and the after-sale one's (a buyer asking about an order, a refund or a dispute).
const (
	DefaultResponseTarget          = 15 * time.Second
	DefaultAftersaleResponseTarget = 3 * time.Minute
)

// Shop is one shop of the directory (CONTRACT §6).
type Shop struct {
	ID, Name, Team string
	// Location drives the shop's local dates and business hours.
	Location *time.Location
	// Hours are the business hours per weekday (time.Sunday = 0), as minutes after local
	// midnight [from, to); nil means always open (except on Closed dates).
	Hours *[7][]span
	// Closed dates ("2006-01-02") on which the shop is closed all day.
	Closed map[string]bool
	// ResponseTarget is the pre-sale response target (response_target), AftersaleResponseTarget
	// the after-sale one (aftersale_response_target).
	ResponseTarget, AftersaleResponseTarget time.Duration
}

type span struct{ from, to int } // minutes after local midnight, to <= 1440

// Directory is a parsed --shops.file. A shop not in it uses the defaults: the service's
// --timezone, always open, a 15 s pre-sale and a 3 min after-sale response target.
type Directory struct {
	Shops map[string]*Shop
}

// fileFormat is the YAML of --shops.file.
type fileFormat struct {
	Shops map[string]struct {
		Name           string              `yaml:"name"`
		Team           string              `yaml:"team"`
		Timezone       string              `yaml:"timezone"`
		BusinessHours  map[string][]string `yaml:"business_hours"`
		Closed         []string            `yaml:"closed"`
		ResponseTarget string              `yaml:"response_target"`
		// AftersaleResponseTarget is the after-sale scene's; response_target the pre-sale one.
		AftersaleResponseTarget string `yaml:"aftersale_response_target"`
	} `yaml:"shops"`
}

var (
	shopIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	rangePattern  = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])-(([01][0-9]|2[0-3]):([0-5][0-9])|24:00)$`)
	weekdays      = map[string]time.Weekday{
		"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
		"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	}
)

// ParseDirectory reads a shop directory. Any error refuses the whole file, naming the shop
// and field at fault; def is the zone of shops that name none.
func ParseDirectory(data []byte, def *time.Location) (*Directory, error) {
	var f fileFormat
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) { // an empty file is an empty directory
		return nil, fmt.Errorf("shop directory: %w", err)
	}
	d := &Directory{Shops: map[string]*Shop{}}
	for id, s := range f.Shops {
		if !shopIDPattern.MatchString(id) {
			return nil, fmt.Errorf("shop directory: shop id %q: 1-64 characters of [A-Za-z0-9._-]", id)
		}
		shop := &Shop{ID: id, Name: s.Name, Team: s.Team, Location: def, Closed: map[string]bool{},
			ResponseTarget: DefaultResponseTarget, AftersaleResponseTarget: DefaultAftersaleResponseTarget}
		if s.Timezone != "" {
			loc, err := time.LoadLocation(s.Timezone)
			if err != nil {
				return nil, fmt.Errorf("shop directory: shop %s: timezone %q: %w", id, s.Timezone, err)
			}
			shop.Location = loc
		}
		if s.BusinessHours != nil {
			var hours [7][]span
			for day, ranges := range s.BusinessHours {
				wd, ok := weekdays[strings.ToLower(day)]
				if !ok {
					return nil, fmt.Errorf("shop directory: shop %s: business_hours: %q is not a weekday (mon, tue, wed, thu, fri, sat, sun)", id, day)
				}
				for _, r := range ranges {
					sp, err := parseSpan(r)
					if err != nil {
						return nil, fmt.Errorf("shop directory: shop %s: business_hours %s: %w", id, day, err)
					}
					hours[wd] = append(hours[wd], sp)
				}
				sort.Slice(hours[wd], func(i, j int) bool { return hours[wd][i].from < hours[wd][j].from })
				for i := 1; i < len(hours[wd]); i++ {
					if hours[wd][i].from < hours[wd][i-1].to {
						return nil, fmt.Errorf("shop directory: shop %s: business_hours %s: ranges overlap", id, day)
					}
				}
			}
			shop.Hours = &hours
		}
		for _, c := range s.Closed {
			if _, err := time.Parse(time.DateOnly, c); err != nil {
				return nil, fmt.Errorf("shop directory: shop %s: closed: %q is not a date (YYYY-MM-DD)", id, c)
			}
			shop.Closed[c] = true
		}
		for _, t := range []struct {
			field, value string
			dst          *time.Duration
		}{
			{"response_target", s.ResponseTarget, &shop.ResponseTarget},
			{"aftersale_response_target", s.AftersaleResponseTarget, &shop.AftersaleResponseTarget},
		} {
			if t.value == "" {
				continue
			}
			d, err := time.ParseDuration(t.value)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("shop directory: shop %s: %s %q is not a positive duration", id, t.field, t.value)
			}
			*t.dst = d
		}
		d.Shops[id] = shop
	}
	return d, nil
}

// LoadDirectory reads and parses path.
func LoadDirectory(path string, def *time.Location) (*Directory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("shop directory: %w", err)
	}
	return ParseDirectory(data, def)
}

func parseSpan(r string) (span, error) {
	m := rangePattern.FindStringSubmatch(strings.TrimSpace(r))
	if m == nil {
		return span{}, fmt.Errorf("%q is not a range HH:MM-HH:MM (an end of 24:00 allowed)", r)
	}
	h1, _ := strconv.Atoi(m[1])
	m1, _ := strconv.Atoi(m[2])
	to := 24 * 60
	if m[3] != "24:00" {
		h2, _ := strconv.Atoi(m[4])
		m2, _ := strconv.Atoi(m[5])
		to = h2*60 + m2
	}
	sp := span{h1*60 + m1, to}
	if sp.to <= sp.from {
		return span{}, fmt.Errorf("%q ends before it starts (a range may not cross midnight: split it)", r)
	}
	return sp, nil
}

// Shop is the directory's entry for id, or nil.
func (d *Directory) Shop(id string) *Shop {
	if d == nil {
		return nil
	}
	return d.Shops[id]
}

// Location is the zone of shop id's local dates: the directory's, else def.
func (d *Directory) Location(id string, def *time.Location) *time.Location {
	if s := d.Shop(id); s != nil {
		return s.Location
	}
	return def
}

// BusinessNs is the part of [from, to] (Unix ns) inside the shop's business hours: the
// instants at which the shop's local wall clock shows a time inside that weekday's hours on
// a date that is not closed. All of it for a shop without hours or closed dates. (By the
// wall clock: on a night the clocks go back, an hour shown twice counts twice; on a night
// they go forward, the hour never shown counts nothing.)
func (s *Shop) BusinessNs(from, to int64) int64 {
	if to <= from {
		return 0
	}
	if s.AlwaysOpen() {
		return to - from
	}
	const minute = int64(time.Minute)
	var total int64
	for t := from; t < to; {
		// A stretch of one local date and one UTC offset, in which local time runs
		// linearly: the minute m of the date is the instant dayStart + m minutes.
		tm := time.Unix(0, t).In(s.Location)
		_, off := tm.Zone()
		y, m, d := tm.Date()
		dayStart := time.Date(y, m, d, 0, 0, 0, 0, time.FixedZone("", off)).UnixNano()
		end := min(to, dayStart+24*60*minute)
		if _, zoneEnd := tm.ZoneBounds(); !zoneEnd.IsZero() {
			end = min(end, zoneEnd.UnixNano())
		}
		if !s.Closed[tm.Format(time.DateOnly)] {
			spans := []span{{0, 24 * 60}}
			if s.Hours != nil {
				spans = s.Hours[tm.Weekday()]
			}
			for _, sp := range spans {
				a, b := dayStart+int64(sp.from)*minute, dayStart+int64(sp.to)*minute
				if lo, hi := max(a, t), min(b, end); hi > lo {
					total += hi - lo
				}
			}
		}
		t = end
	}
	return total
}

// AlwaysOpen says the shop has neither business hours nor closed dates (nil: a shop not
// in the directory).
func (s *Shop) AlwaysOpen() bool { return s == nil || (s.Hours == nil && len(s.Closed) == 0) }

// OpenAt says whether the shop is open at ts.
func (s *Shop) OpenAt(ts int64) bool { return s.BusinessNs(ts, ts+1) == 1 }

// Holder holds the directory in force; a reload swaps it without a lock, and a sample takes
// the directory in force when it is made (CONTRACT §6).
type Holder struct{ p atomic.Pointer[Directory] }

// Get is the directory in force (nil: none).
func (h *Holder) Get() *Directory {
	if h == nil {
		return nil
	}
	return h.p.Load()
}

// Set puts d in force.
func (h *Holder) Set(d *Directory) { h.p.Store(d) }
