package windows

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
)

// Stored state is a public interface (docs/CONTRACT.md §8): once a build of main has written
// it, every later build reads it. This file says what each stored layout holds and maps it
// onto this build's layout; docs/UPGRADING.md has the history in words.
//
// Layout 6, written by this build, describes itself: the partition's meta names every
// position of the stored shop and agent vectors (slot names, layout.go), so that a family,
// a threshold or a new order of the KPI table is not a format change. Layouts 1 to 5 did
// not; their slot names are written out below, as those builds placed them.
//
// What a build cannot read it refuses (StateError) and never writes: a layout number above
// its own, a slot, meta field or conversation encoding it does not know (all written by a
// newer build), or a value it cannot decode.
//
// Layout 7 allows several qualifiers in a slot name (the scene label, CONTRACT §3); a
// build that reads 6 would take "{le_ms=15000;scene=presale}" for a damaged threshold
// rather than for a newer build's, hence the number.
const layoutVersion = 7

// The reasons of a StateError, the reason label of cskpi_partition_state_refused.
const (
	RefusedNewer   = "newer"   // written by a newer build
	RefusedDamaged = "damaged" // does not decode
)

// StateError is stored state of a partition that this build cannot read. The partition
// must be held unconsumed: writing to it would destroy what a newer build counted, or build
// on numbers that are not there.
type StateError struct {
	Partition int
	Reason    string // RefusedNewer or RefusedDamaged
	Detail    string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("partition %d: stored state refused (%s): %s", e.Partition, e.Reason, e.Detail)
}

func newer(part int, format string, a ...any) error {
	return &StateError{Partition: part, Reason: RefusedNewer, Detail: fmt.Sprintf(format, a...)}
}

func damaged(part int, format string, a ...any) error {
	return &StateError{Partition: part, Reason: RefusedDamaged, Detail: fmt.Sprintf(format, a...)}
}

// storedLayout is what the vectors of a partition's stored buckets hold, position by
// position, and what else its layout lacks.
type storedLayout struct {
	version     int
	shop, agent []string
	// implied are slots a layout does not hold whose value is nevertheless known: 0 in
	// every stored vector (layouts 1 and 2 had no business hours, so every shop was always
	// open and the business-time sums had no shortfall).
	implied map[string]bool
	// recentReplies says the stored conversations carry their replies of the last 15
	// minutes (conversation codec 3, layout 3 on), which cskpi_agent_buyers_active needs.
	recentReplies bool
}

// legacySlots names the counters of layouts 1 to 5, as those builds placed them: the
// families of their KPI table, in its order, before the activity and the thresholds.
func legacySlots(version int) (shop, agent []string) {
	// Layouts 1 and 2 (8e899c7 … 603bba3): the families of the first KPI table.
	shop = []string{
		"cskpi_buyer_messages", "cskpi_buyer_messages_replied_24h", "cskpi_human_messages",
		"cskpi_auto_messages", "cskpi_responses", "cskpi_response_time_seconds_sum",
		"cskpi_inquiries", "cskpi_inquiries_replied", "cskpi_inquiries_guided",
		"cskpi_guided_gmv_yuan", "cskpi_orders_created", "cskpi_orders_paid",
		"cskpi_paid_gmv_yuan", "cskpi_refunds_disputed", "cskpi_refunds_completed",
		"cskpi_refunds_completed_by_merchant", "cskpi_refund_duration_seconds_sum",
	}
	agent = []string{
		"cskpi_agent_responses", "cskpi_agent_response_time_seconds_sum", "cskpi_agent_messages",
		"cskpi_agent_buyers_served", "cskpi_agent_inquiries_replied",
		"cskpi_agent_inquiries_guided", "cskpi_agent_guided_gmv_yuan",
	}
	switch {
	case version <= 2:
		return shop, agent
	case version <= 4:
		// Layouts 3 and 4 (3c32a34 … f2db490) appended the first responses and the
		// business-time sums, kept as themselves.
		return append(shop, "cskpi_first_responses", "cskpi_first_response_time_seconds_sum",
				"cskpi_response_business_time_seconds_sum", "cskpi_first_response_business_time_seconds_sum"),
			append(agent, "cskpi_agent_first_responses", "cskpi_agent_first_response_time_seconds_sum",
				"cskpi_agent_response_business_time_seconds_sum", "cskpi_agent_buyer_messages_answered")
	}
	// Layout 5 (d741b6e … 92ef038) keeps the business-time sums as their shortfall.
	return append(shop, "cskpi_first_responses", "cskpi_first_response_time_seconds_sum",
			"cskpi_response_business_time_seconds_sum{shortfall_of=cskpi_response_time_seconds_sum}",
			"cskpi_first_response_business_time_seconds_sum{shortfall_of=cskpi_first_response_time_seconds_sum}"),
		append(agent, "cskpi_agent_first_responses", "cskpi_agent_first_response_time_seconds_sum",
			"cskpi_agent_response_business_time_seconds_sum{shortfall_of=cskpi_agent_response_time_seconds_sum}",
			"cskpi_agent_buyer_messages_answered")
}

