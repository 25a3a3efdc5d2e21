package windows

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/traffic/synth"
)

// TestMergeVecs: a cold bucket's delta merged into its encoding reads back as the sum, for
// owners in both, in either one, and for an empty bucket.
func TestMergeVecs(t *testing.T) {
	o := newOwners()
	a, b, c := o.id("s1", ""), o.id("s1", "agent"), o.id("s2", "")
	for _, tc := range []struct {
		name              string
		base, delta, want vecs
	}{
		{"owners in both", vecs{a: {1, 2}, b: {3, 4}}, vecs{a: {10, 0}, b: {0, -4}}, vecs{a: {11, 2}, b: {3, 0}}},
		{"a new owner", vecs{a: {1, 2}}, vecs{c: {5, 6}}, vecs{a: {1, 2}, c: {5, 6}}},
		{"some of each", vecs{a: {1, 2}, b: {7, 7}}, vecs{b: {1, 1}, c: {5, 6}}, vecs{a: {1, 2}, b: {8, 8}, c: {5, 6}}},
		{"an empty bucket", vecs{}, vecs{a: {1, 1}}, vecs{a: {1, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, _, err := mergeVecs(encodeVecs(&o, tc.base), maps.Clone(tc.delta), &o, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := vecs{}
			if _, err := walkBlock(enc, nil, func(shop, agent []byte, v []int64) {
				got[o.idBytes(shop, agent)] = slices.Clone(v)
			}); err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// encodeVecs encodes a decoded bucket, naming owners by the partition's table.
func encodeVecs(t *owners, m vecs) []byte { return appendVecs(nil, t, m) }

// TestSealedMatchesVectors: through realistic traffic, commits and cooling, every bucket a
// change set carries decodes to the bucket's vectors, and every cold bucket's encoding
// decodes: the entries a commit copies from the last one are still right.
func TestSealedMatchesVectors(t *testing.T) {
	cfg := testConfig(t)
	g := synth.New(synth.Config{Seed: 3, Shops: 40, Start: time.Now().Add(-40 * 24 * time.Hour), Rate: 20})
	p := NewPartition(0, cfg)
	clk := Clock{Wall: time.Now().UnixNano()}
	var d event.Decoder
	incremental := 0
	for n := 1; n <= 60000; n++ {
		r, err := jsonl.Parse(g.Next())
		if err != nil {
			t.Fatal(err)
		}
		if e, reason := d.Decode(r.Topic, r.Value); reason == event.OK {
			p.Admit(&e, &clk)
		}
		if n%(500+n%777) != 0 {
			continue
		}
		p.Expire(clk.Stream, clk)
		cs := p.Changes(nil)
		for _, f := range cs.Buckets {
			k, err := parseBlockField(f.Name)
			if err != nil {
				t.Fatal(err)
			}
			b := p.blocks[k]
			got := vecs{}
			if _, err := walkBlock(f.Value, nil, func(shop, agent []byte, v []int64) {
				got[p.owners.idBytes(shop, agent)] = slices.Clone(v)
			}); err != nil {
				t.Fatalf("bucket %s: %v", f.Name, err)
			}
			want := b.dec
			if want == nil {
				want = vecs{}
				p.eachVector(b, func(id ownerID, v []int64) { want[id] = slices.Clone(v) })
			} else if len(b.order) > 0 {
				incremental++
			}
			if !maps.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("after %d records, bucket %s encodes %d vectors that differ from its %d", n, f.Name, len(got), len(want))
			}
		}
		p.Committed(cs)
		for k, b := range p.blocks {
			if b.dec == nil {
				if _, err := walkBlock(b.enc, nil, func([]byte, []byte, []int64) {}); err != nil {
					t.Fatalf("cold bucket %v: %v", k, err)
				}
			}
		}
	}
	if incremental == 0 {
		t.Fatal("no bucket was sealed from its last encoding")
	}
}
