package sinks

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cskpi/cskpi/windows/kpi"
)

// everyFamily is a few series of every KPI family, grouped by family as Each hands them
// over, with label values the formats must escape and values of every shape.
func everyFamily() staticSource {
	shops := []string{"shop-1", `quo"te`, `back\slash`, "new\nline", "店铺"}
	values := []float64{0, 1, -1, 0.5, 12345678, 1e21, 3.25e-7, math.Inf(1), math.NaN()}
	var out staticSource
	n := 0
	for _, f := range kpi.Families() {
		for _, shop := range shops {
			var l kpi.Labels
			for _, name := range f.LabelNames() {
				l.Set(name, name+"-"+shop)
			}
			l.Shop = shop
			out = append(out, kpi.Series{Name: f.Name, Labels: l, Value: values[n%len(values)]})
			n++
		}
	}
	return out
}

// TestMetricsHandlerMatchesClientGolang holds the KPI writer to client_golang's encoders:
// for each format a scraper may ask for, every family's lines are the same bytes as those
// of a KPICollector registered in a registry with the rest, served by promhttp.
func TestMetricsHandlerMatchesClientGolang(t *testing.T) {
	rest := testRegistry(t)
	src := everyFamily()
	fast := newMetricsHandler(src, rest, slog.New(slog.DiscardHandler))
	ref := prometheus.NewRegistry()
	ref.MustRegister(NewKPICollector(src))
	slow := promhttp.HandlerFor(prometheus.Gatherers{rest, ref}, handlerOpts(slog.New(slog.DiscardHandler)))

	for _, tc := range []struct{ name, accept, encoding string }{
		{"text", "text/plain;version=0.0.4", ""},
		{"text gzip", "text/plain;version=0.0.4", "gzip"},
		{"openmetrics (Prometheus' default Accept)", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "gzip"},
		{"no Accept", "", ""},
		{"gzip refused", "text/plain", "gzip;q=0, identity"},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotType, gotEnc, got := scrapeWith(t, fast, tc.accept, tc.encoding)
			wantType, wantEnc, want := scrapeWith(t, slow, tc.accept, tc.encoding)
			if gotType != wantType || gotEnc != wantEnc {
				t.Fatalf("Content-Type %q, Content-Encoding %q; client_golang: %q, %q", gotType, gotEnc, wantType, wantEnc)
			}
			if strings.Contains(gotType, "protobuf") {
				if !bytes.Equal(got, want) {
					t.Fatal("protobuf bodies differ")
				}
				return
			}
			g, w := familyBlocks(t, string(got)), familyBlocks(t, string(want))
			if len(g) != len(w) || len(w) != len(kpi.Families())+1 {
				t.Fatalf("%d families, client_golang %d, want %d", len(g), len(w), len(kpi.Families())+1)
			}
			for name, lines := range w {
				if !slices.Equal(g[name], lines) {
					t.Errorf("%s:\n got %q\nwant %q", name, g[name], lines)
				}
			}
			if strings.HasPrefix(gotType, "application/openmetrics-text") && !strings.HasSuffix(string(got), "# EOF\n") {
				t.Error("OpenMetrics body does not end in # EOF")
			}
		})
	}
}

func scrapeWith(t *testing.T, h http.Handler, accept, encoding string) (contentType, contentEncoding string, body []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	var r io.Reader = rec.Body
	if rec.Header().Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = gz
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Header().Get("Content-Type"), rec.Header().Get("Content-Encoding"), b
}

// familyBlocks groups an exposition's lines by family, samples sorted: the formats fix
// each line but not the order of families or of a family's series.
func familyBlocks(t *testing.T, body string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if line == "# EOF" {
			continue
		}
		name := line
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			_, rest, _ = strings.Cut(rest, " ") // HELP or TYPE
			name, _, _ = strings.Cut(rest, " ")
		} else if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		out[name] = append(out[name], line)
	}
	for _, lines := range out {
		slices.Sort(lines)
	}
	return out
}
