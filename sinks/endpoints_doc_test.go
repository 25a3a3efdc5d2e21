package sinks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// registeredPaths are the patterns this package's server registers on its mux: the string
// literal of every Handle and HandleFunc call in the package's (non-test) source.
func registeredPaths(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: %s registers a path that is not a string literal; this test cannot see it", fset.Position(call.Pos()), sel.Sel.Name)
				return true
			}
			p, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
			return true
		})
	}
	return paths
}

// section is the part of a Markdown doc from the heading that starts with heading to the
// next heading of the same level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(doc)))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	level := heading[:strings.Index(heading, " ")+1]
	i := strings.Index(s, "\n"+heading)
	if i < 0 {
		t.Fatalf("%s has no heading %q", doc, heading)
	}
	s = s[i+1:]
	if j := strings.Index(s[len(heading):], "\n"+level); j >= 0 {
		s = s[:len(heading)+j]
	}
	return s
}

// TestEveryEndpointDocumented: every path the server registers is in the table of
// docs/DEPLOYING.md's "Endpoints" and named in CONTRACT §7 (the profiles under the
// /debug/pprof/ index too), and every path that table lists is served, so that the docs and
// the mux cannot drift apart.
func TestEveryEndpointDocumented(t *testing.T) {
	paths := registeredPaths(t)
	for _, want := range []string{"/metrics", "/-/healthy", "/-/ready", "/api/v1/waiting", "/shops", "/", "/debug/pprof/"} {
		if !slices.Contains(paths, want) {
			t.Fatalf("found registrations %v, not %s: has the server stopped registering paths with literals?", paths, want)
		}
	}
	deploying := section(t, "docs/DEPLOYING.md", "## Endpoints")
	contract := section(t, "docs/CONTRACT.md", "## §7")
	rows := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(deploying, -1)
	var table []string
	for _, r := range rows {
		table = append(table, r[1])
	}
	for _, p := range paths {
		if !slices.Contains(table, p) {
			t.Errorf("%s is served but not a row of docs/DEPLOYING.md, \"Endpoints\"", p)
		}
		if !regexp.MustCompile("`(GET )?" + regexp.QuoteMeta(p) + "[`?]").MatchString(contract) {
			t.Errorf("%s is served but not named in docs/CONTRACT.md §7", p)
		}
	}
	for _, p := range table {
		if !slices.Contains(paths, p) {
			t.Errorf("docs/DEPLOYING.md lists %s, which the server does not register", p)
		}
	}
}
