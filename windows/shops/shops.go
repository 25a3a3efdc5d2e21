package shops

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
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
