package sinks

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cskpi/cskpi/windows/kpi"
)

var update = flag.Bool("update", false, "rewrite golden files")

type switchable struct{ series []kpi.Series }

func (s *switchable) Each(emit func(kpi.Series)) { staticSource(s.series).Each(emit) }

func TestKPICollectorExposition(t *testing.T) {
	src := &switchable{series: []kpi.Series{
		{Name: kpi.Responses.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W15m, Scene: "presale"}, Value: 3},
		{Name: kpi.ResponseTimeSum.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W15m, Scene: "presale"}, Value: 12.345},
		{Name: kpi.ResponsesWithin.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W15m, Scene: "aftersale", Le: "15"}, Value: 2},
		{Name: kpi.WaitingConversations.Name(), Labels: kpi.Labels{Shop: "s1", Scene: "aftersale"}, Value: 0},
		{Name: kpi.HumanMessages.Name(), Labels: kpi.Labels{Shop: "s1", Window: kpi.W24h}, Value: 4},
		{Name: kpi.AgentResponses.Name(), Labels: kpi.Labels{Shop: "s1", Agent: "a:1", Window: kpi.W24h}, Value: 1},
	}}
	c := NewKPICollector(src)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	golden := filepath.Join("testdata", "kpi.prom")
	if *update {
		var b bytes.Buffer
		if err := WriteText(&b, src.series); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, bytes.NewReader(want)); err != nil {
		t.Error(err)
	}

	// A shop that went quiet disappears at the next scrape: no stale series.
	src.series = src.series[:1]
	if n := testutil.CollectAndCount(c); n != 1 {
		t.Errorf("after the change %d series, want 1", n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP cskpi_responses Response samples (closed waiting episodes), by reply ts.
# TYPE cskpi_responses gauge
cskpi_responses{scene="presale",shop="s1",window="15m"} 3
`)); err != nil {
		t.Error(err)
	}
}
