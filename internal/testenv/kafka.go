package testenv

import (
	"crypto/tls"
	"net"
	"strconv"
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
	// Brokers are the bootstrap host:port addresses, on 127.0.0.1. They stay the same
	// across Stop and Start.
	Brokers []string
	// Cluster gives fault tests direct control (Control, MoveTopicPartition, ...). Start
	// replaces it.
	Cluster *kfake.Cluster

	opts []kfake.Opt
}

// KafkaOptions configures StartKafkaWith. The zero value is StartKafka's broker.
type KafkaOptions struct {
	// Partitions of every seeded topic (at least 1).
	Partitions int
	// Topics are created at start.
	Topics []string
	// Port to listen on; 0 picks a free one. A fault test that starts a client before the
	// broker passes a port from FreePort here.
	Port int
	// DataDir makes the broker persist its logs, groups and committed offsets there, so
	// that Stop and Start keep them, like a broker restart. "" keeps everything in memory.
	DataDir string
	// TLS serves TLS only, with this server configuration.
	TLS *tls.Config
	// SASL enables SASL authentication with these superusers (mechanism "PLAIN",
	// "SCRAM-SHA-256" or "SCRAM-SHA-512", user, password).
	SASL []SASLUser
	// Opts are further kfake options, applied last.
	Opts []kfake.Opt
}

// SASLUser is one SASL account of the broker.
type SASLUser struct{ Mechanism, User, Password string }

// StartKafka starts a single-broker kfake cluster with the given topics created, each
// with partitions partitions, and closes it in t.Cleanup. One broker keeps start-up and
// metadata trivial; the code under test does not depend on the broker count.
func StartKafka(t testing.TB, partitions int, topics ...string) *Kafka {
	t.Helper()
	return StartKafkaWith(t, KafkaOptions{Partitions: partitions, Topics: topics})
}

// StartKafkaWith is StartKafka with a chosen port, persistence, TLS or SASL.
func StartKafkaWith(t testing.TB, opt KafkaOptions) *Kafka {
	t.Helper()
	if opt.Partitions < 1 {
		t.Fatalf("testenv: StartKafka needs at least one partition, got %d", opt.Partitions)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.GroupMinSessionTimeout(kafkaMinSessionTimeout),
	}
	if len(opt.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(opt.Partitions), opt.Topics...))
	}
	if opt.Port != 0 {
		opts = append(opts, kfake.Ports(opt.Port))
	}
	if opt.DataDir != "" {
		opts = append(opts, kfake.DataDir(opt.DataDir))
	}
	if opt.TLS != nil {
		opts = append(opts, kfake.TLS(opt.TLS))
	}
	if len(opt.SASL) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range opt.SASL {
			opts = append(opts, kfake.Superuser(u.Mechanism, u.User, u.Password))
		}
	}
	opts = append(opts, opt.Opts...)
	k := &Kafka{opts: opts}
	k.Start(t)
	t.Cleanup(func() {
		if k.Cluster != nil {
			k.Cluster.Close()
		}
	})
	return k
}

// Start (re)starts the broker. After Stop it listens on the same port again, with the
// logs and offsets kept when the broker was started with a DataDir.
func (k *Kafka) Start(t testing.TB) {
	t.Helper()
	if k.Cluster != nil {
		t.Fatalf("testenv: kafka %v is already running", k.Brokers)
	}
	opts := k.opts
	if len(k.Brokers) > 0 {
		// Listen where clients already look; a later Ports option wins over an earlier one.
		_, p, err := net.SplitHostPort(k.Brokers[0])
		port, _ := strconv.Atoi(p)
		if err != nil || port == 0 {
			t.Fatalf("testenv: kafka address %q: %v", k.Brokers[0], err)
		}
		opts = append(append([]kfake.Opt(nil), opts...), kfake.Ports(port))
	}
	// The port was released a moment ago (Stop) or picked by FreePort; on a busy machine
	// the kernel may need a moment before it can be bound again.
	deadline := time.Now().Add(10 * time.Second)
	c, err := kfake.NewCluster(opts...)
	for err != nil && time.Now().Before(deadline) {
		time.Sleep(pollInterval)
		c, err = kfake.NewCluster(opts...)
	}
	if err != nil {
		t.Fatalf("testenv: starting kfake: %v", err)
	}
	k.Cluster = c
	k.Brokers = c.ListenAddrs()
}

// Stop closes the broker: its port refuses connections until Start. With a DataDir, the
// state is saved first, as a clean broker shutdown would.
func (k *Kafka) Stop(t testing.TB) {
	t.Helper()
	if k.Cluster == nil {
		t.Fatalf("testenv: kafka %v is not running", k.Brokers)
	}
	k.Cluster.Close()
	k.Cluster = nil
}
