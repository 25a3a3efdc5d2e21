package faults_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestLongCasesRunSomewhere: every test of this package that calls long — skipped by
// `make test` — is named in LONG_TESTS of the Makefile, which `make test-long` runs, and
// every name there is such a test; so no fault case drops out of both.
func TestLongCasesRunSomewhere(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("listing the package's test files: %d, %v", len(files), err)
	}
	fset := token.NewFileSet()
	var callers []string
	for _, name := range files {
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Test") {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "long" {
						callers = append(callers, fn.Name.Name)
						return false
					}
				}
				return true
			})
		}
	}
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LONG_TESTS\s*:?=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile has no LONG_TESTS line")
	}
	listed := strings.Fields(string(m[1]))
	slices.Sort(callers)
	callers = slices.Compact(callers)
	slices.Sort(listed)
	if !slices.Equal(callers, listed) {
		t.Errorf("tests that skip unless %s is set: %v; LONG_TESTS of the Makefile (run by `make test-long`): %v; they must be the same",
			longEnv, callers, listed)
	}
	t.Logf("long fault cases, run by `make test-long`: %v", listed)
}
