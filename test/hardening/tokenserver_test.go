package hardening

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
	"github.com/wharf-registry/wharf/internal/authserver"
	"github.com/wharf-registry/wharf/pkg/token"
)

// tokenServer is cmd/auth's handler over real HTTP with its config on disk.
type tokenServer struct {
	*httptest.Server
	srv *authserver.Server
}

// newTokenServer serves yaml, in which KEY and CERT name a fresh P-256
// signing key pair and tabs stand for two spaces.
func newTokenServer(t *testing.T, yaml string) *tokenServer {
	t.Helper()
	dir := t.TempDir()
	kp := authtest.WriteKeyPair(t, dir, "token", "p256")
	path := filepath.Join(dir, "auth_config.yml")
	authtest.WriteFile(t, path, strings.NewReplacer("\t", "  ", "CERT", kp.Cert, "KEY", kp.Key).Replace(yaml))
	srv, err := authserver.New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &tokenServer{Server: ts, srv: srv}
}

// get asks for a token with Basic credentials (user "" for none) and the
// given query, and returns the response, its body and, on 200, the access
// claim of the token.
func (ts *tokenServer) get(t *testing.T, user, password string, q url.Values, header map[string]string) (*http.Response, []byte, []token.ResourceActions) {
	t.Helper()
	r, err := http.NewRequest("GET", ts.URL+"/auth?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		r.SetBasicAuth(user, password)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp, body, nil
	}
	var tr struct{ Token string }
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatalf("token response %s: %v", body, err)
	}
	parts := strings.Split(tr.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is no JWS", tr.Token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c token.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return resp, body, c.Access
}

// grants renders an access claim as "type(class):name:actions" lines,
// actions sorted, for exact comparison.
func grants(access []token.ResourceActions) []string {
	out := []string{}
	for _, ra := range access {
		typ := ra.Type
		if ra.Class != "" {
			typ += "(" + ra.Class + ")"
		}
		acts := append([]string(nil), ra.Actions...)
		sort.Strings(acts)
		out = append(out, typ+":"+ra.Name+":"+strings.Join(acts, ","))
	}
	return out
}

const scopeConfig = `server: {addr: ":5001"}
token:
	issuer: "` + issuer + `"
	expiration: 900
	certificate: CERT
	key: KEY
	services: [` + service + `]
users:
	admin: {password: "` + authtest.AdminHash + `"}
	puller: {password: "` + authtest.ReaderHash + `"}
acl:
	- match: {account: admin}
	  actions: ["*"]
	- match: {account: puller, type: repository}
	  actions: [pull]
`

