package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cskpi/cskpi/internal/testenv"
)

// brokerEnv, when set, makes the test binary a Kafka-protocol broker in its own process
// ("<port>,<partitions>"): the freshness runs keep the broker's goroutines, its garbage
// and its scheduler apart from the producer's and the benchmark's, as a real deployment
// does. It serves until its stdin closes, so it never outlives the benchmark.
const brokerEnv = "CSKPI_BENCH_BROKER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(brokerEnv); spec != "" {
		os.Exit(runBroker(spec))
	}
	os.Exit(m.Run())
}

func runBroker(spec string) int {
	port, parts, ok := strings.Cut(spec, ",")
	p, err1 := strconv.Atoi(port)
	n, err2 := strconv.Atoi(parts)
	if !ok || err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "bad", brokerEnv, spec)
		return 2
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(p),
		kfake.SeedTopics(int32(n), topicM, topicO, topicDL), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	c.Close()
	return 0
}

// brokerProc is a broker in a child process.
type brokerProc struct {
	cmd     *exec.Cmd
	stdin   io.Closer
	Brokers []string
}

func startBrokerProc(t testing.TB, partitions int) *brokerProc {
	t.Helper()
	port := testenv.FreePort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", brokerEnv, port, partitions))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &brokerProc{cmd: cmd, stdin: stdin, Brokers: []string{"127.0.0.1:" + strconv.Itoa(port)}}
	t.Cleanup(b.stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("broker process did not start: %q %v", line, err)
	}
	return b
}

func (b *brokerProc) stop() {
	if b.cmd.ProcessState != nil {
		return
	}
	_ = b.stdin.Close()
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
}
