package testenv

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kafkaMinSessionTimeout lets consumers ask for short sessions, so a consumer that a
// fault test kills is evicted from its group within about a second instead of kfake's
// default minimum of 6s.
const kafkaMinSessionTimeout = time.Second

// Kafka is an in-process Kafka-protocol broker (kfake) owned by one test.
type Kafka struct {
	// Brokers are the bootstrap host:port addresses, on 127.0.0.1.
	Brokers []string
	// Cluster gives fault tests direct control (Control, MoveTopicPartition, ...).
	Cluster *kfake.Cluster
}

// StartKafka starts a single-broker kfake cluster with the given topics created, each
// with partitions partitions, and closes it in t.Cleanup. One broker keeps start-up and
// metadata trivial; the code under test does not depend on the broker count.
func StartKafka(t testing.TB, partitions int, topics ...string) *Kafka {
	t.Helper()
	if partitions < 1 {
		t.Fatalf("testenv: StartKafka needs at least one partition, got %d", partitions)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.GroupMinSessionTimeout(kafkaMinSessionTimeout),
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(partitions), topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("testenv: starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &Kafka{Brokers: c.ListenAddrs(), Cluster: c}
}