// legacyLayout is the stored layout of layouts 1 to 5, whose vectors were positional: the
// families of that build's KPI table, the activity, then one counter per threshold of
// the meta field thr.
func legacyLayout(version int, thr []int64) storedLayout {
	l := storedLayout{version: version, recentReplies: version >= 3}
	l.shop, l.agent = legacySlots(version)
	if version <= 2 {
		// No business hours before layout 3: every shop was always open.
		l.implied = map[string]bool{
			"cskpi_response_business_time_seconds_sum{shortfall_of=cskpi_response_time_seconds_sum}":             true,
			"cskpi_first_response_business_time_seconds_sum{shortfall_of=cskpi_first_response_time_seconds_sum}": true,
			"cskpi_agent_response_business_time_seconds_sum{shortfall_of=cskpi_agent_response_time_seconds_sum}": true,
		}
	}
	l.shop = append(l.shop, activitySlot)
	l.agent = append(l.agent, activitySlot)
	for _, ms := range thr {
		l.shop = append(l.shop, slotName{family: "cskpi_responses_within", le: strconv.FormatInt(ms, 10)}.String())
	}
	return l
}

// slotOp makes one position of this build's vector from a stored vector.
type slotOp struct {
	from int // stored position copied; -1: none
	// less, when >= 0, is subtracted from from: a business-time sum kept as itself (layouts
	// 3 and 4) becomes its shortfall, base minus it.
	less int
}

// vectorPlan maps stored vectors of one level onto this build's.
type vectorPlan struct {
	ops      []slotOp
	identity bool // the stored positions are this build's: nothing to move
	stored   int  // the stored vectors' length
}

func (vp vectorPlan) apply(v []int64) []int64 {
	out := make([]int64, len(vp.ops))
	for i, op := range vp.ops {
		if op.from < 0 {
			continue
		}
		out[i] = v[op.from]
		if op.less >= 0 {
			out[i] -= v[op.less]
		}
	}
	return out
}

// layoutPlan is how stored state maps onto this build's layout.
type layoutPlan struct {
	shop, agent vectorPlan
	// lacking are the families the stored state does not hold: they start empty, and count
	// from the upgrade on.
	lacking []kpi.ID
}

func (lp layoutPlan) identity() bool { return lp.shop.identity && lp.agent.identity }

// plan maps stored onto cur, or refuses it: a slot of a family this build does not know
// was written by a newer build.
func plan(part int, stored storedLayout, cur layout) (layoutPlan, error) {
	var lp layoutPlan
	lacking := map[kpi.ID]bool{}
	byName := familiesByName()
	var err error
	if lp.shop, err = planVector(part, "shop", stored.shop, cur.shop, stored.implied, byName, lacking); err != nil {
		return lp, err
	}
	if lp.agent, err = planVector(part, "agent", stored.agent, cur.agent, stored.implied, byName, lacking); err != nil {
		return lp, err
	}
	// A shortfall counts what its base counts: without the base, it is partial too.
	for _, f := range kpi.Families() {
		if f.Kind == kpi.Shortfall && lacking[f.Base] {
			lacking[f.ID] = true
		}
	}
	if !stored.recentReplies {
		lacking[kpi.AgentBuyersActive] = true
	}
	for _, f := range kpi.Families() {
		if lacking[f.ID] {
			lp.lacking = append(lp.lacking, f.ID)
		}
	}
	return lp, nil
}

