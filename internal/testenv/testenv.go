package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pollInterval keeps waits responsive without spinning a core that the code under test
// needs on a 2-core machine.
const pollInterval = 20 * time.Millisecond

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. The port is
// released before returning, so another process could in principle grab it; for test
// servers that bind right away the window is small enough in practice.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: finding a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("testenv: releasing port %d: %v", port, err)
	}
	return port
}

// WaitFor polls cond every ~20ms until it returns true, and fails the test when timeout
// passes first. what names the awaited condition in the failure message. Like t.Fatal it
// must be called from the goroutine running the test.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
}

// RequireTool returns the path of an executable, or ends the test: fatally under CI, and
// as a loud skip elsewhere. install tells the reader how to get it.
func RequireTool(t testing.TB, name, install string) string {
	t.Helper()
	return requireTool(t, name, install)
}

// requireTool returns the path of an executable, or ends the test: fatally under CI,
// where a missing tool means the pipeline is broken, and as a loud skip elsewhere.
func requireTool(t testing.TB, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("testenv: %s not installed and CI is set: CI must run this test; %s", name, install)
	}
	t.Skipf("SKIPPING: %s not installed; %s", name, install)
	return ""
}

// BuildCskpi builds ./cmd/cskpi from the module containing the current test into
// t.TempDir() and returns the binary's path. It builds once per call rather than caching
// per process: the Go build cache makes a rebuild mostly a link step, and this keeps the
// helper free of shared state between parallel tests.
func BuildCskpi(t testing.TB) string {
	t.Helper()
	requireTool(t, "go", "install Go from https://go.dev/dl")
	bin := filepath.Join(t.TempDir(), "cskpi")
	if err := BuildCskpiTo(bin); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return bin
}

// BuildCskpiTo builds ./cmd/cskpi as the executable bin. It is for a TestMain that builds
// once for a whole package of process-level tests.
func BuildCskpiTo(bin string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go not installed (install Go from https://go.dev/dl): %w", err)
	}
	// GOMOD, not the working directory, because tests run in their own package's
	// directory, anywhere inside the module.
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return fmt.Errorf("not inside a Go module (GOMOD=%q)", gomod)
	}
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/cskpi")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building cskpi: %w\n%s", err, out)
	}
	return nil
}

// ChildProcAttr is what a test gives a child process it starts (exec.Cmd.SysProcAttr):
// on Linux the kernel kills the child when the test binary dies, so a server never
// outlives a run that panicked before its t.Cleanup, and the child has a process group
// of its own, so that only the signals the test sends it reach it.
func ChildProcAttr() *syscall.SysProcAttr { return isolatedProcAttr() }
