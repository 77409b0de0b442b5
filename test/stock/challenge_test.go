package stock

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// answer is what a client reads from a refusal: the status, the challenge
// (with the realm's address, which differs per run, replaced by REALM) and
// the first error code.
type answer struct {
	status    int
	challenge string
	code      string
}

// TestRefusalsAsStockRegistry asks ours and each stock registry, behind our
// auth, the same questions a client asks before and during the token flow,
// and wants the same answers: UIs match the challenge with a regular
// expression and clients decide from error="insufficient_scope" or
// "invalid_token" whether to ask for another token. Where we differ on
// purpose (OPTIONS answered for CORS, 400 instead of their 500 for a
// malformed digest) is left out; the README lists those.
func TestRefusalsAsStockRegistry(t *testing.T) {
	questions := []struct {
		name, method, path string
		token              string // "", "reader" (pull on app) or "garbage"
	}{
		{"ping without a token", http.MethodGet, "/v2/", ""},
		{"tags without a token", http.MethodGet, "/v2/app/tags/list", ""},
		{"manifest HEAD without a token", http.MethodHead, "/v2/app/manifests/1.0", ""},
		{"catalog without a token", http.MethodGet, "/v2/_catalog", ""},
		{"catalog with a pull token", http.MethodGet, "/v2/_catalog", "reader"},
		{"upload with a pull token", http.MethodPost, "/v2/app/blobs/uploads/", "reader"},
		{"delete with a pull token", http.MethodDelete, "/v2/app/manifests/1.0", "reader"},
		{"another repository with app's token", http.MethodGet, "/v2/other/tags/list", "reader"},
		{"a token that is no JWT", http.MethodGet, "/v2/app/tags/list", "garbage"},
		{"unknown tag", http.MethodGet, "/v2/app/manifests/nosuchtag", "reader"},
		{"unknown blob", http.MethodGet, "/v2/app/blobs/sha256:" + strings.Repeat("0", 64), "reader"},
		{"the root, where registry:2's health probes look", http.MethodGet, "/", ""},
		{"the root by HEAD", http.MethodHead, "/", ""},
	}
	tr := trust{rsa: true, kid: "libtrust", x5c: true}
	arts := content(t)[:1] // app:1.0 and app:latest
	ask := func(t *testing.T, p program) []answer {
		authURL, host := startAuthAndStock(t, p, tr)
		push(t, host, newClient(t, admin), arts)
		tokens := map[string]string{"reader": fetchToken(t, authURL, reader, "repository:app:pull"), "garbage": "not.a.jwt"}
		var answers []answer
		for _, q := range questions {
			answers = append(answers, askOnce(t, host, authURL, q.method, q.path, tokens[q.token]))
		}
		return answers
	}
	want := ask(t, ours())
	for i, q := range questions {
		t.Logf("%s: %+v", q.name, want[i])
	}
	for _, r := range testkit.StockRegistries {
		t.Run(r.Version, func(t *testing.T) {
			got := ask(t, stockProgram(t, r))
			for i, q := range questions {
				if got[i] != want[i] {
					t.Errorf("%s (%s %s):\n  %s: %+v\n  ours:   %+v", q.name, q.method, q.path, r.Version, got[i], want[i])
				}
			}
		})
	}
}

// scopeActions is the actions of a challenge's scope="type:name:actions".
var scopeActions = regexp.MustCompile(`scope="[^"]*:[^":]*"`)

// sortActions sorts the actions of one scope="..." match: registry:3 lists
// them in map order ("push,pull" or "pull,push" from one run to the next),
// and clients read them as a set.
func sortActions(scope string) string {
	i := strings.LastIndex(scope, ":")
	actions := strings.Split(strings.TrimSuffix(scope[i+1:], `"`), ",")
	slices.Sort(actions)
	return scope[:i+1] + strings.Join(actions, ",") + `"`
}

// askOnce sends one request with an optional Bearer token.
func askOnce(t *testing.T, host, authURL, method, path, token string) answer {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	challenge := strings.ReplaceAll(resp.Header.Get("WWW-Authenticate"), authURL, "REALM")
	a := answer{status: resp.StatusCode, challenge: scopeActions.ReplaceAllStringFunc(challenge, sortActions)}
	var errs struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if method != http.MethodHead && json.Unmarshal(body, &errs) == nil && len(errs.Errors) > 0 {
		a.code = errs.Errors[0].Code
	}
	return a
}
