package pipeline

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
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

// TestCoPartitionRefusesMismatchedTopics: topics with different partition counts (or
// numbers) get no assignment at all, and an ERROR that says what to fix.
func TestCoPartitionRefusesMismatchedTopics(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []kafka.Partition
	}{
		{"6 and 4 partitions", append(numbered("m", 0, 1, 2, 3, 4, 5), numbered("o", 0, 1, 2, 3)...)},
		{"same count, other numbers", append(numbered("m", 0, 1), numbered("o", 0, 2)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			b := coPartition{log: slog.New(slog.NewTextHandler(&log, nil))}
			members := []kafka.GroupMember{{ID: "a", Topics: []string{"m", "o"}}, {ID: "b", Topics: []string{"m", "o"}}}
			got := b.AssignGroups(members, tc.parts)
			for m, byTopic := range got {
				if len(byTopic) != 0 {
					t.Errorf("member %s assigned %v", m, byTopic)
				}
			}
			if len(got) != 2 {
				t.Errorf("assignments for %d members, want an empty one for each of 2", len(got))
			}
			if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "not co-partitioned") {
				t.Errorf("no ERROR naming the cause:\n%s", log.String())
			}
		})
	}
}

func numbered(topic string, ids ...int) []kafka.Partition {
	out := make([]kafka.Partition, len(ids))
	for i, id := range ids {
		out[i] = kafka.Partition{Topic: topic, ID: id}
	}
	return out
}
