package pipeline

import (
	"fmt"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestCoPartitionKeepsPartitionNumbersTogether(t *testing.T) {
	parts := func(counts map[string]int) []kafka.Partition {
		var out []kafka.Partition
		for topic, n := range counts {
			for i := range n {
				out = append(out, kafka.Partition{Topic: topic, ID: i})
			}
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		members int
		counts  map[string]int
	}{
		{"one member", 1, map[string]int{"m": 4, "o": 4}},
		{"three members, eight partitions", 3, map[string]int{"m": 8, "o": 8}},
		{"more members than partitions", 5, map[string]int{"m": 2, "o": 2}},
		{"mismatched counts still co-locate shared numbers", 2, map[string]int{"m": 6, "o": 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var members []kafka.GroupMember
			for i := range tc.members {
				members = append(members, kafka.GroupMember{ID: fmt.Sprint("member-", i), Topics: []string{"m", "o"}})
			}
			got := coPartition{}.AssignGroups(members, parts(tc.counts))
			owner := map[int]string{}
			total := 0
			for member, byTopic := range got {
				for _, ps := range byTopic {
					for _, p := range ps {
						total++
						if o, ok := owner[p]; ok && o != member {
							t.Errorf("partition %d split between %s and %s", p, o, member)
						}
						owner[p] = member
					}
				}
			}
			if want := tc.counts["m"] + tc.counts["o"]; total != want {
				t.Errorf("assigned %d topic-partitions, want %d", total, want)
			}
		})
	}
}
