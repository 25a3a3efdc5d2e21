package demo

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"

	"github.com/cskpi/cskpi/windows/kpi"
)

// tableColumn is a KPI of the demo's table in one window, and for a KPI that exists per
// scene (kpi.Ratio.Scene), in one scene; its families and unit come from the catalogue
// (kpi.Ratios).
type tableColumn struct {
	id     kpi.RatioID
	window string
	label  string
	scene  string // the scene label's value, "" for a KPI of both scenes or none
}

// heading is the column's heading: "avg response 15m pre" (pre-sale), "… after".
func (c tableColumn) heading() string {
	scene, _ := strings.CutSuffix(c.scene, "sale")
	return strings.TrimSpace(c.label + " " + c.window + " " + scene)
}

// tableKPIs are the table's KPI columns, those before the waiting columns and those after:
// a KPI that exists per scene has a column per scene, since the scenes have different
// targets (a 15 s pre-sale average and a 2-minute after-sale one mean different things).
func tableKPIs() (before, after []tableColumn) {
	expand := func(cs ...tableColumn) []tableColumn {
		var out []tableColumn
		for _, c := range cs {
			if !c.id.Ratio().Scene() {
				out = append(out, c)
				continue
			}
			for _, scene := range kpi.Scenes() {
				out = append(out, tableColumn{c.id, c.window, c.label, scene})
			}
		}
		return out
	}
	before = expand(
		tableColumn{id: kpi.ResponseTime, window: kpi.W15m, label: "avg response"},
		tableColumn{id: kpi.FirstResponseTime, window: kpi.W15m, label: "first response"},
	)
	after = expand(
		tableColumn{id: kpi.ReplyRate24h, window: kpi.W24h, label: "reply rate"},
		tableColumn{id: kpi.ConsultConversion, window: kpi.W24h, label: "consult conv"},
		tableColumn{id: kpi.PaymentRate, window: kpi.W24h, label: "payment rate"},
	)
	return before, after
}

// row is one shop's series, by family name and window (or waiting threshold): summed over
// the scenes, and, for a family with the scene label, per scene too.
type row map[string]float64

func key(family, window string) string { return family + "/" + window }

func sceneKey(family, window, scene string) string { return key(family, window) + "/" + scene }

// printTable prints one line per shop: the table's KPIs (per scene where they exist per
// scene), the buyers waiting, and the live breaches of CONTRACT §3 for every waiting
// threshold (ms) but the largest, which counts the buyers given up on; both of the latter
// over both scenes.
func printTable(w io.Writer, g prometheus.Gatherer, waits []int64) {
	mfs, err := g.Gather()
	if err != nil {
		return
	}
	rows := map[string]row{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := labels(m)
			if l["agent"] != "" || l["le"] != "" || l["shop"] == "" {
				continue
			}
			if rows[l["shop"]] == nil {
				rows[l["shop"]] = row{}
			}
			v, r := m.GetGauge().GetValue(), rows[l["shop"]]
			r[key(mf.GetName(), l["window"]+l["seconds"])] += v
			if scene := l["scene"]; scene != "" {
				r[sceneKey(mf.GetName(), l["window"]+l["seconds"], scene)] = v
			}
		}
	}
	shops := make([]string, 0, len(rows))
	for s := range rows {
		shops = append(shops, s)
	}
	sort.Strings(shops)
	live, givenUp := waits[:max(0, len(waits)-1)], ""
	if len(waits) > 0 {
		givenUp = kpi.LeLabel(waits[len(waits)-1]) // the seconds label, as windows writes it
	}
	before, after := tableKPIs()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t", time.Now().Format("15:04:05"))
	for _, c := range before {
		fmt.Fprintf(tw, " %s\t", c.heading())
	}
	fmt.Fprint(tw, " waiting\t")
	for _, ms := range live {
		fmt.Fprintf(tw, " >%s\t", model.Duration(time.Duration(ms)*time.Millisecond))
	}
	for _, c := range after {
		fmt.Fprintf(tw, " %s\t", c.heading())
	}
	fmt.Fprintln(tw)
	over := kpi.WaitingOver.Name()
	for _, s := range shops {
		r := rows[s]
		fmt.Fprintf(tw, "%s\t", s)
		for _, c := range before {
			fmt.Fprintf(tw, " %s\t", value(r, c))
		}
		fmt.Fprintf(tw, " %.0f\t", r[key(kpi.WaitingConversations.Name(), "")])
		for _, ms := range live {
			fmt.Fprintf(tw, " %.0f\t", r[key(over, kpi.LeLabel(ms))]-r[key(over, givenUp)])
		}
		for _, c := range after {
			fmt.Fprintf(tw, " %s\t", value(r, c))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// value formats a column's KPI of a shop (in its scene, if any), "-" while its denominator is 0.
func value(r row, c tableColumn) string {
	k := c.id.Ratio()
	at := func(family string) float64 {
		if c.scene != "" {
			return r[sceneKey(family, c.window, c.scene)]
		}
		return r[key(family, c.window)]
	}
	v, ok := k.Of(at(k.Num.Name()), at(k.Den.Name()))
	switch {
	case !ok:
		return "-"
	case k.Unit == kpi.Duration:
		return fmt.Sprintf("%.1fs", v)
	case k.Unit == kpi.Share:
		return fmt.Sprintf("%.1f%%", v*100)
	case k.Unit == kpi.Amount:
		return fmt.Sprintf("¥%.2f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}
