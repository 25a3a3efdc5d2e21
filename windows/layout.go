package windows

import (
	"strconv"
	"strings"

	"github.com/cskpi/cskpi/event"
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
	// slot of each family's counter; for a Scene family, of its pre-sale counter (the
	// after-sale one follows); for PerThreshold, of its first threshold; -1 for gauges.
	slot                        [kpi.NumIDs]int
	shopFixed                   int // shop counters before the thresholds, activity included
	shopLen, agentLen           int
	shopActivity, agentActivity int
	nThresholds                 int
	// shop and agent name every position of a shop and an agent vector (slotNames).
	shop, agent []string
}

func newLayout(thresholds []int64) layout {
	l := layout{nThresholds: len(thresholds)}
	for _, f := range kpi.Families() {
		l.slot[f.ID] = -1
		if f.Kind != kpi.Counter && f.Kind != kpi.Shortfall {
			continue
		}
		for sc := range scenes(f) {
			name := counterSlot(f, sc)
			if f.Level == kpi.AgentWindow {
				if sc == 0 {
					l.slot[f.ID] = l.agentLen
				}
				l.agent = append(l.agent, name)
				l.agentLen++
			} else {
				if sc == 0 {
					l.slot[f.ID] = l.shopFixed
				}
				l.shop = append(l.shop, name)
				l.shopFixed++
			}
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
			for sc := range scenes(f) {
				for _, ms := range thresholds {
					l.shop = append(l.shop, thresholdSlot(f, ms, sc))
				}
			}
		}
	}
	l.shopLen = len(l.shop)
	return l
}

// at is the position of family id's counter of scene sc (Presale for a family without
// the scene label).
func (l *layout) at(id kpi.ID, sc event.Scene) int { return l.slot[id] + int(sc) }

// threshold is the position of the counter of threshold i and scene sc of a PerThreshold
// family.
func (l *layout) threshold(id kpi.ID, sc event.Scene, i int) int {
	return l.slot[id] + int(sc)*l.nThresholds + i
}

// scenes is how many scenes a family keeps a counter of: both for a family with the scene
// label, else the one (Presale) that stands for all; range over it for the scenes.
func scenes(f kpi.Family) event.Scene {
	if f.Scene {
		return event.NumScenes
	}
	return 1
}

// Slot names: what a position of a stored vector holds, in words a later build can map.
// A slot is a family's metric name, optionally qualified as name{key=value;key=value}, the
// scene last:
//
//	cskpi_human_messages                                   a Counter family
//	cskpi_buyer_messages{scene=presale}                    one scene of a Counter family
//	cskpi_responses_within{le_ms=15000;scene=aftersale}    one response threshold, in ms
//	cskpi_response_business_time_seconds_sum{shortfall_of=cskpi_response_time_seconds_sum;scene=presale}
//	                                                       kept as its shortfall from a base
//	_applied_events                                        applied events (activity)
//
// Layouts up to 6 had no scene: a plain name of a family that now has the label is its
// pre-sale counter (what those builds counted of a log without scene), and its after-sale
// counter starts at 0. A plain name of a Shortfall family (layouts 3 and 4 kept the
// business-time sums themselves) is mapped to its shortfall on load.
const (
	activitySlot = "_applied_events"
	qualLe       = "le_ms"
	qualShort    = "shortfall_of"
	qualScene    = "scene"
)

func counterSlot(f kpi.Family, sc event.Scene) string {
	n := slotName{family: f.Name}
	if f.Kind == kpi.Shortfall {
		n.shortfallOf = f.Base.Name()
	}
	return n.inScene(f, sc).String()
}

func thresholdSlot(f kpi.Family, ms int64, sc event.Scene) string {
	return slotName{family: f.Name, le: strconv.FormatInt(ms, 10)}.inScene(f, sc).String()
}

// slotName is a slot name read: its family and qualifiers (empty when absent).
type slotName struct {
	family, le, shortfallOf, scene string
	other                          bool // a qualifier no build up to this one wrote
}

// inScene qualifies n with scene sc when family f has the scene label.
func (n slotName) inScene(f kpi.Family, sc event.Scene) slotName {
	if f.Scene {
		n.scene = sc.String()
	}
	return n
}

// String spells n as the grammar above, the scene last.
func (n slotName) String() string {
	var q []string
	for _, kv := range [...][2]string{{qualLe, n.le}, {qualShort, n.shortfallOf}, {qualScene, n.scene}} {
		if kv[1] != "" {
			q = append(q, kv[0]+"="+kv[1])
		}
	}
	if len(q) == 0 {
		return n.family
	}
	return n.family + "{" + strings.Join(q, ";") + "}"
}

// parseSlot reads a slot name; ok is false when it does not follow the grammar above.
func parseSlot(s string) (n slotName, ok bool) {
	family, rest, q := strings.Cut(s, "{")
	n.family = family
	if !q {
		return n, s != ""
	}
	body, ok := strings.CutSuffix(rest, "}")
	if !ok || family == "" {
		return n, false
	}
	for _, kv := range strings.Split(body, ";") {
		key, value, ok := strings.Cut(kv, "=")
		if !ok || key == "" || value == "" {
			return n, false
		}
		switch key {
		case qualLe:
			n.le = value
		case qualShort:
			n.shortfallOf = value
		case qualScene:
			n.scene = value
		default:
			n.other = true
		}
	}
	return n, true
}

// withoutScene is a scene-qualified slot name as layouts up to 6 wrote it, without scene,
// and the scene ("" when s has none).
func withoutScene(s string) (plain string, sc string) {
	n, ok := parseSlot(s)
	if !ok || n.scene == "" {
		return s, ""
	}
	sc, n.scene = n.scene, ""
	return n.String(), sc
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
