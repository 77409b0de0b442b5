package authserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

func TestSeedConfigGrantsWhatTheBlogSays(t *testing.T) {
	f := newSeedFixture(t)
	tests := []struct {
		name, user, pw string
		scopes         []string
		want           map[string]string // "type:name" -> granted actions
	}{
		{"docker login as admin", "admin", "adminpassword", nil, map[string]string{}},
		{"admin pushes anything", "admin", "adminpassword", []string{"repository:team/app:pull,push"},
			map[string]string{"repository:team/app": "pull,push"}},
		{"admin gets exactly what was asked", "admin", "adminpassword", []string{"repository:nginx:delete,pull,push"},
			map[string]string{"repository:nginx": "delete,pull,push"}},
		{"admin lists the catalog", "admin", "adminpassword", []string{"registry:catalog:*"},
			map[string]string{"registry:catalog": "*"}},
		{"reader pulls nginx only", "reader", "readerpassword", []string{"repository:nginx:pull,push"},
			map[string]string{"repository:nginx": "pull"}},
		{"reader gets nothing on nginx2", "reader", "readerpassword", []string{"repository:nginx2:pull"},
			map[string]string{"repository:nginx2": ""}},
		{"reader gets nothing on other/nginx", "reader", "readerpassword", []string{"repository:other/nginx:pull"},
			map[string]string{"repository:other/nginx": ""}},
		{"reader, several scopes at once", "reader", "readerpassword", []string{"repository:nginx:pull repository:busybox:pull", "repository:nginx:push"},
			map[string]string{"repository:nginx": "pull", "repository:busybox": ""}},
		{"anonymous is allowed in but granted nothing", "-", "", []string{"repository:nginx:pull"},
			map[string]string{"repository:nginx": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"service": {"Docker registry"}, "scope": tt.scopes}
			tr := tokenBody(t, f.get(t, q, tt.user, tt.pw))
			_, std, acc := verifyJose(t, tr.Token, f.kp.Public)
			wantSub := tt.user
			if tt.user == "-" {
				wantSub = ""
			}
			if std.Subject != wantSub || std.Issuer != "Auth Service" || !std.Audience.Contains("Docker registry") {
				t.Errorf("claims sub %q iss %q aud %v", std.Subject, std.Issuer, std.Audience)
			}
			got := grants(acc)
			if acc.Access == nil || len(got) != len(tt.want) {
				t.Fatalf("access %+v, want %v", acc.Access, tt.want)
			}
			for k, v := range tt.want {
				if a, ok := got[k]; !ok || a != v {
					t.Errorf("%s: granted %q, want %q", k, a, v)
				}
			}
		})
	}
}

const strictConfig = `server: {addr: ":5001"}
token:
	issuer: "Auth Service"
	expiration: 900
	certificate: CERT
	key: KEY
	services: [registry.local]
users:
	admin: {password: "` + adminHash + `"}
acl:
	- match: {account: admin}
	  actions: ["*"]
`

