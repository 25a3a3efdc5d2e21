package windows

import (
	"strconv"
	"strings"

	"github.com/cskpi/cskpi/windows/kpi"
)

// layout places every counter in the shop and agent vectors of a bucket, derived from the
// KPI table: a shop vector holds the shop-level Counter families in table order, then the
// shop's activity, then one counter per response threshold (PerThreshold); an agent vector
// holds the agent-level Counter families, then the agent's activity. Activity (applied
// events) is no KPI: it decides which shops and agents are exported.
//
// The positions are this build's business only: stored state names each position
// (slotNames), and loading maps stored names onto these positions (plan), so that a new
// family or threshold moves positions without a change of the stored format.
type layout struct {
	// slot of each family's counter; for PerThreshold, of its first threshold; -1 for gauges.
	slot                        [kpi.NumIDs]int
	shopFixed                   int // shop counters before the thresholds, activity included
	shopLen, agentLen           int
	shopActivity, agentActivity int
	// shop and agent name every position of a shop and an agent vector (slotNames).
	shop, agent []string
}

func newLayout(thresholds []int64) layout {
	var l layout
	for _, f := range kpi.Families() {
		l.slot[f.ID] = -1
		if f.Kind != kpi.Counter && f.Kind != kpi.Shortfall {
			continue
		}
		if f.Level == kpi.AgentWindow {
			l.slot[f.ID] = l.agentLen
			l.agent = append(l.agent, counterSlot(f))
			l.agentLen++
		} else {
			l.slot[f.ID] = l.shopFixed
			l.shop = append(l.shop, counterSlot(f))
			l.shopFixed++
		}
	}
	l.shopActivity, l.agentActivity = l.shopFixed, l.agentLen
	l.shop = append(l.shop, activitySlot)
	l.agent = append(l.agent, activitySlot)
	l.shopFixed++
	l.agentLen++
	for _, f := range kpi.Families() {
		if f.Kind == kpi.PerThreshold {
			l.slot[f.ID] = l.shopFixed // one family of thresholds: the contract's responses_within
			for _, ms := range thresholds {
				l.shop = append(l.shop, thresholdSlot(f.Name, ms))
			}
		}
	}
	l.shopLen = l.shopFixed + len(thresholds)
	return l
}

// Slot names: what a position of a stored vector holds, in words a later build can map.
// A slot is a family's metric name, optionally qualified as name{key=value}:
//
//	cskpi_buyer_messages                                   a Counter family
//	cskpi_responses_within{le_ms=15000}                    one response threshold, in ms
//	cskpi_response_business_time_seconds_sum{shortfall_of=cskpi_response_time_seconds_sum}
//	                                                       kept as its shortfall from a base
//	_applied_events                                        applied events (activity)
//
// A plain name of a Shortfall family (layouts 3 and 4 kept the business-time sums
// themselves) is mapped to its shortfall on load.
const (
	activitySlot = "_applied_events"
	qualLe       = "le_ms"
	qualShort    = "shortfall_of"
)

func counterSlot(f kpi.Family) string {
	if f.Kind == kpi.Shortfall {
		return f.Name + "{" + qualShort + "=" + f.Base.Name() + "}"
	}
	return f.Name
}

func thresholdSlot(family string, ms int64) string {
	return family + "{" + qualLe + "=" + strconv.FormatInt(ms, 10) + "}"
}

// parseSlot splits a slot name into its family and its one qualifier (key and value empty
// when it has none). ok is false when the name does not follow the grammar above.
func parseSlot(s string) (family, key, value string, ok bool) {
	family, rest, q := strings.Cut(s, "{")
	if !q {
		return s, "", "", s != ""
	}
	kv, ok := strings.CutSuffix(rest, "}")
	if !ok {
		return "", "", "", false
	}
	key, value, ok = strings.Cut(kv, "=")
	return family, key, value, ok && family != "" && key != "" && value != ""
}

// joinSlots and splitSlots are the meta encoding of a vector's slot names. Slot names hold
// no comma.
func joinSlots(names []string) string { return strings.Join(names, ",") }

func splitSlots(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
