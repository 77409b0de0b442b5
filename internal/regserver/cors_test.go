package regserver

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/testkit"
)

// seed004Headers returns the REGISTRY_HTTP_HEADERS_* lines of seed 004's
// compose file exactly as written, its UI address placeholder filled in.
func seed004Headers(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testkit.SharedDir(t), "seeds", "004_*.txt"))
	if len(files) != 1 {
		t.Fatalf("seed 004: %d files", len(files))
	}
	text, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, m := range regexp.MustCompile(`(?m)^\s*- (REGISTRY_HTTP_HEADERS_\S+)\s*$`).FindAllStringSubmatch(string(text), -1) {
		env = append(env, strings.ReplaceAll(m[1], "<Docker Registry UI地址>", "https://ui.example"))
	}
	if !slices.Contains(env, "REGISTRY_HTTP_HEADERS_Access-Control-Expose-Headers=['Docker-Content-Digest']") {
		t.Fatalf("seed 004 no longer has its Expose-Headers line: %q", env)
	}
	return env
}

func TestCORSExposesTheChallenge(t *testing.T) {
	ca := newTokenCA(t)
	tokenAuth := func(c *regconfig.Config) {
		c.Auth.Token = &regconfig.TokenAuth{Realm: testRealm, Service: testService, Issuer: testIssuer, RootCertBundle: ca.bundle}
	}
	fromEnv := func(env []string) func(*regconfig.Config) {
		loaded, err := regconfig.Load("", env)
		if err != nil {
			t.Fatal(err)
		}
		return func(c *regconfig.Config) {
			c.HTTP.Headers = loaded.HTTP.Headers
			tokenAuth(c)
		}
	}
	tests := []struct {
		name string
		edit func(*regconfig.Config)
		want []string // the Access-Control-Expose-Headers lines
	}{
		{"seed 004's headers", fromEnv(seed004Headers(t)), []string{"Docker-Content-Digest", "WWW-Authenticate"}},
		{"already exposed, in any case", fromEnv([]string{
			"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin=[https://ui.example]",
			"REGISTRY_HTTP_HEADERS_Access-Control-Expose-Headers=['Docker-Content-Digest, www-authenticate']",
		}), []string{"Docker-Content-Digest, www-authenticate"}},
		{"CORS without Expose-Headers", fromEnv([]string{"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin=[https://ui.example]"}),
			[]string{"WWW-Authenticate"}},
		{"no CORS configured", tokenAuth, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newRegistry(t, tt.edit)
			for _, req := range []request{
				{method: "GET", path: "/v2/_catalog", header: map[string]string{"Origin": "https://ui.example"}},
				{method: "OPTIONS", path: "/v2/_catalog", header: map[string]string{"Origin": "https://ui.example", "Access-Control-Request-Method": "GET"}},
			} {
				resp, _ := tr.do(t, req)
				if got := resp.Header.Values("Access-Control-Expose-Headers"); !slices.Equal(got, tt.want) {
					t.Errorf("%s: Expose-Headers %q, want %q", req.method, got, tt.want)
				}
				if req.method == "GET" && (resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "") {
					t.Errorf("GET: %d without a challenge", resp.StatusCode)
				}
			}
		})
	}
}
