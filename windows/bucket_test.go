package windows

import (
	"maps"
	"slices"
	"testing"
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
