package produce

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair with the kernel's /dev/ptmx interface, which is all
// a test needs of a terminal: the program writes to tty, the test reads what it drew from
// ptmx.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("ptsname: %v", e)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// TestLoadgenProgressOnTerminal: on a terminal loadgen shows, while it runs, the records
// sent and the rate achieved, and ends with the summary line.
func TestLoadgenProgressOnTerminal(t *testing.T) {
	addrs := cluster(t)
	ptmx, tty := openPTY(t)
	defer ptmx.Close()
	if !IsTerminal(tty) {
		t.Fatal("IsTerminal(pty) = false")
	}
	if IsTerminal(&bytes.Buffer{}) {
		t.Fatal("IsTerminal(buffer) = true")
	}
	var screen bytes.Buffer
	drained := make(chan struct{})
	go func() { defer close(drained); _, _ = io.Copy(&screen, ptmx) }()

	n, err := Loadgen(context.Background(), LoadgenOptions{Options: Options{Brokers: addrs, Progress: tty},
		Rate: 200, Duration: 1500 * time.Millisecond})
	tty.Close() // the reader then sees EIO and ends
	<-drained
	if err != nil {
		t.Fatal(err)
	}
	out := screen.String()
	// A frame drawn while records were going out: a count and a rate.
	running := regexp.MustCompile(`producing \([1-9][0-9]*, [0-9]+ records/s\)`)
	if !running.MatchString(out) {
		t.Errorf("terminal shows no running count and rate:\n%q", out)
	}
	if summary := fmt.Sprintf("produced %d records in ", n); !strings.Contains(out, summary) {
		t.Errorf("terminal shows no %q:\n%q", summary, out)
	}
	if strings.Contains(out, "/-") {
		t.Errorf("an endless count is drawn with a total:\n%q", out)
	}
	// The first frame, before any record: no rate yet, and never one per hour or minute.
	if !strings.Contains(out, "producing (0 records)") || strings.Contains(out, "records/hr") || strings.Contains(out, "records/min") {
		t.Errorf("terminal shows a rate before the first record, or one not per second:\n%q", out)
	}
}

// TestProgressRate: the rate of a bar of records is records per second from its first
// frame to its last, whatever the pace: never "0 records/hr" before the first record, nor
// a unit that changes as the pace drops.
func TestProgressRate(t *testing.T) {
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	p := &progress{start: start}
	if got, want := p.describe(5, start.Add(20*time.Millisecond)), "producing (5 records)"; got != want {
		t.Errorf("a first batch: %q, want %q (too soon for a rate)", got, want)
	}
	// 200 records a second for 10 s, then one record in the next 10 s; a frame a second.
	want := map[int]string{
		1:  "producing (200, 200 records/s)",
		3:  "producing (600, 200 records/s)",
		10: "producing (2000, 200 records/s)",
		13: "producing (2001, 80 records/s)",
		15: "producing (2001, 0.2 records/s)",
		20: "producing (2001, 0.0 records/s)",
	}
	for sec := 1; sec <= 20; sec++ {
		n := int64(min(sec, 10) * 200)
		if sec > 10 {
			n++
		}
		got := p.describe(n, start.Add(time.Duration(sec)*time.Second))
		if w, ok := want[sec]; ok && got != w {
			t.Errorf("after %d s: %q, want %q", sec, got, w)
		}
		if strings.Contains(got, "/hr") || strings.Contains(got, "/min") {
			t.Errorf("after %d s: %q", sec, got)
		}
	}
}
