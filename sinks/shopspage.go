package sinks

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/cskpi/cskpi/windows"
	"github.com/cskpi/cskpi/windows/kpi"
	"github.com/cskpi/cskpi/windows/shops"
)

// ShopsPage backs the HTML table at /shops: per shop, what a newcomer (or a team lead
// without Grafana) wants at a glance.
type ShopsPage struct {
	// KPIs is the KPI collector's Source: the page reads the very series a scrape would,
	// in one pass, and keeps no state of its own.
	KPIs Source
	// Directory supplies names, teams, response targets and business hours; nil (or no
	// directory loaded) shows shop ids and the default targets (15 s pre-sale, 3 min
	// after-sale).
	Directory *shops.Holder
	// AsOf is the as-of time A (Unix ns) shown on the page and used for "closed now".
	AsOf func() int64
}

const (
	// shopsRefresh is the page's meta refresh in seconds: about a scrape interval, since
	// each load costs what a scrape costs.
	shopsRefresh = 30
	// defaultShopsLimit keeps the page readable at thousands of shops: the worst come first,
	// and the rest are counted, not shown.
	defaultShopsLimit = 50
	maxShopsLimit     = 1000
	// maxLiveColumns bounds the waiting columns however many --waiting.thresholds there are:
	// the smallest thresholds are the ones a buyer feels.
	maxLiveColumns = 2
	noData         = "—"
)

// shopsView is what the template renders.
type shopsView struct {
	AsOf       string
	Refresh    int
	Directory  bool // show name and team columns
	WaitingAPI bool // link breach counts to /api/v1/waiting
	Live       []liveColumn
	GivenUp    string // the largest waiting threshold, e.g. "1 h"; "" with a single threshold
	Rows       []shopRow
	Total      int
	Hidden     int
	// Worst is the number of buyers waiting past the most severe live threshold, all shops.
	Worst          int64
	WorstLabel     string // "3 min"; "" without waiting columns
	WorstSeconds   string // its seconds label, "180"
	GivenUpSeconds string // "3600"
	NoData         string
	MaxLimit       int
	FoldedFlag     string
	RT             []kpiColumn // the response time, one column per scene
	Reply          kpiColumn
}

// The scenes of the response-time columns, as the scene label spells them (kpi.Scenes).
const (
	presale   = "presale"
	aftersale = "aftersale"
)

// kpiColumn is a KPI of the page: its catalogue row (kpi.Ratios) in one window, and for a
// KPI per scene, one scene of it.
type kpiColumn struct {
	Heading  string // short, for the table: "Pre-sale response 15m"
	Num, Den string // the families
	Local    string // the platforms' name
	Span     string // the window in words: "15 minutes"
	Scene    string // the scene label's value, "" for a KPI of no scene
	Words    string // the scene for people: "pre-sale"
	Field    string // the shop directory's target of the scene: "response_target"
	Default  string // its default: "15 s"
	window   string
	target   func(*shops.Shop) time.Duration // the shop's target of the scene (nil: the default)
}

// pageKPIs are the page's KPI columns: the response time of each scene, held to the
// scene's target (pre-sale: response_target, after-sale: aftersale_response_target), and
// the reply rate.
func pageKPIs() (rt []kpiColumn, reply kpiColumn) {
	col := func(id kpi.RatioID, label, window, span string) kpiColumn {
		r := id.Ratio()
		return kpiColumn{Heading: label + " " + window, Num: r.Num.Name(), Den: r.Den.Name(), Local: r.Local, Span: span, window: window}
	}
	for _, sc := range []struct {
		scene, label, words, field string
		def                        time.Duration
		target                     func(*shops.Shop) time.Duration
	}{
		{presale, "Pre-sale response", "pre-sale", "response_target", shops.DefaultResponseTarget,
			func(s *shops.Shop) time.Duration { return s.ResponseTarget }},
		{aftersale, "After-sale response", "after-sale", "aftersale_response_target", shops.DefaultAftersaleResponseTarget,
			func(s *shops.Shop) time.Duration { return s.AftersaleResponseTarget }},
	} {
		c := col(kpi.ResponseTime, sc.label, kpi.W15m, "15 minutes")
		c.Scene, c.Words, c.Field, c.Default, c.target = sc.scene, sc.words, sc.field, targetLabel(sc.def), sc.target
		rt = append(rt, c)
	}
	return rt, col(kpi.ReplyRate, kpi.ReplyRate.Ratio().Name, kpi.W24h, "24 hours")
}

