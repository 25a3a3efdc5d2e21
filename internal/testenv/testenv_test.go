package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestRedisRestartKeepsAOFData(t *testing.T) {
	tests := []struct {
		name string
		down func(*Redis, testing.TB)
	}{
		{"shutdown", (*Redis).Stop},
		{"kill", (*Redis).Kill},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := StartRedis(t, RedisOptions{AOF: true, Password: "s3cret"})
			c := r.Client(t)
			ctx := context.Background()
			if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
			if got := r.UsedMemory(t); got <= 0 {
				t.Errorf("UsedMemory = %d, want > 0", got)
			}

			tc.down(r, t)
			if conn, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil {
				conn.Close()
				t.Fatalf("port %s still accepts connections after %s", r.Addr, tc.name)
			}

			r.Start(t)
			got, err := c.Get(ctx, "k").Result()
			if err != nil || got != "v" {
				t.Fatalf("GET after restart = %q, %v; want \"v\"", got, err)
			}
		})
	}
}

func TestRedisWithoutAOFStartsEmpty(t *testing.T) {
	r := StartRedis(t, RedisOptions{})
	c := r.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	r.Stop(t)
	r.Start(t)
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS after restart = %d, %v; want 0 (no persistence configured)", n, err)
	}
}

func TestInfoField(t *testing.T) {
	info := "# Memory\r\nused_memory:1234\r\nused_memory_human:1.21K\r\n"
	tests := []struct {
		field   string
		want    int64
		wantErr bool
	}{
		{"used_memory", 1234, false},
		{"used_memory_human", 0, true},
		{"absent", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			got, err := infoField(info, tc.field)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("infoField(%q) = %d, %v; want %d, err=%v", tc.field, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestKafkaProduceAndFetch(t *testing.T) {
	const topic = "messages"
	k := StartKafka(t, 3, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	w := &kafka.Writer{
		Addr:  kafka.TCP(k.Brokers...),
		Topic: topic,
		// Everything on partition 0, so a single-partition reader sees it all.
		Balancer:     kafka.BalancerFunc(func(_ kafka.Message, partitions ...int) int { return partitions[0] }),
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond,
	}
	defer w.Close()
	want := []string{"a", "b", "c"}
	var msgs []kafka.Message
	for i, v := range want {
		msgs = append(msgs, kafka.Message{Key: []byte(strconv.Itoa(i)), Value: []byte(v)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("WriteMessages: %v", err)
	}

	tests := []struct {
		name string
		cfg  kafka.ReaderConfig
	}{
		{"partition", kafka.ReaderConfig{Partition: 0}},
		{"group", kafka.ReaderConfig{
			GroupID:        "testenv",
			StartOffset:    kafka.FirstOffset,
			SessionTimeout: kafkaMinSessionTimeout,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Brokers = k.Brokers
			cfg.Topic = topic
			cfg.MaxWait = 50 * time.Millisecond
			r := kafka.NewReader(cfg)
			defer r.Close()
			var got []string
			for range want {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					t.Fatalf("ReadMessage after %v: %v", got, err)
				}
				got = append(got, string(m.Value))
			}
			sort.Strings(got)
			if len(got) != len(want) || got[0] != "a" || got[1] != "b" || got[2] != "c" {
				t.Fatalf("read %v, want %v", got, want)
			}
		})
	}
}

func TestWaitForReturnsOnceTrue(t *testing.T) {
	n := 0
	WaitFor(t, 5*time.Second, "third poll", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
}

func TestFreePortIsBindable(t *testing.T) {
	port := FreePort(t)
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("binding free port %d: %v", port, err)
	}
	ln.Close()
}

func TestBuildCskpi(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	// The command is written alongside this package; until it exists there is
	// nothing to build.
	if _, err := os.Stat(filepath.Join("..", "..", "cmd", "cskpi")); err != nil {
		t.Skipf("cmd/cskpi not present yet: %v", err)
	}
	bin := BuildCskpi(t)
	info, err := os.Stat(bin)
	if err != nil || info.Mode()&0o111 == 0 {
		t.Fatalf("built binary %s: %v, mode %v", bin, err, info.Mode())
	}
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("binary not executable: %v", err)
	}
}

// TestPrometheusQueries: a Prometheus of the test's own scrapes a target, evaluates a rule
// file written next to its config, and answers queries; a bad query is an error.
func TestPrometheusQueries(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "testenv_answer 42")
	}))
	defer target.Close()
	p := StartPrometheus(t, PrometheusOptions{
		Config: `
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [answer.yml]
scrape_configs:
  - job_name: answer
    static_configs: [{targets: ["` + strings.TrimPrefix(target.URL, "http://") + `"]}]
`,
		Files: map[string][]byte{
			"answer.yml": []byte("groups: [{name: answer, rules: [{record: 'job:testenv_answer:sum', expr: 'sum by (job) (testenv_answer)'}]}]\n"),
		},
	})
	ctx := context.Background()
	var got []Sample
	WaitFor(t, 20*time.Second, "the recording rule's first sample", func() bool {
		var err error
		got, err = p.Query(ctx, "job:testenv_answer:sum")
		return err == nil && len(got) == 1
	})
	if got[0].Value != 42 || got[0].Metric["job"] != "answer" {
		t.Errorf("job:testenv_answer:sum = %+v, want 42 with job=answer", got[0])
	}
	if _, err := p.Query(ctx, "sum(("); err == nil {
		t.Error("a malformed query gave no error")
	}
	if _, err := p.Query(ctx, "time()"); err == nil {
		t.Error("a scalar query gave no error; Query promises vectors")
	}
}

// TestRedisCluster: three masters share the slots, and a cluster client reaches keys on
// every one of them.
func TestRedisCluster(t *testing.T) {
	c := StartRedisCluster(t, 3)
	cl := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for p := range 16 {
		if err := cl.HSet(ctx, fmt.Sprintf("cskpi:{p%d}:meta", p), "v", "7").Err(); err != nil {
			t.Fatal(err)
		}
	}
	held := 0
	for _, r := range c.Nodes {
		n, err := r.Client(t).DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			held++
		}
	}
	if held != 3 {
		t.Errorf("16 partitions' keys on %d of 3 masters", held)
	}
}
