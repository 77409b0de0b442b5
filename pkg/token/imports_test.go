package token_test

import (
	"go/build"
	"strings"
	"testing"
)

// pkg/token is shared by both programs and must stay a small domain
// package: the standard library and the JWT library only (no HTTP router,
// metrics, storage or config code).
func TestTokenPackageImportsOnlyStdlibAndJWT(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "github.com/golang-jwt/jwt/v5" {
			t.Errorf("pkg/token imports %s", imp)
		}
	}
}
