package windows

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
)

// Field is one Redis hash field and its value.
type Field struct {
	Name  string
	Value []byte
}

// ChangeSet is what one batch (or one expiry) changed in a partition, encoded as Redis
// holds it, with the offsets it commits. The mirror builds it (Changes) and is told when it
// is stored (Committed); the store writes it and knows nothing else of the mirror. A change
// set is stored whole or not at all, and only on top of the sequence number it was built on.
type ChangeSet struct {
	Partition int
	// Seq is the batch sequence number the change set was built on: the store's fence.
	Seq int64

	Buckets, Convs, IDs                      []Field
	DeletedBuckets, DeletedConvs, DeletedIDs []string
	// Meta is the partition's small state: schema, thresholds, watermarks, bucket
	// horizons, stream time, the next offsets and the new sequence number.
	Meta []Field
	// StreamTime is the largest ts applied to the partition, for the shared stream time.
	StreamTime int64

	next map[string]int64
}

// Changes encodes what the mirror holds that Redis does not, with next as the offsets to
// store. The mirror must not change between Changes and Committed (or a reload): the
// change set is its state as committed.
func (p *Partition) Changes(next map[string]int64) *ChangeSet {
	cs := &ChangeSet{Partition: p.ID, Seq: p.Seq, next: next, StreamTime: p.newest()}
	p.arena = p.arena[:0]
	for k := range p.dirtyB {
		cs.Buckets = append(cs.Buckets, Field{blockField(k), p.seal(k)})
	}
	for _, k := range p.deletedB {
		cs.DeletedBuckets = append(cs.DeletedBuckets, blockField(k))
	}
	for _, c := range p.dirtyC {
		if !c.gone {
			cs.Convs = append(cs.Convs, Field{c.key, encodeConv(c, p.recent[c])})
		}
	}
	cs.DeletedConvs = append(cs.DeletedConvs, p.deletedC...)
	for t := range event.NumTopics {
		for m := range p.dirtyI[t] {
			cs.IDs = append(cs.IDs, Field{idBatchField(t, m, p.Seq+1), p.idMinutes[t][m].fresh})
		}
	}
	cs.DeletedIDs = append(cs.DeletedIDs, p.deletedI...)
	meta := func(name string, v int64) { cs.Meta = append(cs.Meta, Field{name, strconv.AppendInt(nil, v, 10)}) }
	if p.layoutDirty {
		// The layout's description goes with the first batch in it: the buckets it
		// rewrote and what says how to read them are one commit. Redis keeps it after.
		meta("v", layoutVersion)
		cs.Meta = append(cs.Meta, Field{"shop", []byte(joinSlots(p.lay.shop))}, Field{"agent", []byte(joinSlots(p.lay.agent))})
		for _, id := range slices.Sorted(maps.Keys(p.since)) {
			meta(sinceField+id.Name(), p.since[id])
		}
	}
	for t := range event.NumTopics {
		meta("wm:"+t.Letter(), p.wm[t])
	}
	if p.minMinute > minInt64 {
		meta("hm", p.minMinute)
		meta("hh", p.minHour)
	}
	if p.st != minInt64 {
		meta("st", p.st)
	}
	for _, t := range slices.Sorted(maps.Keys(next)) {
		meta("off:"+t, next[t])
	}
	meta("seq", p.Seq+1)
	return cs
}

// Committed records that Redis holds cs: its offsets and sequence number become the
// mirror's, and the mirror forgets what it had to write.
func (p *Partition) Committed(cs *ChangeSet) {
	for t, o := range cs.next {
		p.Offsets[t] = o
	}
	p.Seq = cs.Seq + 1
	p.layoutDirty = false
	for k := range p.dirtyB {
		if b := p.blocks[k]; b != nil {
			b.dirty = false
		}
	}
	p.idsCommitted(p.Seq)
	p.clearDirty()
	p.cool()
}

// Stored is what Redis holds for one partition, as read by the store.
type Stored struct {
	Meta                map[string]string
	Buckets, Convs, IDs []Field
}

