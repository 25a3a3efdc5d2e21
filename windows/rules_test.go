package windows

import (
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/windows/kpi"
)

// The rules themselves are held to CONTRACT §2 by the reference's tests (windows/reference)
// and by the differential tests, which compare every series of the streaming rules with the
// reference on seeded logs with every boundary of §2. The tests here keep rules.go checkable
// against the contract, and cover what only the streaming rules have: joins that depend on
// the order records are consumed in.

// TestEveryWindowedFamilyHasARule: a family counted in the buckets (a Counter, Shortfall or
// PerThreshold row of the KPI table) is counted by rules.go, so a row added without its
// streaming rule fails here rather than exporting zeros.
func TestEveryWindowedFamilyHasARule(t *testing.T) {
	used := map[kpi.ID]bool{}
	scope := kpiScope(t)
	f := parseFile(t, "rules.go")
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "kpi" {
			return true
		}
		if c, ok := scope.Lookup(sel.Sel.Name).(*types.Const); ok && c.Type().String() == "github.com/cskpi/cskpi/windows/kpi.ID" {
			if v, ok := constant.Int64Val(c.Val()); ok {
				used[kpi.ID(v)] = true
			}
		}
		return true
	})
	for _, fam := range kpi.Families() {
		switch fam.Kind {
		case kpi.Counter, kpi.Shortfall, kpi.PerThreshold:
			if !used[fam.ID] {
				t.Errorf("%s: no rule in rules.go counts it", fam.Name)
			}
		}
	}
}

// TestRuleMapNamesTheRules: the map at the top of rules.go, from each definition of §2 to the
// functions applying it, names functions that exist.
func TestRuleMapNamesTheRules(t *testing.T) {
	funcs := map[string]bool{}
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		for _, d := range parseFile(t, path).Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				funcs[fd.Name.Name] = true
			}
		}
	}
	src, err := os.ReadFile("rules.go")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(src), "Where each\n// definition of §2 is applied:\n//\n")
	table, _, _ = strings.Cut(table, "\n//\n")
	if !ok || table == "" {
		t.Fatal("rules.go: the map of §2's definitions is gone")
	}
	parens := regexp.MustCompile(`\([^)]*\)`)
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		def, fns, ok := strings.Cut(strings.TrimPrefix(line, "//\t"), "  ")
		if !ok {
			t.Errorf("rules.go: map row %q has no functions", line)
			continue
		}
		rows++
		for _, fn := range strings.Split(parens.ReplaceAllString(fns, ""), ",") {
			if fn = strings.TrimSpace(fn); !funcs[fn] {
				t.Errorf("rules.go: %q is applied by %q, which is no function of the package", def, fn)
			}
		}
	}
	if rows < 10 {
		t.Errorf("rules.go: the map has %d rows", rows)
	}
}

// TestGuidedInAnyOrder: a cohort's payments may be consumed before its buyer message (the
// orders topic runs ahead), between the message and the reply, or after the reply; in every
// order the cohort is guided once, with every payment in [t0, t0+48h], for the agent of its
// reply. A payment inside both horizons guides two cohorts of the same buyer.
func TestGuidedInAnyOrder(t *testing.T) {
	// One cohort (10:00 UTC, 18:00 in Shanghai), its reply a minute later, two payments
	// within 48 h and one after.
	one := []event.Event{
		msg("m", event.Buyer, 0), msg("r", event.Agent, time.Minute),
		order("p1", event.OrderPaid, time.Hour, 100), order("p2", event.OrderPaid, 47*time.Hour, 250),
		order("p3", event.OrderPaid, 48*time.Hour+time.Nanosecond, 1000),
	}
	wantOne := map[string]float64{
		key(kpi.Inquiries, "28d"): 1, key(kpi.InquiriesReplied, "28d"): 1,
		key(kpi.InquiriesGuided, "28d"): 1, key(kpi.GuidedGMV, "28d"): 3.5,
		akey(kpi.AgentInquiriesGuided, "a1", "28d"): 1, akey(kpi.AgentGuidedGMV, "a1", "28d"): 3.5,
		key(kpi.OrdersPaid, "28d"): 3, key(kpi.PaidGMV, "28d"): 13.5,
	}
	// Two cohorts of one buyer, 23:00 and 00:30 local, each replied; one payment at 01:00.
	two := []event.Event{
		msg("m1", event.Buyer, 5*time.Hour), msg("r1", event.Agent, 5*time.Hour+time.Minute),
		msg("m2", event.Buyer, 6*time.Hour+30*time.Minute), msg("r2", event.Agent, 6*time.Hour+31*time.Minute, agent("a2")),
		order("p", event.OrderPaid, 7*time.Hour, 990),
	}
	wantTwo := map[string]float64{
		key(kpi.Inquiries, "28d"): 2, key(kpi.InquiriesReplied, "28d"): 2,
		key(kpi.InquiriesGuided, "28d"): 2, key(kpi.GuidedGMV, "28d"): 19.8,
		akey(kpi.AgentGuidedGMV, "a1", "28d"): 9.9, akey(kpi.AgentGuidedGMV, "a2", "28d"): 9.9,
		key(kpi.OrdersPaid, "28d"): 1, key(kpi.PaidGMV, "28d"): 9.9,
	}
	for _, tc := range []struct {
		name string
		evs  []event.Event
		want map[string]float64
	}{
		{"one cohort", one, wantOne},
		{"a payment for two cohorts", two, wantTwo},
	} {
		var msgs, orders []event.Event
		for _, e := range tc.evs {
			if e.Topic == event.Messages {
				msgs = append(msgs, e)
			} else {
				orders = append(orders, e)
			}
		}
		n := 0
		// Every interleaving of the messages (in their order, CONTRACT §1) with the
		// payments (in any order).
		for _, ords := range permutations(orders) {
			for _, evs := range interleavings(msgs, ords) {
				n++
				got := run(t, evs, at(50*time.Hour))
				for k, want := range tc.want {
					if got[k] != want {
						t.Errorf("%s, consumed as %s: %s = %v, want %v", tc.name, ids(evs), k, got[k], want)
					}
				}
			}
		}
		if n < 5 {
			t.Fatalf("%s: only %d orders tried", tc.name, n)
		}
	}
}

func ids(evs []event.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.ID)
	}
	return strings.Join(s, " ")
}

func permutations(evs []event.Event) [][]event.Event {
	if len(evs) <= 1 {
		return [][]event.Event{append([]event.Event(nil), evs...)}
	}
	var out [][]event.Event
	for i := range evs {
		rest := append(append([]event.Event(nil), evs[:i]...), evs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]event.Event{evs[i]}, p...))
		}
	}
	return out
}

// interleavings are the merges of a and b that keep the order of each.
func interleavings(a, b []event.Event) [][]event.Event {
	if len(a) == 0 || len(b) == 0 {
		return [][]event.Event{append(append([]event.Event(nil), a...), b...)}
	}
	var out [][]event.Event
	for _, rest := range interleavings(a[1:], b) {
		out = append(out, append([]event.Event{a[0]}, rest...))
	}
	for _, rest := range interleavings(a, b[1:]) {
		out = append(out, append([]event.Event{b[0]}, rest...))
	}
	return out
}

func parseFile(t *testing.T, path string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// kpiScope is the kpi package's declarations, type-checked from source.
func kpiScope(t *testing.T) *types.Scope {
	t.Helper()
	pkg, err := importer.ForCompiler(token.NewFileSet(), "source", nil).Import("github.com/cskpi/cskpi/windows/kpi")
	if err != nil {
		t.Fatal(err)
	}
	return pkg.Scope()
}
