package pipeline

import (
	"sort"

	"github.com/segmentio/kafka-go"
)

// coPartition assigns partition numbers, not topic-partitions: the member that owns number
// p owns partition p of every topic. A conversation's messages and orders share a partition
// number (SPEC §1), and its state is kept under that number, so both must be read by one
// worker. kafka-go's range balancer happens to do this when partition counts match; this one
// does it by construction.
type coPartition struct{}

func (coPartition) ProtocolName() string      { return "cskpi-copartition" }
func (coPartition) UserData() ([]byte, error) { return nil, nil }

func (coPartition) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	sort.Strings(ids)
	numbers := map[int]bool{}
	for _, p := range partitions {
		numbers[p.ID] = true
	}
	sorted := make([]int, 0, len(numbers))
	for n := range numbers {
		sorted = append(sorted, n)
	}
	sort.Ints(sorted)
	owner := map[int]string{}
	for i, n := range sorted {
		owner[n] = ids[i%len(ids)]
	}
	out := kafka.GroupMemberAssignments{}
	for _, m := range members {
		out[m.ID] = map[string][]int{}
	}
	for _, p := range partitions {
		m := owner[p.ID]
		out[m][p.Topic] = append(out[m][p.Topic], p.ID)
	}
	for _, byTopic := range out {
		for t := range byTopic {
			sort.Ints(byTopic[t])
		}
	}
	return out
}
