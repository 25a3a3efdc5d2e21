package sinks

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

var asOf = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// fakeWaiting holds 1 500 episodes of shop "big" and three of "s1"; "quiet" is known
// without any.
func fakeWaiting(shop string, minWait time.Duration) ([]Episode, time.Time, bool) {
	all := []Episode{
		{Shop: "s1", Buyer: "b1", WaitingSeconds: 20, LastAgent: "a1", Scene: "presale"},
		{Shop: "s1", Buyer: "b2", WaitingSeconds: 400, Scene: "aftersale"},
		{Shop: "s1", Buyer: "b3", WaitingSeconds: 5, Scene: "presale"},
	}
	for i := range 1500 {
		all = append(all, Episode{Shop: "big", Buyer: fmt.Sprint("b", i), WaitingSeconds: float64(i)})
	}
	var out []Episode
	known := shop == "" || shop == "quiet"
	for _, e := range all {
		if shop != "" && e.Shop != shop {
			continue
		}
		known = true
		if e.WaitingSeconds >= minWait.Seconds() {
			e.Started = asOf.Add(-time.Duration(e.WaitingSeconds * float64(time.Second)))
			out = append(out, e)
		}
	}
	return out, asOf, known
}

type waitingResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		AsOf     string    `json:"as_of"`
		Total    int       `json:"total"`
		Episodes []Episode `json:"episodes"`
	} `json:"data"`
}

func TestWaitingAPI(t *testing.T) {
	addr := startServer(t, ServerOptions{Gatherer: testRegistry(t), Waiting: fakeWaiting})
	tests := []struct {
		name    string
		query   string
		code    int
		buyers  string // the buyers in order, for short answers
		count   int
		total   int
		errPart string
	}{
		{"a shop, longest wait first", "shop=s1", 200, "b2 b1 b3", 3, 3, ""},
		{"min_wait filters", "shop=s1&min_wait=15s", 200, "b2 b1", 2, 2, ""},
		{"limit", "shop=s1&limit=1", 200, "b2", 1, 3, ""},
		{"one scene", "shop=s1&scene=presale", 200, "b1 b3", 2, 2, ""},
		{"the other scene", "shop=s1&scene=aftersale&min_wait=15s", 200, "b2", 1, 1, ""},
		{"an unknown scene", "scene=refund", 400, "", 0, 0, "scene"},
		{"default limit 100", "shop=big", 200, "", 100, 1500, ""},
		{"at most 1000", "limit=1000", 200, "", 1000, 1503, ""},
		{"a known shop with nobody waiting", "shop=quiet", 200, "", 0, 0, ""},
		{"an unknown shop", "shop=nosuch", 404, "", 0, 0, `shop "nosuch" is unknown`},
		{"limit above 1000", "limit=1001", 400, "", 0, 0, "limit"},
		{"limit zero", "limit=0", 400, "", 0, 0, "limit"},
		{"limit not a number", "limit=many", 400, "", 0, 0, "limit"},
		{"min_wait not a duration", "min_wait=15", 400, "", 0, 0, "min_wait"},
		{"min_wait negative", "min_wait=-1s", 400, "", 0, 0, "min_wait"},
		{"shop with bad characters", "shop=a%20b", 400, "", 0, 0, "shop"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, body := get(t, http.DefaultClient, "http://"+addr+"/api/v1/waiting?"+tc.query, nil, "", "")
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var r waitingResponse
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if tc.code != 200 {
				if r.Status != "error" || !strings.Contains(r.Error, tc.errPart) {
					t.Errorf("error %+v, want one naming %q", r, tc.errPart)
				}
				return
			}
			if r.Status != "success" || len(r.Data.Episodes) != tc.count || r.Data.Total != tc.total || r.Data.AsOf != asOf.Format(time.RFC3339Nano) {
				t.Fatalf("%d episodes of %d at %s, want %d of %d: %s", len(r.Data.Episodes), r.Data.Total, r.Data.AsOf, tc.count, tc.total, body)
			}
			var buyers []string
			for i, e := range r.Data.Episodes {
				buyers = append(buyers, e.Buyer)
				if i > 0 && e.WaitingSeconds > r.Data.Episodes[i-1].WaitingSeconds {
					t.Fatalf("not longest wait first at %d", i)
				}
			}
			if tc.buyers != "" && strings.Join(buyers, " ") != tc.buyers {
				t.Errorf("buyers %v, want %s", buyers, tc.buyers)
			}
		})
	}
	t.Run("the last agent and start are shown", func(t *testing.T) {
		_, _, body := get(t, http.DefaultClient, "http://"+addr+"/api/v1/waiting?shop=s1&min_wait=10s&limit=2", nil, "", "")
		if !strings.Contains(body, `"last_agent":"a1"`) || !strings.Contains(body, `"started":"2026-11-30T07:59:40Z"`) {
			t.Errorf("body %s", body)
		}
	})
}

func TestWaitingAPIBehindTLSAndAuth(t *testing.T) {
	cfgFile, pool := writeTLSWebConfig(t, "ops", "s3cret")
	addr := startServer(t, ServerOptions{Gatherer: testRegistry(t), WebConfigFile: cfgFile, Waiting: fakeWaiting})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	if code, _, _ := get(t, client, "https://"+addr+"/api/v1/waiting", nil, "", ""); code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", code)
	}
	if code, _, body := get(t, client, "https://"+addr+"/api/v1/waiting?shop=s1", nil, "ops", "s3cret"); code != 200 || !strings.Contains(body, `"b2"`) {
		t.Errorf("with credentials: %d %s", code, body)
	}
}
