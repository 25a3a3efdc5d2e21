package testenv

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is Redis Cluster's number of hash slots.
const clusterSlots = 16384

// RedisCluster is a Redis Cluster of masters only, each a redis-server of the test's own
// (StartRedis), with the slots split evenly between them.
type RedisCluster struct {
	Nodes []*Redis
	// Addrs are the masters' host:port, the seed list a cluster client (and serve's
	// --redis.addr, comma separated) takes.
	Addrs []string
}

// StartRedisCluster starts masters redis-servers in cluster mode, gives each an equal range
// of the slots, joins them and waits until every node says the cluster is ok.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	if masters < 1 {
		t.Fatalf("testenv: a cluster of %d masters", masters)
	}
	c := &RedisCluster{}
	var bus []int
	for range masters {
		// The cluster bus port is given, not port+10000, which may be taken or out of range.
		bus = append(bus, FreePort(t))
		r := StartRedis(t, RedisOptions{Args: []string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
			"--cluster-port", strconv.Itoa(bus[len(bus)-1])}})
		c.Nodes = append(c.Nodes, r)
		c.Addrs = append(c.Addrs, r.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*redis.Client, masters)
	for i, r := range c.Nodes {
		clients[i] = r.Client(t)
	}
	for i, r := range c.Nodes {
		cl := clients[i]
		from, to := i*clusterSlots/masters, (i+1)*clusterSlots/masters-1
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", from, to).Err(); err != nil {
			t.Fatalf("testenv: CLUSTER ADDSLOTSRANGE on %s: %v", r.Addr, err)
		}
		if i == 0 {
			continue
		}
		host, port, _ := net.SplitHostPort(r.Addr)
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", host, port, bus[i]).Err(); err != nil {
			t.Fatalf("testenv: CLUSTER MEET %s: %v", r.Addr, err)
		}
	}
	WaitFor(t, 30*time.Second, fmt.Sprintf("a Redis Cluster of %d masters to be ok on every node", masters), func() bool {
		for _, cl := range clients {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(masters)+"\r") {
				return false
			}
		}
		return true
	})
	return c
}

// Client is a cluster client of the test's, closed in t.Cleanup.
func (c *RedisCluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { cl.Close() })
	return cl
}

// Addr is the seed list as serve's --redis.addr takes it.
func (c *RedisCluster) Addr() string { return strings.Join(c.Addrs, ",") }