// targetOf is the shop's target of the column's scene: the directory's, else the default.
func (c kpiColumn) targetOf(s *shops.Shop) time.Duration {
	if s == nil {
		if c.Scene == aftersale {
			return shops.DefaultAftersaleResponseTarget
		}
		return shops.DefaultResponseTarget
	}
	return c.target(s)
}

// targetLabel renders a target: "15 s", "3 min", "2.5 s".
func targetLabel(d time.Duration) string {
	if d%time.Second == 0 {
		return secondsLabel(int64(d / time.Second))
	}
	return formatSeconds(d.Seconds())
}

type liveColumn struct {
	Label   string // "3 min"
	MinWait string // "180s", for /api/v1/waiting
	Seconds string // the seconds label, "180"
}

type shopRow struct {
	Shop, Name, Team string
	ClosedNow        bool
	Folded           bool
	Linkable         bool     // the id is one /api/v1/waiting accepts
	RT               []rtCell // per scene, in the order of shopsView.RT
	Responses        int64    // both scenes
	Waiting          []int64  // per live column, both scenes
	PastTarget       []bool   // per live column: it counts buyers past their scene's target
	ReplyRate        string
	Replied          int64
	Inquiries        int64
	Urgency          string // the row's urgency, for its tooltip

	urgency      float64 // how badly the shop serves its buyers against its targets (urgency)
	ratio, reply float64 // for sorting; NaN when there is no data
}

// rtCell is a shop's average response time of one scene against its target of that scene.
type rtCell struct {
	Avg        string
	OverTarget bool
	Target     string
}

// shopStats are one shop's series of interest, as Each hands them over.
type shopStats struct {
	respSum, resp      map[string]float64           // 15m, by scene
	over               map[string]map[int64]float64 // by scene, then seconds label
	inquiries, replied float64                      // 24h
}

