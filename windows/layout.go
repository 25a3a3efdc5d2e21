package windows

import "github.com/cskpi/cskpi/windows/kpi"

// layout places every counter in the shop and agent vectors of a bucket, derived from the
// KPI table: a shop vector holds the shop-level Counter families in table order, then the
// shop's activity, then one counter per response threshold (PerThreshold); an agent vector
// holds the agent-level Counter families, then the agent's activity. Activity (applied
// events) is no KPI: it decides which shops and agents are exported. The thresholds come
// last so that a change of --response.thresholds can remap them (remapVector).
type layout struct {
	// slot of each family's counter; for PerThreshold, of its first threshold; -1 for gauges.
	slot                        [kpi.NumIDs]int
	shopFixed                   int // shop counters before the thresholds, activity included
	shopLen, agentLen           int
	shopActivity, agentActivity int
}

func newLayout(thresholds int) layout {
	var l layout
	for _, f := range kpi.Families() {
		l.slot[f.ID] = -1
		if f.Kind != kpi.Counter && f.Kind != kpi.Shortfall {
			continue
		}
		if f.Level == kpi.AgentWindow {
			l.slot[f.ID] = l.agentLen
			l.agentLen++
		} else {
			l.slot[f.ID] = l.shopFixed
			l.shopFixed++
		}
	}
	l.shopActivity, l.agentActivity = l.shopFixed, l.agentLen
	l.shopFixed++
	l.agentLen++
	for _, f := range kpi.Families() {
		if f.Kind == kpi.PerThreshold {
			l.slot[f.ID] = l.shopFixed // one family of thresholds: the contract's responses_within
		}
	}
	l.shopLen = l.shopFixed + thresholds
	return l
}