// TestScopeEdgeCasesGetExactGrantsOr400 sends the scope forms clients
// really use, and broken ones, to the token server: each valid request
// gets exactly the grants listed, in order, and each broken one 400
// invalid_scope before any password is checked.
func TestScopeEdgeCasesGetExactGrantsOr400(t *testing.T) {
	ts := newTokenServer(t, scopeConfig)
	tooMany := make([]string, token.MaxScopes+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("repository:r%d:pull", i)
	}
	tests := []struct {
		name   string
		user   string
		scopes []string
		want   []string // grants; nil means 400 invalid_scope
	}{
		{"host:port in the name", "admin", []string{"repository:localhost:5000/app:pull,push"}, []string{"repository:localhost:5000/app:pull,push"}},
		{"IPv6 host:port in the name", "admin", []string{"repository:[::1]:5000/app:pull"}, []string{"repository:[::1]:5000/app:pull"}},
		{"repeated parameters", "admin", []string{"repository:a:pull", "repository:b:push"}, []string{"repository:a:pull", "repository:b:push"}},
		{"space-separated in one parameter", "admin", []string{"repository:a:pull repository:b:pull,push"}, []string{"repository:a:pull", "repository:b:pull,push"}},
		{"resource class", "admin", []string{"repository(plugin):tools/x:pull"}, []string{"repository(plugin):tools/x:pull"}},
		{"duplicate and empty actions", "admin", []string{"repository:a:push,,pull,push,"}, []string{"repository:a:pull,push"}},
		{"catalog", "admin", []string{"registry:catalog:*"}, []string{"registry:catalog:*"}},
		{"empty scope parameter is a login", "admin", []string{""}, []string{}},
		{"pull-only user asking for everything", "puller", []string{"repository:lib/app:*,push,delete,pull"}, []string{"repository:lib/app:pull"}},
		{"pull-only user asking for the catalog", "puller", []string{"registry:catalog:*"}, []string{"registry:catalog:"}},
		{"upper-case type", "admin", []string{"Repository:a:pull"}, nil},
		{"upper-case repository path", "admin", []string{"repository:team/App:pull"}, nil},
		{"type only", "admin", []string{"repository"}, nil},
		{"truncated after the type", "admin", []string{"repository:"}, nil},
		{"truncated after the name", "admin", []string{"repository:a"}, nil},
		{"empty type", "admin", []string{":a:pull"}, nil},
		{"unterminated class", "admin", []string{"repository(plugin:a:pull"}, nil},
		{"empty class", "admin", []string{"repository():a:pull"}, nil},
		{"action with upper case", "admin", []string{"repository:a:Pull"}, nil},
		{"one bad scope among good ones", "admin", []string{"repository:a:pull", "repository:b:pull bogus"}, nil},
		{"more than the scope limit", "admin", tooMany, nil},
		{"a name over 255 characters", "admin", []string{"repository:" + strings.Repeat("a", 256) + ":pull"}, nil},
		{"malformed scope, wrong password: 400 first", "nobody", []string{"repository"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pw := map[string]string{"admin": "adminpassword", "puller": "readerpassword"}[tt.user]
			resp, body, access := ts.get(t, tt.user, pw, url.Values{"service": {service}, "scope": tt.scopes}, nil)
			if tt.want == nil {
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"error":"invalid_scope"`) {
					t.Errorf("%d %s, want 400 invalid_scope", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s, want 200", resp.StatusCode, body)
			}
			if got := grants(access); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("grants %q, want %q", got, tt.want)
			}
		})
	}
}

// TestUnknownUsersAndWrongPasswordsAreIndistinguishable compares, at
// bcrypt cost 10, an unknown user with a wrong password for a real one:
// the same status, headers and body, and median latencies within 15 %.
// The latency half runs only with WHARF_HARDENING_SLOW=1: it needs a
// machine not busy with other tests.
func TestUnknownUsersAndWrongPasswordsAreIndistinguishable(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("the real password"), 10)
	if err != nil {
		t.Fatal(err)
	}
	// Every user at cost 10, as `auth hash` makes them. (Mixed costs:
	// TestEveryFailedLoginCostsTheCostliestCheck.)
	cfg := scopeConfig[:strings.Index(scopeConfig, "users:\n")] + "users:\n\talice: {password: \"" + string(hash) + "\"}\n" +
		"\tbob: {password: \"" + string(hash) + "\"}\nacl:\n\t- match: {account: alice}\n\t  actions: [pull]\n" +
		"throttle: {max_failures: 0}\n"
	ts := newTokenServer(t, cfg)
	q := url.Values{"service": {service}, "scope": {"repository:alice/app:pull"}}
	answer := func(user string) (string, time.Duration) {
		start := time.Now()
		resp, body, _ := ts.get(t, user, "a wrong password", q, nil)
		took := time.Since(start)
		h := resp.Header.Clone()
		h.Del("Date")
		keys := make([]string, 0, len(h))
		for k, v := range h {
			keys = append(keys, k+"="+strings.Join(v, ","))
		}
		sort.Strings(keys)
		return fmt.Sprintf("%d %v %s", resp.StatusCode, keys, body), took
	}
	wrong, _ := answer("alice")
	unknown, _ := answer("mallory")
	if !strings.HasPrefix(wrong, "401 ") || wrong != unknown {
		t.Fatalf("answers differ:\nwrong password: %s\nunknown user:   %s", wrong, unknown)
	}
	if !slow() {
		t.Log("latency comparison skipped; set WHARF_HARDENING_SLOW=1")
		return
	}
	const samples = 25
	var real, ghost []time.Duration
	for range samples { // interleaved, so load changes hit both alike
		_, d := answer("alice")
		real = append(real, d)
		_, d = answer("mallory")
		ghost = append(ghost, d)
	}
	mr, mg := median(real), median(ghost)
	if diff := float64(mr-mg) / float64(max(mr, mg)); diff > 0.15 || diff < -0.15 {
		t.Errorf("median latency: wrong password %v, unknown user %v (%.0f%% apart, want within 15%%)", mr, mg, 100*diff)
	}
	t.Logf("median latency: wrong password %v, unknown user %v", mr, mg)
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestBruteForceIsThrottledWhileOthersLogIn fires 500 bad logins at once,
// over real connections, from one client address (through a trusted
// proxy's X-Forwarded-For) at one account: exactly max_failures reach
// bcrypt and the rest get 429, while another user, from another address,
// logs in during the attack. Afterwards the server's goroutines are back
// to what they were.
func TestBruteForceIsThrottledWhileOthersLogIn(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("bob's password"), 10)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(scopeConfig, "users:\n", "users:\n\tbob: {password: \""+string(hash)+"\"}\n", 1) +
		"throttle: {max_failures: 10, window: 3600}\n"
	cfg = strings.Replace(cfg, `server: {addr: ":5001"}`, `server: {addr: ":5001", real_ip_header: X-Forwarded-For, real_ip_pos: -1, trusted_proxies: ["127.0.0.1/32"]}`, 1)
	ts := newTokenServer(t, cfg)
	q := url.Values{"service": {service}}
	before := runtime.NumGoroutine()

	const attempts = 500
	codes := make([]int, attempts)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range codes {
		wg.Go(func() {
			<-start
			resp, _, _ := ts.get(t, "admin", fmt.Sprintf("guess %d", i), q, map[string]string{"X-Forwarded-For": "203.0.113.66"})
			codes[i] = resp.StatusCode
		})
	}
	close(start)
	resp, body, _ := ts.get(t, "bob", "bob's password", q, map[string]string{"X-Forwarded-For": "198.51.100.7"})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("bob's login during the attack: %d %s", resp.StatusCode, body)
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[401] != 10 || count[429] != attempts-10 {
		t.Errorf("statuses %v: want exactly 10 401s (max_failures) and %d 429s", count, attempts-10)
	}

	http.DefaultClient.CloseIdleConnections()
	ts.CloseClientConnections()
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before+5 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+5 {
		t.Errorf("%d goroutines after the attack, %d before", n, before)
	}
}
