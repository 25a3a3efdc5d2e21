package difftest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/testenv"
)

// Proc is one `cskpi serve` child process with its log captured to a file. It is killed
// in t.Cleanup if still running, and its log is printed when the test failed.
type Proc struct {
	t    testing.TB
	Name string
	// Base is the scheme, host and port of its HTTP server, e.g. http://127.0.0.1:9470.
	Base string
	// Client, User and Pass are used by Get and Metrics (TLS, basic auth).
	Client     *http.Client
	User, Pass string
	LogPath    string
	Cmd        *exec.Cmd

	exited  chan struct{}
	mu      sync.Mutex
	waitErr error
}

// ServeOptions shape StartServe.
type ServeOptions struct {
	Name string // for logs; default "serve"
	// Args follow "serve"; --web.listen-address is added (a free port) unless given.
	Args []string
	// Env is added to the environment (KEY=value).
	Env []string
	// Scheme of Base: "http" (default) or "https".
	Scheme string
	// LogPath appends to this file instead of a new one, so that restarts share a log.
	LogPath string
}

// StartServe starts bin serve with opt.Args.
func StartServe(t testing.TB, bin string, opt ServeOptions) *Proc {
	t.Helper()
	if opt.Name == "" {
		opt.Name = "serve"
	}
	if opt.Scheme == "" {
		opt.Scheme = "http"
	}
	args := append([]string{"serve"}, opt.Args...)
	listen := ""
	for _, a := range opt.Args {
		if v, ok := strings.CutPrefix(a, "--web.listen-address="); ok {
			listen = v
		}
	}
	if listen == "" {
		listen = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
		args = append(args, "--web.listen-address="+listen)
	}
	if opt.LogPath == "" {
		opt.LogPath = filepath.Join(t.TempDir(), opt.Name+".log")
	}
	logf, err := os.OpenFile(opt.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), opt.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = testenv.ChildProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("difftest: starting %s: %v", opt.Name, err)
	}
	logf.Close()
	p := &Proc{t: t, Name: opt.Name, Base: opt.Scheme + "://" + listen, Client: &http.Client{Timeout: 5 * time.Second},
		LogPath: opt.LogPath, Cmd: cmd, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.Alive() {
			_ = cmd.Process.Signal(syscall.SIGCONT) // a stopped process ignores nothing but SIGKILL; be tidy
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if _, dup := printed.LoadOrStore(t.Name()+"\x00"+p.LogPath, true); t.Failed() && !dup {
			t.Logf("%s log (%s):\n%s", p.Name, p.LogPath, tail(p.Log(), 200))
		}
	})
	return p
}

// printed remembers the logs already printed for a failed test: restarts share a file.
var printed sync.Map

// Alive reports whether the process has not exited.
func (p *Proc) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() {
	p.t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil && p.Alive() {
		p.t.Fatalf("difftest: killing %s: %v", p.Name, err)
	}
	<-p.exited
}

// Stop sends SIGTERM and waits (bounded) for the exit; it fails the test unless the
// process ended cleanly with status 0.
func (p *Proc) Stop() {
	p.t.Helper()
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.exited
		p.t.Fatalf("difftest: %s did not end within 30s of SIGTERM", p.Name)
	}
	if err := p.ExitErr(); err != nil {
		p.t.Errorf("difftest: %s ended with %v after SIGTERM", p.Name, err)
	}
}

// Signal sends sig (SIGSTOP, SIGCONT, ...).
func (p *Proc) Signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("difftest: signalling %s: %v", p.Name, err)
	}
}

// ExitErr is the process's exit error once it has exited (nil for status 0).
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Log is everything the process wrote so far (and earlier processes sharing the file).
func (p *Proc) Log() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// Get GETs path with the process's client and credentials and returns status and body.
func (p *Proc) Get(path string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, p.Base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if p.User != "" {
		req.SetBasicAuth(p.User, p.Pass)
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Scrape returns /metrics, with an error for any status but 200.
func (p *Proc) Scrape() ([]byte, error) {
	code, b, err := p.Get("/metrics")
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("%s /metrics: status %d", p.Name, code)
	}
	return b, err
}

// Metrics scrapes and parses every sample (see ParseAll).
func (p *Proc) Metrics() (map[string]float64, error) {
	b, err := p.Scrape()
	if err != nil {
		return nil, err
	}
	return ParseAll(b)
}

// Ready returns the status code of /-/ready (0 when the server does not answer).
func (p *Proc) Ready() int {
	code, _, err := p.Get("/-/ready")
	if err != nil {
		return 0
	}
	return code
}

// Metric returns one sample (see SampleKey) and whether the scrape had it.
func (p *Proc) Metric(name string, kv ...string) (float64, bool) {
	m, err := p.Metrics()
	if err != nil {
		return 0, false
	}
	v, ok := m[SampleKey(name, kv...)]
	return v, ok
}

// AwaitMetric waits until sample name{kv} satisfies cond, and returns its value.
func (p *Proc) AwaitMetric(timeout time.Duration, cond func(float64) bool, name string, kv ...string) float64 {
	p.t.Helper()
	var v float64
	testenv.WaitFor(p.t, timeout, fmt.Sprintf("%s: %s", p.Name, SampleKey(name, kv...)), func() bool {
		var ok bool
		v, ok = p.Metric(name, kv...)
		return ok && cond(v)
	})
	return v
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = append([]string{fmt.Sprintf("... %d earlier lines", len(ls)-lines)}, ls[len(ls)-lines:]...)
	}
	return strings.Join(ls, "\n")
}

// ServeArgs are the serve flags of a test instance: the event clock, short sessions so that
// a member that leaves is replaced within a second or two, and batches of batch records so
// that a log is consumed in many commits (more places for a fault or a kill to land).
func ServeArgs(brokers []string, redisAddr, group string, batch int, extra ...string) []string {
	return append([]string{
		"--kafka.brokers=" + strings.Join(brokers, ","),
		"--kafka.group=" + group,
		"--kafka.session-timeout=1s",
		"--kafka.rebalance-timeout=1s",
		"--redis.addr=" + redisAddr,
		"--clock=event",
		"--batch.size=" + strconv.Itoa(batch),
	}, extra...)
}
