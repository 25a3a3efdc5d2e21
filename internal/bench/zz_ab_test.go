package bench

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestZZAB(t *testing.T) {
	bin := os.Getenv("ZZ_BIN")
	if bin == "" {
		t.Skip()
	}
	n, _ := strconv.Atoi(os.Getenv("ZZ_N"))
	shops, _ := strconv.Atoi(os.Getenv("ZZ_SHOPS"))
	parts, _ := strconv.Atoi(os.Getenv("ZZ_PARTS"))
	e := newEnv(t, parts)
	e.profileTo = os.Getenv("CSKPI_PROFILE")
	e.publish(t, traffic(n, shops, 50, time.Now().Add(-40*24*time.Hour)))
	r := e.consumeAll(t, bin, int64(n))
	t.Logf("RESULT rate=%.0f rss=%.0f MiB", r.rate, float64(r.rssBytes)/(1<<20))
	e.close(t)
}
