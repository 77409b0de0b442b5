package storage

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDomainPackagesKnowNothingOfHTTP keeps pkg/storage, pkg/manifest and
// pkg/reference free of HTTP and of the programs' internals: they return
// sentinel errors and the HTTP layers map them.
func TestDomainPackagesKnowNothingOfHTTP(t *testing.T) {
	for _, dir := range []string{".", "../manifest", "../reference"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(p, "net/http") || strings.Contains(p, "/internal/") || strings.Contains(p, "/cmd/") {
					t.Errorf("%s imports %s", f, p)
				}
			}
		}
	}
}
