package upgrade_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// binEnv names a prebuilt binary to test instead of building today's work tree: e.g. the
// pre-issue build, to see which assertions fail without the change
// (CSKPI_UPGRADE_BIN=$(go env GOCACHE)/... or a scripts/build-commit.sh output).
const binEnv = "CSKPI_UPGRADE_BIN"

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// todayBin is today's cskpi binary, built once per package on first use (as `kpiserve`,
// like internal/faults' binary, so that nothing ending processes by the name cskpi ends
// it mid-test), or the binary $CSKPI_UPGRADE_BIN names.
func todayBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv(binEnv); p != "" {
			binPath = p
			if _, binErr = os.Stat(p); binErr != nil {
				binErr = fmt.Errorf("%s: %w", binEnv, binErr)
			}
			return
		}
		binDir, binErr = os.MkdirTemp("", "kpiupgrade-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "kpiserve")
		binErr = testenv.BuildCskpiTo(binPath)
	})
	if binErr != nil {
		t.Fatalf("today's binary: %v", binErr)
	}
	return binPath
}

// serveArgs are difftest.ServeArgs with batches of 50 records.
func serveArgs(brokers []string, redisAddr, group string, extra ...string) []string {
	return difftest.ServeArgs(brokers, redisAddr, group, 50, extra...)
}

// startToday starts today's serve.
func startToday(t testing.TB, name string, args []string) *difftest.Proc {
	t.Helper()
	return difftest.StartServe(t, todayBin(t), difftest.ServeOptions{Name: name, Args: args})
}
