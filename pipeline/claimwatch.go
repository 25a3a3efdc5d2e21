package pipeline

import (
	"time"
)

// claimWatch decides when partition numbers have gone unclaimed long enough that the
// group must hold a member that is gone: a live member claims what it is given within
// claimEvery, and a dead one's claims lapse after claimTTL, so a partition unclaimed for
// grace (claimTTL + claimEvery) in a generation at least that old is held by no live
// instance. At most one rejoin per session + rebalance timeout, so that one rejoin's own
// rebalance has ended before the next is judged, and a member whose Redis is merely slow
// costs at most one rebalance per that period.
type claimWatch struct {
	grace, every   time.Duration
	unclaimedSince map[int]time.Time
	lastRejoin     time.Time
}

// observe takes which partition numbers are claimed now and returns the ones to rejoin
// for, or nil.
func (w *claimWatch) observe(now time.Time, claimed []bool, genStart time.Time) []int {
	if w.unclaimedSince == nil {
		w.unclaimedSince = map[int]time.Time{}
	}
	var stuck []int
	for p, ok := range claimed {
		if ok {
			delete(w.unclaimedSince, p)
			continue
		}
		since, seen := w.unclaimedSince[p]
		if !seen {
			w.unclaimedSince[p] = now
		} else if now.Sub(since) >= w.grace {
			stuck = append(stuck, p)
		}
	}
	if len(stuck) == 0 || genStart.IsZero() || now.Sub(genStart) < w.grace ||
		(!w.lastRejoin.IsZero() && now.Sub(w.lastRejoin) < w.every) {
		return nil
	}
	w.lastRejoin = now
	clear(w.unclaimedSince)
	return stuck
}
