package faults_test

import (
	"cmp"
	"fmt"
	"maps"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/windows/kpi"
)

// cardinalityLog: shops shop-000..shop-(n-1); shop i has i+1 conversations (buyer
// message, a reply by one of its three agents, an order created and paid) and one buyer
// left waiting, so every shop's activity differs and the cap keeps the busiest. Lines are
// in ts order: docs/SEMANTICS.md's retention assumes a topic-partition is at most an hour
// out of order.
func cardinalityLog(shops int) [][]byte {
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	ts := func(d time.Duration) string { return base.Add(d).UTC().Format(time.RFC3339Nano) }
	type line struct {
		at time.Duration
		b  []byte
	}
	var out []line
	id := 0
	next := func() string { id++; return "card-" + strconv.Itoa(id) }
	for i := range shops {
		shop := fmt.Sprintf("shop-%03d", i)
		for c := range i + 1 {
			buyer := fmt.Sprintf("b%d", c)
			agent := fmt.Sprintf("s%03d-a%d", i, c%3)
			at := -time.Duration(c+1)*7*time.Minute - time.Duration(i)*time.Second
			order := fmt.Sprintf("o-%d-%d", i, c)
			reply := at + time.Duration(5+c)*time.Second
			out = append(out,
				line{at, fmt.Appendf(nil, `{"topic":"messages","event_id":%q,"shop_id":%q,"buyer_id":%q,"sender":"buyer","ts":%q}`, next(), shop, buyer, ts(at))},
				line{reply, fmt.Appendf(nil, `{"topic":"messages","event_id":%q,"shop_id":%q,"buyer_id":%q,"sender":"agent","agent_id":%q,"ts":%q}`, next(), shop, buyer, agent, ts(reply))},
				line{at + time.Minute, fmt.Appendf(nil, `{"topic":"orders","event_id":%q,"shop_id":%q,"buyer_id":%q,"type":"order_created","order_id":%q,"amount":"%d.%02d","ts":%q}`, next(), shop, buyer, order, 10+i, c, ts(at+time.Minute))},
				line{at + 2*time.Minute, fmt.Appendf(nil, `{"topic":"orders","event_id":%q,"shop_id":%q,"buyer_id":%q,"type":"order_paid","order_id":%q,"amount":"%d.%02d","ts":%q}`, next(), shop, buyer, order, 10+i, c, ts(at+2*time.Minute))},
			)
		}
		w := -time.Duration(i) * time.Minute
		out = append(out, line{w, fmt.Appendf(nil, `{"topic":"messages","event_id":%q,"shop_id":%q,"buyer_id":"waiting","sender":"buyer","ts":%q}`, next(), shop, ts(w))})
	}
	slices.SortStableFunc(out, func(a, b line) int { return cmp.Compare(a.at, b.at) })
	lines := make([][]byte, len(out))
	for i, l := range out {
		lines[i] = l.b
	}
	return lines
}

var seriesKeyRE = regexp.MustCompile(`^([a-z_0-9]+)\{(.*)\}$`)

// project maps a series key to (family, window, le, shop) — the agent dropped — with the
// shop renamed by rename.
func project(key string, rename func(string) string) (string, bool) {
	m := seriesKeyRE.FindStringSubmatch(key)
	if m == nil {
		return "", false
	}
	var parts []string
	for _, kv := range strings.Split(strings.TrimSuffix(m[2], ","), ",") {
		k, v, _ := strings.Cut(kv, "=")
		v = strings.Trim(v, `"`)
		switch k {
		case "agent":
			continue
		case "shop":
			v = rename(v)
		}
		parts = append(parts, k+"="+v)
	}
	return m[1] + "{" + strings.Join(parts, ",") + "}", true
}

// fold sums series under project; cskpi_waiting_oldest_seconds takes the max.
func fold(series map[string]float64, rename func(string) string) map[string]string {
	sums := map[string]*big.Rat{}
	for k, v := range series {
		p, ok := project(k, rename)
		if !ok {
			continue
		}
		r, _ := new(big.Rat).SetString(strconv.FormatFloat(v, 'g', -1, 64))
		switch cur := sums[p]; {
		case cur == nil:
			sums[p] = r
		case strings.HasPrefix(k, kpi.WaitingOldest.Name()+"{"):
			if r.Cmp(cur) > 0 {
				sums[p] = r
			}
		default:
			cur.Add(cur, r)
		}
	}
	out := map[string]string{}
	for k, r := range sums {
		out[k] = r.FloatString(3)
	}
	return out
}

