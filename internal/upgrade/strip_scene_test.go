package upgrade_test

import (
	"bytes"
	"testing"

	"github.com/cskpi/cskpi/internal/difftest"
)

// TestStripScene: every scene member the test logs write goes, and nothing else.
func TestStripScene(t *testing.T) {
	n := 0
	for _, l := range difftest.TestLog(7, 6000) {
		s := stripScene(l)
		if bytes.Contains(s, []byte(`"scene"`)) {
			t.Errorf("scene left in %s", s)
		}
		if !bytes.Equal(s, l) {
			n++
		}
	}
	if n == 0 {
		t.Error("the test log has no scene to strip")
	}
	for in, want := range map[string]string{
		`{"a":1,"scene":"aftersale"}`:   `{"a":1}`,
		`{"scene":["x"],"a":1}`:         `{"a":1}`,
		`{"a":1,"scene":{"k":2},"b":3}`: `{"a":1,"b":3}`,
	} {
		if got := string(stripScene([]byte(in))); got != want {
			t.Errorf("stripScene(%s) = %s, want %s", in, got, want)
		}
	}
}
