package windows

import "strings"

// ownerID numbers a shop or an agent of a partition. Decoded buckets and running totals
// are keyed by it: applying an event looks its shop and agent up once, and every counter
// it bumps is then found by integer.
type ownerID int32

type shopEntry struct {
	name   string
	id     ownerID // the shop itself; -1 while it has no number
	agents map[string]ownerID
}

// owners is a partition's table of numbered shops and agents. Numbers that nothing holds
// any more are reused (sweep), so the table follows the live shops and agents.
type owners struct {
	shops map[string]*shopEntry
	byID  []owner // owner{} while free
	free  []ownerID
}

func newOwners() owners { return owners{shops: map[string]*shopEntry{}} }

func (t *owners) owner(id ownerID) owner { return t.byID[id] }

func (t *owners) isAgent(id ownerID) bool { return t.byID[id].agent != "" }

func (t *owners) number(o owner) ownerID {
	var id ownerID
	if n := len(t.free); n > 0 {
		id = t.free[n-1]
		t.free = t.free[:n-1]
		t.byID[id] = o
	} else {
		id = ownerID(len(t.byID))
		t.byID = append(t.byID, o)
	}
	return id
}

// id numbers shop (agent "") or an agent of shop.
func (t *owners) id(shop, agent string) ownerID {
	se := t.shops[shop]
	if se == nil {
		// Keys are cloned: an event's strings may share one allocation with the whole
		// record, which the table must not keep alive.
		se = &shopEntry{name: strings.Clone(shop), id: -1}
		t.shops[se.name] = se
	}
	if agent == "" {
		if se.id < 0 {
			se.id = t.number(owner{shop: se.name})
		}
		return se.id
	}
	if id, ok := se.agents[agent]; ok {
		return id
	}
	if se.agents == nil {
		se.agents = map[string]ownerID{}
	}
	agent = strings.Clone(agent)
	id := t.number(owner{shop: se.name, agent: agent})
	se.agents[agent] = id
	return id
}

// idBytes is id for names read from an encoding; it allocates only for a new owner.
func (t *owners) idBytes(shop, agent []byte) ownerID {
	if id, ok := t.find(shop, agent); ok {
		return id
	}
	return t.id(string(shop), string(agent))
}

// find is the number of an owner that has one, without numbering it.
func (t *owners) find(shop, agent []byte) (ownerID, bool) {
	if se := t.shops[string(shop)]; se != nil {
		if len(agent) == 0 && se.id >= 0 {
			return se.id, true
		}
		if id, ok := se.agents[string(agent)]; ok && len(agent) > 0 {
			return id, true
		}
	}
	return 0, false
}

// sweep frees every number used reports unused.
func (t *owners) sweep(used []bool) {
	for i, o := range t.byID {
		if o.shop == "" || (i < len(used) && used[i]) {
			continue
		}
		se := t.shops[o.shop]
		if o.agent == "" {
			se.id = -1
		} else {
			delete(se.agents, o.agent)
		}
		if se.id < 0 && len(se.agents) == 0 {
			delete(t.shops, o.shop)
		}
		t.byID[i] = owner{}
		t.free = append(t.free, ownerID(i))
	}
}

// owner is a shop (agent == "") or an agent of a shop.
type owner struct{ shop, agent string }

// sweepOwners frees the numbers of owners that neither a decoded bucket nor a running
// total holds: they are numbered again if a bucket naming them is decoded.
func (p *Partition) sweepOwners() {
	used := make([]bool, len(p.owners.byID))
	for id, t := range p.run.sums {
		used[id] = t != nil
	}
	for k := range p.decoded {
		for id := range p.blocks[k].dec {
			used[id] = true
		}
	}
	for k := range p.dirtyB {
		if b := p.blocks[k]; b != nil {
			for id := range b.delta {
				used[id] = true
			}
		}
	}
	p.invalidate()
	p.owners.sweep(used)
}
