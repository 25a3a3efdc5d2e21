package demo

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"

	"github.com/cskpi/cskpi/windows/kpi"
)

// tableColumn is a KPI of the demo's table in one window; its families and unit come from
// the catalogue (kpi.Ratios).
type tableColumn struct {
	id     kpi.RatioID
	window string
	label  string
}

// tableKPIs are the table's KPI columns: two before the waiting columns, the rest after.
func tableKPIs() []tableColumn {
	return []tableColumn{
		{kpi.ResponseTime, kpi.W15m, "avg response"},
		{kpi.FirstResponseTime, kpi.W15m, "first response"},
		{kpi.ReplyRate24h, kpi.W24h, "24h reply rate"},
		{kpi.ConsultConversion, kpi.W24h, "consult conv"},
		{kpi.PaymentRate, kpi.W24h, "payment rate"},
	}
}

// row is one shop's series, by family name and window (or waiting threshold).
type row map[string]float64

func key(family, window string) string { return family + "/" + window }

// printTable prints one line per shop: the table's KPIs, the buyers waiting, and the live
// breaches of CONTRACT §3 for every waiting threshold (ms) but the largest, which counts
// the buyers given up on.
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
			rows[l["shop"]][key(mf.GetName(), l["window"]+l["seconds"])] = m.GetGauge().GetValue()
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
	cols := tableKPIs()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t", time.Now().Format("15:04:05"))
	for _, c := range cols[:2] {
		fmt.Fprintf(tw, " %s %s\t", c.label, c.window)
	}
	fmt.Fprint(tw, " waiting\t")
	for _, ms := range live {
		fmt.Fprintf(tw, " >%s\t", model.Duration(time.Duration(ms)*time.Millisecond))
	}
	for _, c := range cols[2:] {
		fmt.Fprintf(tw, " %s %s\t", c.label, c.window)
	}
	fmt.Fprintln(tw)
	over := kpi.WaitingOver.Name()
	for _, s := range shops {
		r := rows[s]
		fmt.Fprintf(tw, "%s\t", s)
		for _, c := range cols[:2] {
			fmt.Fprintf(tw, " %s\t", value(r, c.id, c.window))
		}
		fmt.Fprintf(tw, " %.0f\t", r[key(kpi.WaitingConversations.Name(), "")])
		for _, ms := range live {
			fmt.Fprintf(tw, " %.0f\t", r[key(over, kpi.LeLabel(ms))]-r[key(over, givenUp)])
		}
		for _, c := range cols[2:] {
			fmt.Fprintf(tw, " %s\t", value(r, c.id, c.window))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// value formats KPI id of a shop in window, "-" while its denominator is 0.
func value(r row, id kpi.RatioID, window string) string {
	k := id.Ratio()
	v, ok := k.Of(r[key(k.Num.Name(), window)], r[key(k.Den.Name(), window)])
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
