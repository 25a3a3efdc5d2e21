package windows

import (
	"hash/maphash"

	"github.com/cskpi/cskpi/event"
)

// dupMemory is how long, in stream time, an accepted event id keeps making its copies
// duplicates (CONTRACT §1): until stream time passes max(ts, S₀) + dupMemory.
const dupMemory = hourNs

type idKey [2]uint64

func (p *Partition) idKey(id string) idKey {
	return idKey{maphash.String(p.seeds[0], id), maphash.String(p.seeds[1], id)}
}

// idMinute is what the mirror keeps of the ids of one minute of ts.
type idMinute struct {
	keys   []idKey  // to forget them at expiry
	fields []string // the Redis fields holding them
	fresh  []byte   // those of the current batch, encoded for the next field
}

// remember records an accepted event id with its anchor.
func (p *Partition) remember(t event.Topic, id string, anchor int64) {
	k := p.idKey(id)
	p.ids[t][k] = anchor
	m := MinuteOf(anchor)
	im := p.idMinutes[t][m]
	if im == nil {
		im = &idMinute{}
		p.idMinutes[t][m] = im
	}
	im.keys = append(im.keys, k)
	im.fresh = appendID(im.fresh, id, anchor)
	p.dirtyI[t][m] = struct{}{}
}

// idsCommitted records that Redis holds the fresh ids of the batch committed as seq, each
// minute's under idBatchField.
func (p *Partition) idsCommitted(seq int64) {
	for t := range event.NumTopics {
		for m := range p.dirtyI[t] {
			im := p.idMinutes[t][m]
			im.fields = append(im.fields, idBatchField(t, m, seq))
			im.fresh = nil
		}
	}
}

// ExpireIDs forgets the event ids that can no longer make a record a duplicate. It is
// cheap (a look at each retained minute of ids), so it runs with every batch: at a high
// record rate ids are most of the state.
func (p *Partition) ExpireIDs() {
	for t := range p.ids {
		cut := p.wm[t] - dupMemory
		if cut <= p.idsCutoff[t] {
			continue
		}
		p.idsCutoff[t] = cut
		// A minute's ids all go once the whole minute is older than the cut. An id
		// remembered again later keeps its entry unless that, too, is older than the cut,
		// when it could no longer make a record a duplicate anyway (stream time only grows).
		for m, im := range p.idMinutes[t] {
			if (m+1)*minuteNs > cut {
				continue
			}
			for _, k := range im.keys {
				if anchor, ok := p.ids[t][k]; ok && anchor < cut {
					delete(p.ids[t], k)
				}
			}
			delete(p.idMinutes[t], m)
			delete(p.dirtyI[t], m)
			p.deletedI = append(p.deletedI, im.fields...)
		}
	}
}
