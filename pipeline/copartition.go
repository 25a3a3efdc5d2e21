package pipeline

import (
	"log/slog"
	"sort"

	"github.com/segmentio/kafka-go"
)

// coPartition assigns partition numbers, not topic-partitions: the member that owns number
// p owns partition p of every topic. A conversation's messages and orders share a partition
// number (CONTRACT §1), and its state is kept under that number, so both must be read by one
// worker. kafka-go's range balancer happens to do this when partition counts match; this one
// does it by construction.
//
// Topics with different partition counts are not co-partitioned: a conversation's messages
// and orders would be keyed to different partition numbers, and every join between them
// would be silently wrong. The balancer then assigns nothing to anyone and says why, as
// goka's copartitioning strategy refuses such a group; the members stay unready
// (cskpi_partitions_owned 0) until the topics are fixed.
type coPartition struct{ log *slog.Logger }

func (coPartition) ProtocolName() string      { return "cskpi-copartition" }
func (coPartition) UserData() ([]byte, error) { return nil, nil }

func (b coPartition) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	out := kafka.GroupMemberAssignments{}
	for _, m := range members {
		out[m.ID] = map[string][]int{}
	}
	if counts, ok := coPartitioned(partitions); !ok {
		if b.log != nil {
			b.log.Error("REFUSING TO ASSIGN PARTITIONS: the input topics are not co-partitioned "+
				"(CONTRACT: both topics must have the same partition count, keyed by conversation with the "+
				"murmur2 partitioner). Give them the same partition count and restart.",
				"partitions_per_topic", counts)
		}
		return out
	}
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

// coPartitioned reports whether every topic has the same partition numbers.
func coPartitioned(partitions []kafka.Partition) (map[string]int, bool) {
	numbers := map[string]map[int]bool{}
	for _, p := range partitions {
		if numbers[p.Topic] == nil {
			numbers[p.Topic] = map[int]bool{}
		}
		numbers[p.Topic][p.ID] = true
	}
	counts := map[string]int{}
	var first map[int]bool
	ok := true
	for t, ns := range numbers {
		counts[t] = len(ns)
		if first == nil {
			first = ns
			continue
		}
		if len(ns) != len(first) {
			ok = false
			continue
		}
		for n := range ns {
			ok = ok && first[n]
		}
	}
	return counts, ok
}