func TestEveryStatusCode(t *testing.T) {
	f := newFixture(t, strictConfig)
	ok := url.Values{"service": {"registry.local"}, "scope": {"repository:app:pull"}}
	with := func(k, v string) url.Values {
		q := url.Values{"service": {"registry.local"}, "scope": {"repository:app:pull"}}
		q.Set(k, v)
		return q
	}
	tests := []struct {
		name     string
		method   string
		query    url.Values
		user, pw string
		want     int
		wantErr  string // OAuth2 error code
	}{
		{"token", "GET", ok, "admin", "adminpassword", 200, ""},
		{"docker login (no scope)", "GET", url.Values{"service": {"registry.local"}, "account": {"admin"}, "client_id": {"docker"}, "offline_token": {"true"}}, "admin", "adminpassword", 200, ""},
		{"upper-case scope type", "GET", with("scope", "Repository:app:pull"), "admin", "adminpassword", 400, "invalid_scope"},
		{"scope without actions", "GET", with("scope", "repository:app"), "admin", "adminpassword", 400, "invalid_scope"},
		{"scope with empty name", "GET", with("scope", "repository::pull"), "admin", "adminpassword", 400, "invalid_scope"},
		{"account differs from the Basic user", "GET", with("account", "root"), "admin", "adminpassword", 400, "invalid_request"},
		{"service not served", "GET", with("service", "evil.example.com"), "admin", "adminpassword", 400, "invalid_request"},
		{"no service", "GET", url.Values{"scope": {"repository:app:pull"}}, "admin", "adminpassword", 400, "invalid_request"},
		{"wrong password", "GET", ok, "admin", "wrong", 401, "unauthorized"},
		{"unknown user", "GET", ok, "mallory", "adminpassword", 401, "unauthorized"},
		{"no credentials, anonymous off", "GET", ok, "-", "", 401, "unauthorized"},
		{"account named without credentials", "GET", with("account", "admin"), "-", "", 401, "unauthorized"},
		{"PUT", "PUT", ok, "admin", "adminpassword", 405, "invalid_request"},
		{"DELETE", "DELETE", ok, "admin", "adminpassword", 405, "invalid_request"},
		{"HEAD", "HEAD", ok, "admin", "adminpassword", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, f.ts.URL+"/auth?"+tt.query.Encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.user != "-" {
				req.SetBasicAuth(tt.user, tt.pw)
			}
			resp := do(t, req)
			b := body(t, resp)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, b)
			}
			if resp.StatusCode == 405 && resp.Header.Get("Allow") != "GET, POST, OPTIONS" {
				t.Errorf("405 without Allow: %v", resp.Header)
			}
			if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="Auth Service"` {
				t.Errorf("401 challenge %q", resp.Header.Get("WWW-Authenticate"))
			}
			if tt.wantErr == "" {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("error Content-Type %q", ct)
			}
			var e errorBody
			if err := json.Unmarshal(b, &e); err != nil || e.Error != tt.wantErr || e.Description == "" || e.Details != e.Description {
				t.Errorf("error body %s (%v), want error %q", b, err, tt.wantErr)
			}
		})
	}
}

func TestUnauthorizedAnswersAreIdentical(t *testing.T) {
	f := newFixture(t, strictConfig)
	q := url.Values{"service": {"registry.local"}, "scope": {"repository:app:pull"}}
	type answer struct {
		status int
		header http.Header
		body   string
	}
	capture := func(resp *http.Response) answer {
		h := resp.Header.Clone()
		h.Del("Date")
		return answer{resp.StatusCode, h, string(body(t, resp))}
	}
	wrong := capture(f.get(t, q, "admin", "wrong"))
	unknown := capture(f.get(t, q, "nobody", "wrong"))
	missing := capture(f.get(t, q, "-", ""))
	if wrong.status != 401 {
		t.Fatalf("wrong password: %d", wrong.status)
	}
	for name, a := range map[string]answer{"unknown user": unknown, "no credentials": missing} {
		if a.status != wrong.status || a.body != wrong.body || !equalHeaders(a.header, wrong.header) {
			t.Errorf("%s answers differently from a wrong password:\n%+v\n%+v", name, a, wrong)
		}
	}

	post := func(user string) answer {
		return capture(f.post(t, url.Values{"grant_type": {"password"}, "username": {user}, "password": {"wrong"}, "service": {"registry.local"}}))
	}
	pw, pu := post("admin"), post("nobody")
	if pw.status != 401 || pw.status != pu.status || pw.body != pu.body || !equalHeaders(pw.header, pu.header) {
		t.Errorf("POST: wrong password and unknown user differ:\n%+v\n%+v", pw, pu)
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\n") != strings.Join(b[k], "\n") {
			return false
		}
	}
	return true
}

func TestTokenResponseFieldsTypesAndUnits(t *testing.T) {
	f := newFixture(t, strictConfig)
	before := time.Now().Add(-time.Second)
	q := url.Values{"service": {"registry.local"}, "scope": {"repository:app:pull"}, "offline_token": {"true"}, "client_id": {"docker"}}
	resp := f.get(t, q, "admin", "adminpassword")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(body(t, resp), &m); err != nil {
		t.Fatal(err)
	}
	tok, _ := m["token"].(string)
	if tok == "" || m["access_token"] != tok {
		t.Errorf("token %v and access_token %v must be the same JWT", m["token"], m["access_token"])
	}
	exp, isNum := m["expires_in"].(float64)
	if !isNum || exp != 900 {
		t.Errorf("expires_in %#v, want the number 900 (seconds, = token.expiration)", m["expires_in"])
	}
	issuedAt, _ := m["issued_at"].(string)
	iat, err := time.Parse(time.RFC3339, issuedAt)
	if err != nil || iat.Before(before) || iat.After(time.Now()) {
		t.Errorf("issued_at %q (%v) is not an RFC 3339 time of now", issuedAt, err)
	}
	if rt, _ := m["refresh_token"].(string); !strings.HasPrefix(rt, "wrt1.") {
		t.Errorf("offline_token=true: refresh_token %v", m["refresh_token"])
	}
	if _, has := m["scope"]; has {
		t.Error("GET responses carry no OAuth2 scope field")
	}

	tokJ, std, _ := verifyJose(t, tok, f.kp.Public)
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: "Auth Service", AnyAudience: []string{"registry.local"}, Subject: "admin", Time: time.Now()}, 0); err != nil {
		t.Errorf("claims: %v", err)
	}
	if std.Expiry.Time().Sub(std.IssuedAt.Time()) != 900*time.Second || !std.IssuedAt.Time().Equal(iat) || std.NotBefore == nil || std.ID == "" {
		t.Errorf("exp %v iat %v nbf %v jti %q", std.Expiry, std.IssuedAt, std.NotBefore, std.ID)
	}
	if h := tokJ.Headers[0]; h.Algorithm != "ES256" || h.KeyID == "" {
		t.Errorf("header alg %q kid %q", h.Algorithm, h.KeyID)
	}

	// Without offline_token there is no refresh token.
	delete(q, "offline_token")
	if tr := tokenBody(t, f.get(t, q, "admin", "adminpassword")); tr.RefreshToken != "" {
		t.Error("refresh token issued without offline_token=true")
	}
}

func TestRepeatedRequestsReuseARecentToken(t *testing.T) {
	f := newFixture(t, strictConfig)
	q := url.Values{"service": {"registry.local"}, "scope": {"repository:app:pull"}}
	first := tokenBody(t, f.get(t, q, "admin", "adminpassword"))
	again := tokenBody(t, f.get(t, q, "admin", "adminpassword"))
	if again.Token != first.Token || again.IssuedAt != first.IssuedAt {
		t.Error("the same request moments later should get the same token")
	}
	q.Set("scope", "repository:app:pull,push")
	other := tokenBody(t, f.get(t, q, "admin", "adminpassword"))
	if other.Token == first.Token {
		t.Error("different grants must not share a token")
	}
	if err := f.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	q.Set("scope", "repository:app:pull")
	if tokenBody(t, f.get(t, q, "admin", "adminpassword")).Token == first.Token {
		t.Error("a reload must drop reusable tokens")
	}
}

func TestAccountsCannotWidenTheirNamespace(t *testing.T) {
	users := []string{"alice", "*", ".*", "a|b", "[a-z]*"}
	cfg := `server: {addr: ":5001"}
token:
	issuer: "Auth Service"
	expiration: 900
	certificate: CERT
	key: KEY
users:
`
	for _, u := range users {
		cfg += fmt.Sprintf("\t%q: {password: %q}\n", u, readerHash)
	}
	cfg += `	puller: {password: "` + readerHash + `"}
acl:
	- match: {account: puller}
	  actions: [pull]
	- match: {name: "${account}/*"}
	  actions: [pull, push]
	- match: {name: "/^${account}-[a-z]+$/"}
	  actions: [pull]
`
	f := newFixture(t, cfg)
	repos := []string{"alice/app", "bob/app", "x/app", "alice-app", "bob-app"}
	for _, u := range users {
		t.Run(u, func(t *testing.T) {
			var scopes []string
			for _, r := range repos {
				scopes = append(scopes, "repository:"+r+":pull,push")
			}
			tr := tokenBody(t, f.get(t, url.Values{"service": {"r"}, "scope": scopes}, u, "readerpassword"))
			_, _, acc := verifyJose(t, tr.Token, f.kp.Public)
			for name, actions := range grants(acc) {
				own := name == "repository:"+u+"/app" || name == "repository:"+u+"-app"
				if actions != "" && !own {
					t.Errorf("%s reached %s: %q", u, name, actions)
				}
			}
			if u == "alice" && (grants(acc)["repository:alice/app"] != "pull,push" || grants(acc)["repository:alice-app"] != "pull") {
				t.Errorf("alice's own namespace: %v", grants(acc))
			}
		})
	}

	t.Run("pull-only user asking for everything", func(t *testing.T) {
		tr := tokenBody(t, f.get(t, url.Values{"service": {"r"}, "scope": {"repository:lib/app:*,push,delete,pull"}}, "puller", "readerpassword"))
		_, _, acc := verifyJose(t, tr.Token, f.kp.Public)
		if got := grants(acc)["repository:lib/app"]; got != "pull" {
			t.Errorf("granted %q, want exactly pull", got)
		}
	})
}
