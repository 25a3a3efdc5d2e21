package pipeline

import (
	"slices"
	"testing"
	"time"
)

func TestClaimWatch(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	all := []bool{true, true, true, true}
	p2 := []bool{true, true, false, true}
	type step struct {
		sec     int
		claimed []bool
		want    []int
	}
	tests := []struct {
		name     string
		genStart time.Time // zero: between generations
		steps    []step
	}{
		{"all claimed: never", at(0), []step{{0, all, nil}, {30, all, nil}, {60, all, nil}}},
		{"unclaimed for the grace in a settled generation", at(0), []step{
			{1, p2, nil}, {4, p2, nil}, {5, p2, []int{2}}}},
		{"claimed again in between: the clock starts over", at(0), []step{
			{1, p2, nil}, {4, all, nil}, {5, p2, nil}, {8, p2, nil}, {9, p2, []int{2}}}},
		{"a young generation waits for its own grace", at(20), []step{
			{1, p2, nil}, {21, p2, nil}, {23, p2, nil}, {24, p2, []int{2}}}},
		{"between generations: never", time.Time{}, []step{{1, p2, nil}, {30, p2, nil}}},
		{"at most once per session + rebalance timeout", at(0), []step{
			{1, p2, nil}, {5, p2, []int{2}}, {6, p2, nil}, {10, p2, nil}, {19, p2, nil}, {20, p2, []int{2}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := claimWatch{grace: 4 * time.Second, every: 15 * time.Second}
			for _, s := range tc.steps {
				if got := w.observe(at(s.sec), s.claimed, tc.genStart); !slices.Equal(got, s.want) {
					t.Fatalf("at %ds: rejoin for %v, want %v", s.sec, got, s.want)
				}
			}
		})
	}
}