// shopsHandler serves GET /shops?limit=50. The template is parsed once, here.
func shopsHandler(p ShopsPage, waitingAPI bool, logger *slog.Logger) (http.HandlerFunc, error) {
	if p.KPIs == nil || p.AsOf == nil {
		return nil, fmt.Errorf("sinks: ShopsPage needs KPIs and AsOf")
	}
	tmpl, err := template.New("shops").Parse(shopsTemplate)
	if err != nil {
		return nil, fmt.Errorf("sinks: shops page template: %w", err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeText(w, http.StatusMethodNotAllowed, "only GET is allowed")
			return
		}
		limit, err := parseLimit(r.URL.Query().Get("limit"), defaultShopsLimit, maxShopsLimit)
		if err != nil {
			writeText(w, http.StatusBadRequest, err.Error())
			return
		}
		view := buildShopsView(p, waitingAPI, limit)
		// Rendered whole before the first byte, so that a failure is a 500 and not half a
		// page under a 200.
		var b bytes.Buffer
		if err := tmpl.Execute(&b, view); err != nil {
			logger.Error("rendering /shops", "err", err)
			writeText(w, http.StatusInternalServerError, "rendering the page failed")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// Live figures: a cached copy would show stale breaches as current.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b.Bytes())
	}, nil
}

func buildShopsView(p ShopsPage, waitingAPI bool, limit int) shopsView {
	a := p.AsOf()
	stats, thresholds := collectShops(p.KPIs)
	slices.Sort(thresholds)

	v := shopsView{Refresh: shopsRefresh, WaitingAPI: waitingAPI, MaxLimit: maxShopsLimit,
		FoldedFlag: "--metrics.max-shops", AsOf: noData, NoData: noData}
	v.RT, v.Reply = pageKPIs()
	if a > 0 {
		v.AsOf = time.Unix(0, a).UTC().Format("2006-01-02 15:04:05 UTC")
	}
	// The largest threshold stands for "gave up": a buyer waiting that long is most likely
	// gone, and counting them would keep a shop on top long after anyone can be helped.
	live, givenUp := thresholds, int64(-1)
	if len(thresholds) >= 2 {
		live, givenUp = thresholds[:len(thresholds)-1], thresholds[len(thresholds)-1]
		v.GivenUp, v.GivenUpSeconds = secondsLabel(givenUp), strconv.FormatInt(givenUp, 10)
	}
	liveAll := live // the urgency weighs every threshold short of giving up, shown or not
	live = live[:min(len(live), maxLiveColumns)]
	for _, s := range live {
		v.Live = append(v.Live, liveColumn{Label: secondsLabel(s), MinWait: strconv.FormatInt(s, 10) + "s",
			Seconds: strconv.FormatInt(s, 10)})
	}
	if n := len(v.Live); n > 0 {
		v.WorstLabel, v.WorstSeconds = v.Live[n-1].Label, v.Live[n-1].Seconds
	}

	dir := p.Directory.Get()
	v.Directory = dir != nil
	rows := make([]shopRow, 0, len(stats))
	for id, st := range stats {
		folded := id == windows.Other
		var responses float64
		for _, n := range st.resp {
			responses += n
		}
		row := shopRow{Shop: id, Folded: folded, Linkable: !folded && shopParam.MatchString(id),
			Responses: int64(math.Round(responses)), Inquiries: int64(math.Round(st.inquiries)),
			Replied: int64(math.Round(st.replied)), ReplyRate: noData,
			ratio: math.NaN(), reply: math.NaN()}
		s := dir.Shop(id)
		if s != nil {
			row.Name, row.Team, row.ClosedNow = s.Name, s.Team, !s.OpenAt(a)
		}
		targets := map[string]float64{} // seconds, by scene
		for _, c := range v.RT {
			target := c.targetOf(s)
			targets[c.Scene] = target.Seconds()
			cell := rtCell{Avg: noData, Target: targetLabel(target)}
			if n := math.Round(st.resp[c.Scene]); n > 0 {
				avg := st.respSum[c.Scene] / st.resp[c.Scene]
				cell.Avg = formatSeconds(avg)
				cell.OverTarget = avg > target.Seconds()
				// The average's excess, in targets (docs/SHOPS.md, "Worst first").
				row.urgency += max(0, avg/target.Seconds()-1)
				// Among shops within their targets: the scene least under its own.
				if r := avg / target.Seconds(); math.IsNaN(row.ratio) || r > row.ratio {
					row.ratio = r
				}
			}
			row.RT = append(row.RT, cell)
		}
		// Buyers waiting now past their scene's target: once for each waiting threshold at
		// or above the target they have passed, those given up aside.
		pastTarget := func(scene string, w int64) float64 {
			if float64(w) < targets[scene] {
				return 0 // the count may hold buyers still within the target
			}
			n := st.over[scene][w]
			if givenUp >= 0 {
				n -= st.over[scene][givenUp]
			}
			return max(0, math.Round(n))
		}
		for _, w := range liveAll {
			for _, c := range v.RT {
				row.urgency += pastTarget(c.Scene, w)
			}
		}
		row.Urgency = strconv.FormatFloat(row.urgency, 'f', 1, 64)
		if row.Inquiries > 0 {
			// Floored to a tenth of a percent: 429 of 430 reads 99.7 %, never 100.0 %.
			tenths := row.Replied * 1000 / row.Inquiries
			row.ReplyRate = fmt.Sprintf("%d.%d %%", tenths/10, tenths%10)
			row.reply = float64(row.Replied) / float64(row.Inquiries)
		}
		for _, w := range live {
			var n, past float64
			for _, c := range v.RT {
				n += st.over[c.Scene][w]
				if givenUp >= 0 {
					n -= st.over[c.Scene][givenUp]
				}
				past += pastTarget(c.Scene, w)
			}
			row.Waiting = append(row.Waiting, max(0, int64(math.Round(n))))
			row.PastTarget = append(row.PastTarget, past > 0)
		}
		if len(row.Waiting) > 0 {
			v.Worst += row.Waiting[len(row.Waiting)-1]
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, worseFirst)
	v.Total = len(rows)
	v.Hidden = max(0, len(rows)-limit)
	v.Rows = rows[:min(limit, len(rows))]
	return v
}

// collectShops reads the shop-level series the page shows in one pass over src, and the
// waiting thresholds configured (the seconds labels seen). The response series are kept by
// scene; the waiting counts are summed over the scenes.
func collectShops(src Source) (map[string]*shopStats, []int64) {
	// The page's KPIs, as the catalogue declares them (kpi.Ratios); the response-time
	// columns share their families and window.
	rts, rr := pageKPIs()
	rt := rts[0]
	var (
		respSum   = rt.Num
		resp      = rt.Den
		over      = kpi.WaitingOver.Name()
		inquiries = rr.Den
		replied   = rr.Num
	)
	stats := map[string]*shopStats{}
	var thresholds []int64
	get := func(shop string) *shopStats {
		st := stats[shop]
		if st == nil {
			st = &shopStats{respSum: map[string]float64{}, resp: map[string]float64{}, over: map[string]map[int64]float64{}}
			stats[shop] = st
		}
		return st
	}
	src.Each(func(s kpi.Series) {
		switch {
		case s.Name == respSum && s.Window == rt.window:
			get(s.Shop).respSum[s.Scene] += s.Value
		case s.Name == resp && s.Window == rt.window:
			get(s.Shop).resp[s.Scene] += s.Value
		case s.Name == inquiries && s.Window == rr.window:
			get(s.Shop).inquiries = s.Value
		case s.Name == replied && s.Window == rr.window:
			get(s.Shop).replied = s.Value
		case s.Name == over:
			secs, err := strconv.ParseInt(s.Seconds, 10, 64)
			if err != nil {
				return
			}
			st := get(s.Shop)
			if st.over[s.Scene] == nil {
				st.over[s.Scene] = map[int64]float64{}
			}
			st.over[s.Scene][secs] += s.Value
		}
	})
	// Every shop carries every threshold; the union is cheap and assumes nothing.
	seen := map[int64]bool{}
	for _, st := range stats {
		for _, over := range st.over {
			for secs := range over {
				if !seen[secs] {
					seen[secs] = true
					thresholds = append(thresholds, secs)
				}
			}
		}
	}
	return stats, thresholds
}

// worseFirst orders rows by urgency (docs/SHOPS.md: buyers waiting now past their
// scene's target, once per waiting threshold passed, plus each scene's average response
// time over its target, in targets), then, among shops within their targets, by the
// response time relative to the target (of the scene least under it), then the reply rate
// (lowest first); rows without data come after rows with it, and ties go by shop id.
func worseFirst(a, b shopRow) int {
	if c := cmp.Compare(b.urgency, a.urgency); c != 0 {
		return c
	}
	if c := compareNaNLast(a.ratio, b.ratio, true); c != 0 {
		return c
	}
	if c := compareNaNLast(a.reply, b.reply, false); c != 0 {
		return c
	}
	return cmp.Compare(a.Shop, b.Shop)
}

func compareNaNLast(x, y float64, desc bool) int {
	switch xn, yn := math.IsNaN(x), math.IsNaN(y); {
	case xn && yn:
		return 0
	case xn:
		return 1
	case yn:
		return -1
	}
	if desc {
		return cmp.Compare(y, x)
	}
	return cmp.Compare(x, y)
}

// formatSeconds renders a duration for people: "4.2 s", "3 min 05 s", "1 h 02 min".
func formatSeconds(s float64) string {
	if tenths := math.Round(s * 10); tenths < 600 {
		return strconv.FormatFloat(tenths/10, 'f', 1, 64) + " s"
	}
	whole := int64(math.Round(s))
	if whole < 3600 {
		return fmt.Sprintf("%d min %02d s", whole/60, whole%60)
	}
	return fmt.Sprintf("%d h %02d min", whole/3600, whole%3600/60)
}

// secondsLabel renders a waiting threshold as its flag would: "15 s", "3 min", "1 h".
func secondsLabel(s int64) string {
	switch {
	case s >= 3600 && s%3600 == 0:
		return strconv.FormatInt(s/3600, 10) + " h"
	case s >= 60 && s%60 == 0:
		return strconv.FormatInt(s/60, 10) + " min"
	}
	return strconv.FormatInt(s, 10) + " s"
}

// shopsTemplate is html/template: shop ids, names and teams come from input data and are
// escaped by context (text, attribute, URL query).
const shopsTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{{.Refresh}}">
<title>cskpi · shops</title>
<style>
body { font-family: -apple-system, BlinkMacSystemFont, Segoe UI, Roboto, Helvetica Neue, Arial, Noto Sans, Liberation Sans, sans-serif; margin: 0; }
header { background-color: #e6522c; color: #fff; padding: 1rem; }
header h1 { margin: 0; font-size: 1.5rem; }
header a { color: #fff; text-decoration: none; }
main { padding: 1rem; }
.meta, .notes, .more { color: #555; font-size: .9rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #ddd; white-space: nowrap; }
th { text-align: left; background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafafa; }
.bad, .bad a { color: #b00020; font-weight: bold; }
.tag { color: #555; font-size: .8rem; border: 1px solid #bbb; border-radius: 3px; padding: 0 .3rem; margin-left: .4rem; }
.sub { color: #777; font-size: .8rem; margin-left: .3rem; }
</style>
</head>
<body>
<header><h1><a href="./">cskpi</a> · shops</h1></header>
<main>
<p class="meta">As of {{.AsOf}}, this instance's partitions only. The page reloads every {{.Refresh}} s; each load computes the figures afresh, as a scrape of /metrics would.</p>
{{- if not .Rows}}
<p class="empty">No shops yet: no shop has had an event within the last 28 days in the partitions this instance owns (with --clock=event, none until the first event).</p>
{{- else}}
<p class="summary">{{.Total}} shop{{if ne .Total 1}}s{{end}}{{with .WorstLabel}}, {{$.Worst}} buyer{{if ne $.Worst 1}}s{{end}} waiting over {{.}} now{{end}}. Worst first.</p>
<table>
<thead><tr><th>Shop</th>{{if .Directory}}<th>Name</th><th>Team</th>{{end}}{{range .RT}}<th class="num">{{.Heading}}</th>{{end}}<th class="num">Responses 15m</th>{{range .Live}}<th class="num">Waiting &gt; {{.Label}}</th>{{end}}<th class="num">{{.Reply.Heading}}</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr title="urgency {{.Urgency}}"><td>{{.Shop}}{{if .Folded}} <span class="tag">shops beyond {{$.FoldedFlag}}</span>{{end}}</td>
{{- if $.Directory}}<td>{{.Name}}{{if .ClosedNow}} <span class="tag">closed now</span>{{end}}</td><td>{{.Team}}</td>{{end}}
{{- range $i, $c := .RT}}{{$col := index $.RT $i}}
{{- if .OverTarget}}<td class="num bad" title="above the shop's {{$col.Words}} target of {{.Target}}">{{.Avg}}</td>{{else}}<td class="num" title="{{$col.Words}} target {{.Target}}">{{.Avg}}</td>{{end}}
{{- end}}
<td class="num">{{.Responses}}</td>
{{- $row := .}}{{range $i, $n := .Waiting}}{{$col := index $.Live $i}}{{$bad := index $row.PastTarget $i}}
{{- if and $n $.WaitingAPI $row.Linkable}}<td class="num{{if $bad}} bad{{end}}"><a href="api/v1/waiting?shop={{$row.Shop}}&amp;min_wait={{$col.MinWait}}">{{$n}}</a></td>{{else}}<td class="num{{if $bad}} bad{{end}}">{{$n}}</td>{{end}}
{{- end}}
<td class="num">{{.ReplyRate}}{{if .Inquiries}} <span class="sub">{{.Replied}}/{{.Inquiries}}</span>{{end}}</td></tr>
{{- end}}
</tbody>
</table>
{{- if .Hidden}}
<p class="more">{{.Hidden}} more shop{{if ne .Hidden 1}}s{{end}}, less urgent, not shown: <a href="shops?limit={{.MaxLimit}}">show up to {{.MaxLimit}}</a>, or see <a href="metrics">/metrics</a> for all.</p>
{{- end}}
<div class="notes">
{{- range .RT}}
<p><b>{{.Heading}}</b>: {{.Num}} / {{.Den}} of the {{.Words}} buyers (scene="{{.Scene}}") over the last {{.Span}} (CONTRACT §4 {{.Local}}); {{$.NoData}} when the shop had no {{.Words}} response; in red above the shop's {{.Words}} target, the directory's {{.Field}} ({{.Default}} without one; hover for it).</p>
{{- end}}
<p><b>Responses 15m</b>: response samples of both scenes.</p>
{{- if .Live}}
<p><b>Waiting</b>: buyers of both scenes waiting now for longer than {{range $i, $c := .Live}}{{if $i}} / {{end}}{{$c.Label}}{{end}} (the smallest of --waiting.thresholds){{if .GivenUp}}, less those waiting over {{.GivenUp}} (the largest, taken as having given up): cskpi_waiting_conversations_over{seconds="{{.WorstSeconds}}"} - cskpi_waiting_conversations_over{seconds="{{.GivenUpSeconds}}"}{{else}}; with a single threshold, buyers who have given up are counted too{{end}}; in red when it counts buyers past their scene's target (a threshold at or above the target).{{if .WaitingAPI}} A count links to /api/v1/waiting, which names the buyers.{{end}}</p>
{{- end}}
<p><b>{{.Reply.Heading}}</b>: {{.Reply.Num}} / {{.Reply.Den}} over the last {{.Reply.Span}} (CONTRACT §4 {{.Reply.Local}}), replied/inquiries after it; {{.NoData}} without inquiries.</p>
<p>Sorted worst first, by urgency (a row's tooltip): the buyers waiting now past their scene's target, each once for every waiting threshold at or above the target it has passed, plus, for each scene, how many targets its average response time is over its target; then the response time relative to the target, then the lowest reply rate. A buyer waiting past the target weighs as much as an average a whole target over it. See docs/SHOPS.md.</p>
</div>
{{- end}}
</main>
</body>
</html>
`