// Restore replaces the mirror with what Redis holds, in any layout an earlier build of main
// wrote (stored.go). Buckets stay in their encoding until a batch or a window needs them;
// when the stored layout differs from this build's (an upgrade, a change of the response
// thresholds), they are decoded into this build's layout and rewritten by the next commit,
// with the layout's description. What it cannot read is refused with a *StateError, and the
// mirror must not be used.
func (p *Partition) Restore(s *Stored) error {
	p.reset()
	if len(s.Meta) == 0 {
		if len(s.Buckets)+len(s.Convs)+len(s.IDs) > 0 {
			return damaged(p.ID, "buckets, conversations or ids without the partition's meta")
		}
		return nil // nothing stored: a new partition
	}
	sm, err := readLayout(p.ID, s.Meta)
	if err != nil {
		return err
	}
	for f, v := range s.Meta {
		var dst *int64
		switch {
		case f == "v" || f == "thr" || f == "shop" || f == "agent" || strings.HasPrefix(f, sinceField):
			continue // the layout's, read above
		case strings.HasPrefix(f, "off:"):
		case f == "wm:"+event.Messages.Letter():
			dst = &p.wm[event.Messages]
		case f == "wm:"+event.Orders.Letter():
			dst = &p.wm[event.Orders]
		case f == "seq":
			dst = &p.Seq
		case f == "hm":
			dst = &p.minMinute
		case f == "hh":
			dst = &p.minHour
		case f == "st":
			dst = &p.st
		default:
			return newer(p.ID, "meta field %q, which this build does not know", f)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return damaged(p.ID, "meta field %s = %q", f, v)
		}
		if dst == nil {
			p.Offsets[f[len("off:"):]] = n
		} else {
			*dst = n
		}
	}
	lp, err := plan(p.ID, sm.layout, p.lay)
	if err != nil {
		return err
	}
	p.since = sm.since
	p.layoutDirty = sm.layout.version != layoutVersion || !lp.identity()
	for _, id := range lp.lacking {
		if _, ok := p.since[id]; !ok {
			// The family starts empty: it counts what is applied from here on.
			p.since[id] = p.newest()
			p.layoutDirty = true
		}
	}
	keepAsIs := lp.identity()
	var rewrite []blockKey
	for _, f := range s.Buckets {
		key, err := parseBlockField(f.Name)
		if err != nil {
			return damaged(p.ID, "bucket field %q", f.Name)
		}
		b := &bucket{enc: f.Value}
		if !keepAsIs {
			b = &bucket{dec: vecs{}, dirty: true}
		}
		lengthErr := false
		var walkErr error
		p.scratch, walkErr = walkBlock(f.Value, p.scratch, func(shop, agent []byte, v []int64) {
			vp := lp.shop
			if len(agent) > 0 {
				vp = lp.agent
			}
			if len(v) != vp.stored {
				lengthErr = true
				return
			}
			if !keepAsIs {
				b.dec[p.owners.idBytes(shop, agent)] = vp.apply(v)
			}
		})
		if walkErr != nil || lengthErr {
			return damaged(p.ID, "bucket %s does not decode", f.Name)
		}
		p.blocks[key] = b
		if !keepAsIs {
			p.decoded[key] = struct{}{}
			rewrite = append(rewrite, key)
		}
	}
	for _, f := range s.Convs {
		c, replies, err := decodeConv(f.Value)
		if errors.Is(err, errNewerCodec) {
			return newer(p.ID, "conversation %q is encoded by a newer build", f.Name)
		}
		if err != nil {
			return damaged(p.ID, "conversation %q does not decode", f.Name)
		}
		c.key = f.Name
		p.convs[f.Name] = c
		if c.open {
			p.open[c] = struct{}{}
		}
		if len(replies) > 0 {
			p.recent[c] = replies
		}
	}
	for _, f := range s.IDs {
		t, minute, err := parseIDField(f.Name)
		if err != nil {
			return damaged(p.ID, "id field %q", f.Name)
		}
		im := p.idMinutes[t][minute]
		if im == nil {
			im = &idMinute{}
			p.idMinutes[t][minute] = im
		}
		im.fields = append(im.fields, f.Name)
		if err := forEachID(f.Value, func(id string, anchor int64) {
			k := p.idKey(id)
			im.keys = append(im.keys, k)
			if old, ok := p.ids[t][k]; !ok || anchor > old {
				p.ids[t][k] = anchor
			}
		}); err != nil {
			return damaged(p.ID, "id field %q does not decode", f.Name)
		}
	}
	p.clearDirty()
	for _, k := range rewrite {
		p.dirtyB[k] = struct{}{}
	}
	return nil
}

// Since calls fn with each family that counts only from a time on, because the state it was
// loaded from lacked it (an upgrade), and that time: the partition's stream time then.
func (p *Partition) Since(fn func(f kpi.ID, since int64)) {
	for id, ts := range p.since {
		fn(id, ts)
	}
}
