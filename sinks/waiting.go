package sinks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Episode is one open waiting episode, as GET /api/v1/waiting shows it.
type Episode struct {
	Shop           string    `json:"shop"`
	Buyer          string    `json:"buyer"`
	Started        time.Time `json:"started"`
	WaitingSeconds float64   `json:"waiting_seconds"`
	// Scene is the episode's: its first message's, presale or aftersale.
	Scene string `json:"scene"`
	// LastAgent is the agent who last replied to this buyer, if one is remembered.
	LastAgent string `json:"last_agent,omitempty"`
}

// WaitingFunc lists the open episodes of shop ("" for all) that have waited at least
// minWait, at the as-of time it returns; known says whether shop is known at all.
type WaitingFunc func(shop string, minWait time.Duration) (episodes []Episode, asOf time.Time, known bool)

const (
	defaultWaitingLimit = 100
	maxWaitingLimit     = 1000
)

var shopParam = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// waitingHandler serves GET /api/v1/waiting?shop=S&scene=presale&min_wait=15s&limit=100 (CONTRACT §7):
// longest wait first, in Prometheus' API envelope so that the same tools read it.
func waitingHandler(list WaitingFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			apiError(w, http.StatusMethodNotAllowed, "bad_data", "only GET is allowed")
			return
		}
		q := r.URL.Query()
		shop := q.Get("shop")
		if shop != "" && !shopParam.MatchString(shop) {
			apiError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("shop %q: 1-64 characters of [A-Za-z0-9._-]", shop))
			return
		}
		scene := q.Get("scene")
		if scene != "" && scene != "presale" && scene != "aftersale" {
			apiError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("scene %q: presale or aftersale", scene))
			return
		}
		var minWait time.Duration
		if v := q.Get("min_wait"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				apiError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("min_wait %q: a duration such as 15s, 3m or 1h, not negative", v))
				return
			}
			minWait = d
		}
		limit, err := parseLimit(q.Get("limit"), defaultWaitingLimit, maxWaitingLimit)
		if err != nil {
			apiError(w, http.StatusBadRequest, "bad_data", err.Error())
			return
		}
		eps, asOf, known := list(shop, minWait)
		if shop != "" && !known {
			apiError(w, http.StatusNotFound, "not_found", fmt.Sprintf("shop %q is unknown to this instance: not in the shop directory and no events in the partitions it owns", shop))
			return
		}
		if scene != "" {
			eps = slices.DeleteFunc(eps, func(e Episode) bool { return e.Scene != scene })
		}
		sort.Slice(eps, func(i, j int) bool {
			if eps[i].WaitingSeconds != eps[j].WaitingSeconds {
				return eps[i].WaitingSeconds > eps[j].WaitingSeconds
			}
			if eps[i].Shop != eps[j].Shop {
				return eps[i].Shop < eps[j].Shop
			}
			return eps[i].Buyer < eps[j].Buyer
		})
		total := len(eps)
		eps = eps[:min(limit, len(eps))]
		if eps == nil {
			eps = []Episode{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{
			"as_of": asOf.UTC().Format(time.RFC3339Nano), "total": total, "episodes": eps,
		}})
	}
}

func apiError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, map[string]string{"status": "error", "errorType": typ, "error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// parseLimit reads a limit parameter: def when empty, else a whole number from 1 to most.
func parseLimit(v string, def, most int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, fmt.Errorf("limit %q: a whole number from 1 to %d", v, most)
	}
	return n, nil
}
