package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	redisInstall = "apt-get install -y redis-server"
	// redisStartTimeout is generous because replaying a large AOF on a loaded CI
	// machine takes a while; a healthy start takes ~20ms.
	redisStartTimeout = 15 * time.Second
	redisStopTimeout  = 10 * time.Second
	redisLogName      = "redis.log"
)

// RedisOptions configures StartRedis.
type RedisOptions struct {
	// AOF turns on the append-only file with appendfsync always, so that everything
	// Redis acknowledged survives Stop and even Kill; restart-recovery tests rely on it.
	AOF bool
	// Password sets requirepass; Client and the helpers authenticate with it.
	Password string
	// Args are extra redis-server arguments ("--maxmemory", "1mb", ...). They come
	// last, and redis-server lets a later setting override an earlier one.
	Args []string
}

// Redis is a redis-server process owned by one test. Its methods must be called from the
// test's goroutine, as they may call t.Fatal.
type Redis struct {
	// Addr is host:port on 127.0.0.1; it stays the same across Stop and Start.
	Addr string
	// Password is the requirepass value, "" when none.
	Password string
	// Dir is the working directory: AOF/RDB files and redis.log live here.
	Dir string

	bin  string
	args []string

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// StartRedis starts a redis-server of the test's own on a free port, with RDB snapshots
// off so nothing but the AOF (when asked for) touches the disk, and waits until it
// answers PING. It is killed in t.Cleanup.
func StartRedis(t testing.TB, opt RedisOptions) *Redis {
	t.Helper()
	bin := requireTool(t, "redis-server", redisInstall)
	// TempDir before Cleanup: cleanups run last-registered first, so the process is dead
	// before its directory is removed.
	dir := t.TempDir()
	port := FreePort(t)
	appendonly := "no"
	if opt.AOF {
		appendonly = "yes"
	}
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--daemonize", "no",
		"--save", "",
		"--appendonly", appendonly,
		"--appendfsync", "always",
		"--loglevel", "warning",
	}
	if opt.Password != "" {
		args = append(args, "--requirepass", opt.Password)
	}
	args = append(args, opt.Args...)
	r := &Redis{
		Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Password: opt.Password,
		Dir:      dir,
		bin:      bin,
		args:     args,
	}
	t.Cleanup(func() {
		if r.running() {
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	})
	r.Start(t)
	return r
}

// Start (re)starts the server on the same port and directory, so an AOF written before
// Stop or Kill is replayed, and waits until PING answers.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if r.running() {
		t.Fatalf("testenv: redis %s is already running", r.Addr)
	}
	logf, err := os.OpenFile(filepath.Join(r.Dir, redisLogName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("testenv: redis log: %v", err)
	}
	cmd := exec.Command(r.bin, r.args...)
	cmd.Dir = r.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("testenv: starting redis-server: %v", err)
	}
	// The child holds its own descriptor for the log.
	logf.Close()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	r.cmd, r.exited = cmd, exited

	c := r.newClient()
	defer c.Close()
	WaitFor(t, redisStartTimeout, "redis-server "+r.Addr+" to answer PING", func() bool {
		select {
		case <-exited:
			t.Fatalf("testenv: redis-server exited during start-up (%v); log:\n%s", cmd.ProcessState, r.log())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	})
}

// Stop shuts the server down cleanly (SHUTDOWN NOSAVE, which still flushes the AOF),
// falling back to SIGKILL if it does not exit in time, and waits until the port is
// closed, so that clients see connection refused from then on.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	if !r.running() {
		t.Fatalf("testenv: redis %s is not running", r.Addr)
	}
	c := r.newClient()
	ctx, cancel := context.WithTimeout(context.Background(), redisStopTimeout)
	// The error is expected: the server drops the connection instead of replying.
	_ = c.ShutdownNoSave(ctx).Err()
	cancel()
	c.Close()
	select {
	case <-r.exited:
	case <-time.After(redisStopTimeout):
		t.Logf("testenv: redis %s ignored SHUTDOWN for %v; killing it", r.Addr, redisStopTimeout)
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
	r.waitPortClosed(t)
}

// Kill ends the server with SIGKILL, the way a crash or an OOM kill would, and waits
// until the port is closed. With AOF on, every acknowledged write is still on disk.
func (r *Redis) Kill(t testing.TB) {
	t.Helper()
	if !r.running() {
		t.Fatalf("testenv: redis %s is not running", r.Addr)
	}
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatalf("testenv: killing redis: %v", err)
	}
	<-r.exited
	r.waitPortClosed(t)
}

// Client returns a go-redis client for this server, closed in t.Cleanup.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := r.newClient()
	t.Cleanup(func() { c.Close() })
	return c
}

// UsedMemory reports INFO memory's used_memory in bytes.
func (r *Redis) UsedMemory(t testing.TB) int64 {
	t.Helper()
	return r.MemoryInfo(t, "used_memory")
}

// MemoryInfo reports one integer field of INFO memory, e.g. used_memory_dataset, which
// leaves out the clients' buffers that a large script call in flight would add.
func (r *Redis) MemoryInfo(t testing.TB, field string) int64 {
	t.Helper()
	c := r.newClient()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatalf("testenv: INFO memory: %v", err)
	}
	v, err := infoField(info, field)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return v
}

// infoField extracts one integer field from an INFO reply.
func infoField(info, name string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		key, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && key == name {
			return strconv.ParseInt(val, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO has no field %q", name)
}

func (r *Redis) running() bool {
	if r.exited == nil {
		return false
	}
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

func (r *Redis) newClient() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:     r.Addr,
		Password: r.Password,
		// One attempt per call: the helpers do their own polling, and retries would
		// stretch each poll past the wait's deadline.
		MaxRetries:  -1,
		DialTimeout: time.Second,
		// redis-server 7.0 predates CLIENT SETINFO.
		DisableIdentity: true,
	})
}

func (r *Redis) waitPortClosed(t testing.TB) {
	t.Helper()
	WaitFor(t, redisStopTimeout, "redis port "+r.Addr+" to close", func() bool {
		conn, err := net.DialTimeout("tcp", r.Addr, 200*time.Millisecond)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
}

func (r *Redis) log() string {
	b, err := os.ReadFile(filepath.Join(r.Dir, redisLogName))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}