// TestCardinalityCaps: 30 shops of 3 agents each through serve with --metrics.max-shops=8
// and --metrics.max-agents=12. At most 8 shop labels (the 7 busiest and "_other") and 11
// real agents plus "_other" agents are exported; cskpi_series_folded says how many were
// folded; the kept shops' series are exactly recompute's, "_other" carries exactly the sum
// of the folded shops, and totals over all series — per shop, per agent — equal recompute's.
func TestCardinalityCaps(t *testing.T) {
	t.Parallel()
	const shops, maxShops, maxAgents = 30, 8, 12
	agents := 0 // shop i's conversations are answered by min(i+1, 3) agents
	for i := range shops {
		agents += min(i+1, 3)
	}
	lines := cardinalityLog(shops)
	f := difftest.NewFixtureWith(t, difftest.Options{Lines: lines})
	p := startServe(t, f, "serve", "cardinality",
		"--metrics.max-shops="+strconv.Itoa(maxShops), "--metrics.max-agents="+strconv.Itoa(maxAgents))

	kept := map[string]bool{}
	for i := shops - maxShops + 1; i < shops; i++ {
		kept[fmt.Sprintf("shop-%03d", i)] = true
	}
	rename := func(s string) string {
		if kept[s] {
			return s
		}
		return "_other"
	}
	identity := func(s string) string { return s }
	wantByShop := fold(f.Want, rename)
	wantTotal := fold(f.Want, func(string) string { return "*" })
	wantKept := map[string]float64{}
	for k, v := range f.Want {
		for s := range kept {
			if strings.Contains(k, `shop="`+s+`"`) && !strings.Contains(k, "agent=") {
				wantKept[k] = v
			}
		}
	}

	var problems []string
	var got map[string]float64
	var all map[string]float64
	began := time.Now()
	deadline := began.Add(60 * time.Second)
	var settled time.Time // when every record had an outcome; a difference 3 s later is final
	for {
		problems = problems[:0]
		b, err := p.Scrape()
		if err == nil {
			var health map[string]float64
			got, health = difftest.KPISeries(t, b)
			all, _ = difftest.ParseAll(b)
			if difftest.Consumed(health) != len(lines) {
				problems = append(problems, fmt.Sprintf("%d of %d records consumed", difftest.Consumed(health), len(lines)))
			} else if settled.IsZero() {
				settled = time.Now()
			}
		} else {
			problems = append(problems, err.Error())
		}
		if len(problems) == 0 {
			shopLabels, realAgents := map[string]bool{}, map[string]bool{}
			gotKept := map[string]float64{}
			for k, v := range got {
				if m := regexp.MustCompile(`shop="([^"]*)"`).FindStringSubmatch(k); m != nil {
					shopLabels[m[1]] = true
					if kept[m[1]] && !strings.Contains(k, "agent=") {
						gotKept[k] = v
					}
				}
				if m := regexp.MustCompile(`agent="([^"]*)"`).FindStringSubmatch(k); m != nil && m[1] != "_other" {
					realAgents[m[1]] = true
				}
			}
			if len(shopLabels) != maxShops || !shopLabels["_other"] {
				problems = append(problems, fmt.Sprintf("%d shop labels %v, want %d with _other", len(shopLabels), slices.Sorted(maps.Keys(shopLabels)), maxShops))
			}
			if len(realAgents) != maxAgents-1 {
				problems = append(problems, fmt.Sprintf("%d real agent labels, want %d", len(realAgents), maxAgents-1))
			}
			if fs := all[difftest.SampleKey("cskpi_series_folded", "level", "shop")]; fs != shops-(maxShops-1) {
				problems = append(problems, fmt.Sprintf("cskpi_series_folded{level=shop} = %v, want %d", fs, shops-(maxShops-1)))
			}
			if fa := all[difftest.SampleKey("cskpi_series_folded", "level", "agent")]; fa != float64(agents-(maxAgents-1)) {
				problems = append(problems, fmt.Sprintf("cskpi_series_folded{level=agent} = %v, want %d", fa, agents-(maxAgents-1)))
			}
			for _, d := range difftest.Diff(gotKept, wantKept, 10) {
				problems = append(problems, "kept shop: "+d)
			}
			for _, c := range []struct {
				what      string
				got, want map[string]string
			}{
				{"by shop (folded shops as _other, agents summed)", fold(got, identity), wantByShop},
				{"total over all shops and agents", fold(got, func(string) string { return "*" }), wantTotal},
			} {
				for k, w := range c.want {
					if g := c.got[k]; g != w {
						problems = append(problems, fmt.Sprintf("%s: %s = %s, recompute %s", c.what, k, g, w))
					}
				}
				for k, g := range c.got {
					if _, ok := c.want[k]; !ok {
						problems = append(problems, fmt.Sprintf("%s: %s = %s, absent from recompute", c.what, k, g))
					}
				}
			}
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) || !settled.IsZero() && time.Since(settled) > 3*time.Second {
			slices.Sort(problems)
			if len(problems) > 40 {
				problems = append(problems[:40], fmt.Sprintf("... and %d more", len(problems)-40))
			}
			t.Fatalf("capped series do not add up to recompute's:\n%s", strings.Join(problems, "\n"))
		}
		time.Sleep(100 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
	t.Logf("%d shops with %d agents, caps %d shops / %d agents: %d KPI series exported instead of %d; folded %v shops and %v agents into _other; the %d kept shops' %d series equal recompute's, and %d per-shop and %d total sums equal recompute's, in %v",
		shops, agents, maxShops, maxAgents, len(got), len(f.Want),
		all[difftest.SampleKey("cskpi_series_folded", "level", "shop")], all[difftest.SampleKey("cskpi_series_folded", "level", "agent")],
		len(kept), len(wantKept), len(wantByShop), len(wantTotal), time.Since(began).Round(time.Millisecond))
	p.Stop()
}
