package demo

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestTableFollowsTheConfiguration: the live-breach columns are the configured waiting
// thresholds but the largest (not 15 s, 3 min by default), and each KPI is its catalogue
// quotient, per scene where it exists per scene (kpi.Ratio.Scene).
func TestTableFollowsTheConfiguration(t *testing.T) {
	reg := prometheus.NewRegistry()
	gauge := func(name string, labels prometheus.Labels, v float64) {
		names := make([]string, 0, len(labels))
		for k := range labels {
			names = append(names, k)
		}
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: name}, names)
		if err := reg.Register(g); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				g = are.ExistingCollector.(*prometheus.GaugeVec)
			} else {
				t.Fatal(err)
			}
		}
		g.With(labels).Set(v)
	}
	shop := func(window, scene string) prometheus.Labels {
		return prometheus.Labels{"shop": "s1", "window": window, "scene": scene}
	}
	gauge("cskpi_response_time_seconds_sum", shop("15m", "presale"), 90)
	gauge("cskpi_responses", shop("15m", "presale"), 4)
	gauge("cskpi_response_time_seconds_sum", shop("15m", "aftersale"), 0)
	gauge("cskpi_responses", shop("15m", "aftersale"), 0)
	gauge("cskpi_buyer_messages_replied_24h", shop("24h", "presale"), 3)
	gauge("cskpi_buyer_messages", shop("24h", "presale"), 4)
	gauge("cskpi_buyer_messages_replied_24h", shop("24h", "aftersale"), 1)
	gauge("cskpi_buyer_messages", shop("24h", "aftersale"), 1)
	gauge("cskpi_waiting_conversations", prometheus.Labels{"shop": "s1", "scene": "presale"}, 9)
	gauge("cskpi_waiting_conversations", prometheus.Labels{"shop": "s1", "scene": "aftersale"}, 2)
	for scene, over := range map[string]map[string]float64{
		"presale":   {"30": 7, "600": 4, "7200": 1},
		"aftersale": {"30": 1, "600": 1, "7200": 0},
	} {
		for secs, n := range over {
			gauge("cskpi_waiting_conversations_over", prometheus.Labels{"shop": "s1", "scene": scene, "seconds": secs}, n)
		}
	}
	var out bytes.Buffer
	printTable(&out, reg, []int64{30_000, 600_000, 7_200_000})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("table:\n%s", out.String())
	}
	if !strings.Contains(lines[0], ">30s") || !strings.Contains(lines[0], ">10m") || strings.Contains(lines[0], ">2h") || strings.Contains(lines[0], ">15s") {
		t.Errorf("header %q: want live columns >30s and >10m only", lines[0])
	}
	for _, h := range []string{"avg response 15m pre ", "avg response 15m after ", "reply rate 24h pre ", "reply rate 24h after ", "first response 15m "} {
		if !strings.Contains(lines[0], h) {
			t.Errorf("header %q: no column %q", lines[0], h)
		}
	}
	// Per scene: the response time and the 24 h reply rate; the waiting over both scenes.
	got := strings.Fields(lines[1])
	want := []string{"s1", "22.5s", "-", "-", "11", "7", "4", "75.0%", "100.0%", "-", "-"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("row %q, want %q", got, want)
	}
}
