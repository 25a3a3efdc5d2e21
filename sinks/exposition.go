package sinks

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/cskpi/cskpi/windows/kpi"
)

// metricsHandler serves /metrics. The KPI series, a few hundred per shop, are written
// straight from the Source as they come, in the text or OpenMetrics format the scraper
// asked for: through client_golang (a const metric, its label pairs and a sort per series,
// then the encoder) a scrape of 1 000 shops cost about a second of CPU. Everything else
// (health, runtime) goes through the Gatherer and its encoder, after the KPI families
// (reading them updates cskpi_series_folded). A scraper that asks for protobuf gets both
// through client_golang: the KPI collector over the same Source.
type metricsHandler struct {
	kpis     Source
	fams     map[string]*textFamily
	rest     prometheus.Gatherer
	protobuf http.Handler
	log      *slog.Logger
}

// textFamily is a KPI family as the writer needs it.
type textFamily struct {
	name, help string
	labels     []string
}

func newMetricsHandler(kpis Source, rest prometheus.Gatherer, log *slog.Logger) *metricsHandler {
	h := &metricsHandler{kpis: kpis, fams: map[string]*textFamily{}, rest: rest, log: log}
	for _, f := range kpi.Families() {
		// Sorted, as client_golang writes them: the same series, byte for byte.
		h.fams[f.Name] = &textFamily{name: f.Name, help: f.Help, labels: slices.Sorted(slices.Values(f.LabelNames()))}
	}
	all := prometheus.NewRegistry()
	all.MustRegister(NewKPICollector(kpis))
	h.protobuf = promhttp.HandlerFor(prometheus.Gatherers{rest, all}, handlerOpts(log))
	return h
}

// handlerOpts are the options of every client_golang /metrics handler here.
func handlerOpts(log *slog.Logger) promhttp.HandlerOpts {
	return promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
		// A failing collector should cost its own series, not the whole scrape.
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	}
}

func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
	openMetrics := false
	switch format.FormatType() {
	case expfmt.TypeOpenMetrics:
		openMetrics = true
	case expfmt.TypeTextPlain:
	default:
		h.protobuf.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", string(format))
	var out io.Writer = w
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		// The fastest level of klauspost/compress (already a dependency, of kafka-go): a
		// scrape is tens of megabytes at thousands of shops, and the standard library's
		// default level took most of the scrape's time.
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer gz.Close()
		out = gz
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	defer bw.Flush()
	h.writeKPIs(bw, openMetrics)

	mfs, err := h.rest.Gather()
	if err != nil {
		h.log.Error("gathering metrics", "err", err) // what gathered is still served
	}
	enc := expfmt.NewEncoder(bw, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			h.log.Debug("writing metrics", "err", err) // the scraper went away
			return
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = c.Close() // OpenMetrics' # EOF
	}
}

// writeKPIs writes the Source's series. Each hands a family's series over together, so a
// family's HELP and TYPE lines precede its first series.
func (h *metricsHandler) writeKPIs(w *bufio.Writer, openMetrics bool) {
	var f *textFamily
	num := make([]byte, 0, 32)
	h.kpis.Each(func(s kpi.Series) {
		if f == nil || s.Name != f.name {
			f = h.fams[s.Name]
			w.WriteString("# HELP ")
			w.WriteString(f.name)
			w.WriteByte(' ')
			writeEscaped(w, f.help, openMetrics)
			w.WriteString("\n# TYPE ")
			w.WriteString(f.name)
			w.WriteString(" gauge\n")
		}
		w.WriteString(f.name)
		if len(f.labels) > 0 {
			w.WriteByte('{')
			for i, name := range f.labels {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(name)
				w.WriteString(`="`)
				writeEscaped(w, s.Labels.Get(name), true)
				w.WriteByte('"')
			}
			w.WriteByte('}')
		}
		w.WriteByte(' ')
		num = appendValue(num[:0], s.Value, openMetrics)
		num = append(num, '\n')
		w.Write(num)
	})
}

// writeEscaped writes s escaped as the exposition formats escape label values (quotes
// too) and text HELP lines (backslash and newline only).
func writeEscaped(w *bufio.Writer, s string, quotes bool) {
	i := 0
	for i < len(s) && s[i] != '\\' && s[i] != '\n' && s[i] != '"' {
		i++
	}
	w.WriteString(s[:i])
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			w.WriteString(`\\`)
		case c == '\n':
			w.WriteString(`\n`)
		case c == '"' && quotes:
			w.WriteString(`\"`)
		default:
			w.WriteByte(c)
		}
	}
}

// appendValue formats v as expfmt does: the shortest representation, and in OpenMetrics
// always with a decimal point or an exponent.
func appendValue(b []byte, v float64, openMetrics bool) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	if openMetrics && !bytes.ContainsAny(b[start:], "e.") {
		b = append(b, '.', '0')
	}
	return b
}

// acceptsGzip reads an Accept-Encoding header: gzip, unless its q is 0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(name) != "gzip" {
			continue
		}
		for param := range strings.SplitSeq(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(param), "q="); ok {
				q, err := strconv.ParseFloat(v, 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}