func planVector(part int, level string, stored, cur []string, implied map[string]bool, byName map[string]kpi.Family, lacking map[kpi.ID]bool) (vectorPlan, error) {
	at := make(map[string]int, len(stored))
	for i, n := range stored {
		if _, dup := at[n]; dup {
			return vectorPlan{}, damaged(part, "%s slot %q stored twice", level, n)
		}
		if err := knownSlot(part, n, byName); err != nil {
			return vectorPlan{}, err
		}
		at[n] = i
	}
	if _, ok := at[activitySlot]; !ok {
		return vectorPlan{}, damaged(part, "%s slots without %s", level, activitySlot)
	}
	// resolve finds what a slot of this build holds in the stored vectors.
	resolve := func(n string) (slotOp, bool) {
		if j, ok := at[n]; ok {
			return slotOp{from: j, less: -1}, true
		}
		if implied[n] {
			return slotOp{from: -1, less: -1}, true
		}
		sn, _ := parseSlot(n)
		base, hasBase := at[sn.shortfallOf]
		plain, hasPlain := at[sn.family]
		if sn.shortfallOf != "" && hasBase && hasPlain {
			return slotOp{from: base, less: plain}, true
		}
		return slotOp{from: -1, less: -1}, false
	}
	vp := vectorPlan{ops: make([]slotOp, len(cur)), identity: len(stored) == len(cur), stored: len(stored)}
	for i, n := range cur {
		op, ok := resolve(n)
		if plain, sc := withoutScene(n); !ok && sc != "" {
			// A layout without scenes counted every message as pre-sale.
			if op, ok = resolve(plain); ok && sc != event.Presale.String() {
				op = slotOp{from: -1, less: -1}
			}
		}
		if !ok {
			sn, _ := parseSlot(n)
			lacking[byName[sn.family].ID] = true
		}
		if op.from != i || op.less >= 0 {
			vp.identity = false
		}
		vp.ops[i] = op
	}
	return vp, nil
}

// knownSlot refuses a slot name that no build up to this one wrote.
func knownSlot(part int, n string, byName map[string]kpi.Family) error {
	if n == activitySlot {
		return nil
	}
	sn, ok := parseSlot(n)
	if !ok {
		return damaged(part, "slot name %q", n)
	}
	f, known := byName[sn.family]
	switch {
	case !known:
		return newer(part, "stored state holds family %s, which this build does not know", sn.family)
	case sn.other || (sn.scene != "" && (!f.Scene || (sn.scene != event.Presale.String() && sn.scene != event.Aftersale.String()))):
		return newer(part, "stored state holds %s, which this build does not know", n)
	case sn.le == "" && sn.shortfallOf == "" && (f.Kind == kpi.Counter || f.Kind == kpi.Shortfall):
		return nil
	case sn.le != "" && sn.shortfallOf == "" && f.Kind == kpi.PerThreshold:
		if _, err := strconv.ParseInt(sn.le, 10, 64); err != nil {
			return damaged(part, "slot name %q", n)
		}
		return nil
	case sn.shortfallOf != "" && sn.le == "" && f.Kind == kpi.Shortfall && sn.shortfallOf == f.Base.Name():
		return nil
	}
	return newer(part, "stored state holds %s, which this build does not know", n)
}

func familiesByName() map[string]kpi.Family {
	out := map[string]kpi.Family{}
	for _, f := range kpi.Families() {
		out[f.Name] = f
	}
	return out
}

// sinceField is the meta field holding the stream time from which a family counts, for a
// family the state lacked when a build that knows it first loaded it.
const sinceField = "since:"

// storedMeta is the partition's meta hash, read.
type storedMeta struct {
	layout storedLayout
	since  map[kpi.ID]int64
}

// readLayout reads the layout of a partition's meta hash (empty: nothing stored).
func readLayout(part int, meta map[string]string) (storedMeta, error) {
	out := storedMeta{since: map[kpi.ID]int64{}}
	v, ok := meta["v"]
	if !ok {
		return out, damaged(part, "meta has no layout version (field v)")
	}
	version, err := strconv.Atoi(v)
	switch {
	case err != nil || version < 1:
		return out, damaged(part, "layout version %q", v)
	case version > layoutVersion:
		return out, newer(part, "stored layout %d, this build reads layouts 1 to %d", version, layoutVersion)
	case version < 6:
		thr, err := parseThresholds(meta["thr"])
		if err != nil {
			return out, damaged(part, "meta field thr = %q", meta["thr"])
		}
		out.layout = legacyLayout(version, thr)
		return out, nil
	}
	out.layout = storedLayout{version: version, shop: splitSlots(meta["shop"]), agent: splitSlots(meta["agent"]), recentReplies: true}
	if len(out.layout.shop) == 0 || len(out.layout.agent) == 0 {
		return out, damaged(part, "layout %d without its slot names (fields shop, agent)", version)
	}
	byName := familiesByName()
	for f, val := range meta {
		name, ok := strings.CutPrefix(f, sinceField)
		if !ok {
			continue // the rest is Restore's
		}
		fam, known := byName[name]
		if !known {
			return out, newer(part, "stored state dates family %s, which this build does not know", name)
		}
		ts, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return out, damaged(part, "meta field %s = %q", f, val)
		}
		out.since[fam.ID] = ts
	}
	return out, nil
}

// parseThresholds reads layouts 1 to 5's meta field thr: the response thresholds in ms,
// comma separated, in the order of the stored vectors' last positions.
func parseThresholds(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	var out []int64
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}
