package authserver

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/pkg/token"
)

func TestOAuth2PasswordGrant(t *testing.T) {
	f := newFixture(t, strictConfig)
	tests := []struct {
		name        string
		form        url.Values
		contentType string
		want        int
		wantErr     string
	}{
		{"password grant", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"adminpassword"},
			"service": {"registry.local"}, "scope": {"repository:app:pull repository:lib/x:push"}, "client_id": {"containerd"}}, "", 200, ""},
		{"wrong password", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"nope"}, "service": {"registry.local"}}, "", 401, "invalid_grant"},
		{"no username", url.Values{"grant_type": {"password"}, "password": {"x"}, "service": {"registry.local"}}, "", 400, "invalid_request"},
		{"malformed scope", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"adminpassword"},
			"service": {"registry.local"}, "scope": {"repository:app:pull :x:y"}}, "", 400, "invalid_scope"},
		{"service not served", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"adminpassword"}, "service": {"x"}}, "", 400, "invalid_request"},
		{"unsupported grant", url.Values{"grant_type": {"client_credentials"}, "service": {"registry.local"}}, "", 400, "unsupported_grant_type"},
		{"no grant type", url.Values{"service": {"registry.local"}}, "", 400, "invalid_request"},
		{"JSON body", nil, "application/json", 400, "invalid_request"},
		{"oversized body", url.Values{"grant_type": {"password"}, "pad": {strings.Repeat("a", maxFormBytes)}}, "", 413, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			resp, err := http.Post(f.ts.URL+"/auth/token", ct, strings.NewReader(tt.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			b := readBody(t, resp)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, b)
			}
			if tt.want == 200 {
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				if m["access_token"] == nil || m["access_token"] != m["token"] || m["expires_in"] != float64(900) || m["issued_at"] == nil {
					t.Errorf("response %s", b)
				}
				if m["scope"] != "repository:app:pull repository:lib/x:push" {
					t.Errorf("scope %v: want what was granted", m["scope"])
				}
				if _, has := m["refresh_token"]; has {
					t.Error("refresh_token without access_type=offline")
				}
				return
			}
			var e errorBody
			if err := json.Unmarshal(b, &e); err != nil || e.Error != tt.wantErr {
				t.Errorf("error %s, want %q", b, tt.wantErr)
			}
		})
	}
}

// refreshConfig has two users with pull on their namespace.
func refreshConfig(alicePassword string, withBob bool) string {
	users := "\talice: {password: \"" + alicePassword + "\"}\n"
	if withBob {
		users += "\tbob: {password: \"" + readerHash + "\"}\n"
	}
	return `server: {addr: ":5001"}
token:
	issuer: "Auth Service"
	expiration: 900
	certificate: CERT
	key: KEY
users:
` + users + `acl:
	- match: {name: "${account}/*"}
	  actions: [pull, push]
`
}

func TestRefreshTokenLifecycle(t *testing.T) {
	aliceHash := hashPassword(t, "alice-pw")
	f := newFixture(t, refreshConfig(aliceHash, true))
	login := func(user, pw string) string {
		t.Helper()
		tr := tokenBody(t, f.post(t, url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw},
			"service": {"registry.local"}, "access_type": {"offline"}, "client_id": {"test"}}))
		if !strings.HasPrefix(tr.RefreshToken, "wrt1.") {
			t.Fatalf("no refresh token: %+v", tr)
		}
		return tr.RefreshToken
	}
	refresh := func(rt, scope string) *http.Response {
		t.Helper()
		return f.post(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
			"service": {"registry.local"}, "scope": {scope}, "client_id": {"test"}})
	}
	aliceRT, bobRT := login("alice", "alice-pw"), login("bob", "readerpassword")

	// The Docker daemon reuses its first refresh token: it must keep working
	// and is never rotated.
	for i := range 3 {
		tr := tokenBody(t, refresh(aliceRT, "repository:alice/app:pull"))
		if tr.RefreshToken != aliceRT {
			t.Errorf("use %d: refresh token rotated", i)
		}
		_, std, acc := verifyJose(t, tr.AccessToken, f.kp.Public)
		if std.Subject != "alice" || grants(acc)["repository:alice/app"] != "pull" {
			t.Errorf("use %d: sub %q access %v", i, std.Subject, grants(acc))
		}
	}

	// A registry never accepts a refresh token as an access token.
	v, err := token.NewVerifier(token.VerifierOptions{Issuer: "Auth Service", Service: "registry.local", Roots: []*x509.Certificate{f.kp.X509}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), aliceRT); !errors.Is(err, token.ErrInvalidToken) {
		t.Errorf("registry verifier accepted a refresh token: %v", err)
	}
	at := tokenBody(t, refresh(aliceRT, "repository:alice/app:pull")).AccessToken
	if _, err := v.Verify(context.Background(), at); err != nil {
		t.Errorf("registry verifier refused our access token: %v", err)
	}

	bad := []struct{ name, rt, service string }{
		{"tampered payload", strings.Replace(aliceRT, aliceRT[5:9], "AAAA", 1), ""},
		{"bob's signature on alice's payload", aliceRT[:strings.LastIndexByte(aliceRT, '.')] + bobRT[strings.LastIndexByte(bobRT, '.'):], ""},
		{"an access token", at, ""},
		{"another service", aliceRT, "other.registry"},
	}
	for _, b := range bad {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {b.rt}, "service": {"registry.local"}}
		if b.service != "" {
			form.Set("service", b.service)
		}
		if resp := f.post(t, form); resp.StatusCode != 400 || !strings.Contains(string(body(t, resp)), "invalid_grant") {
			t.Errorf("%s: status %d %s, want 400 invalid_grant", b.name, resp.StatusCode, body(t, resp))
		}
	}

	// Changing alice's password kills her refresh token, not bob's.
	f.write(t, refreshConfig(hashPassword(t, "alice-new"), true))
	if err := f.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if resp := refresh(aliceRT, ""); resp.StatusCode != 400 {
		t.Errorf("after a password change: status %d, want 400", resp.StatusCode)
	}
	if resp := refresh(bobRT, ""); resp.StatusCode != 200 {
		t.Errorf("bob after alice's password change: status %d", resp.StatusCode)
	}
	// Removing bob kills his.
	f.write(t, refreshConfig(aliceHash, false))
	if err := f.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if resp := refresh(bobRT, ""); resp.StatusCode != 400 {
		t.Errorf("after removing the user: status %d, want 400", resp.StatusCode)
	}
	// Restoring alice's old password makes her old token valid again: it
	// is bound to the stored hash, not to a server-side session.
	if resp := refresh(aliceRT, ""); resp.StatusCode != 200 {
		t.Errorf("old password restored: status %d", resp.StatusCode)
	}
}

func TestRefreshTokensHonouredAcrossServersSharingAKey(t *testing.T) {
	f := newFixture(t, refreshConfig(hashPassword(t, "pw"), false))
	rt := tokenBody(t, f.post(t, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"},
		"service": {"registry.local"}, "access_type": {"offline"}})).RefreshToken

	other, err := New(f.config, nil) // a second process with the same key
	if err != nil {
		t.Fatal(err)
	}
	g := &fixture{ts: newHTTPTestServer(t, other)}
	if resp := g.post(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "service": {"registry.local"}}); resp.StatusCode != 200 {
		t.Errorf("second server: status %d %s", resp.StatusCode, body(t, resp))
	}
}

func TestRefreshTokensCanBeDisabled(t *testing.T) {
	cfg := strings.Replace(refreshConfig(hashPassword(t, "pw"), false), "expiration: 900", "expiration: 900\n\trefresh_expiration: 0", 1)
	f := newFixture(t, cfg)
	tr := tokenBody(t, f.get(t, url.Values{"service": {"r"}, "offline_token": {"true"}}, "alice", "pw"))
	if tr.RefreshToken != "" {
		t.Error("refresh_expiration: 0 still issues refresh tokens")
	}
	resp := f.post(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"wrt1.x.y"}, "service": {"r"}})
	if resp.StatusCode != 400 || !strings.Contains(string(body(t, resp)), "unsupported_grant_type") {
		t.Errorf("refresh grant when disabled: %d %s", resp.StatusCode, body(t, resp))
	}
}

// A refresh token dies at its expiry even when it was used, and so
// verified and remembered, moments before.
func TestRefreshTokenExpiresWhileInUse(t *testing.T) {
	cfg := strings.Replace(refreshConfig(hashPassword(t, "pw"), false), "expiration: 900", "expiration: 900\n\trefresh_expiration: 3600", 1)
	f := newFixture(t, cfg)
	srv, err := New(f.config, nil)
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64 // seconds; read by the server's goroutines
	t0 := time.Now().Unix()
	clock.Store(t0)
	srv.now = func() time.Time { return time.Unix(clock.Load(), 0) }
	g := &fixture{ts: newHTTPTestServer(t, srv)}
	rt := tokenBody(t, g.post(t, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"},
		"service": {"registry.local"}, "access_type": {"offline"}})).RefreshToken
	if rt == "" {
		t.Fatal("no refresh token")
	}
	refresh := func() *http.Response {
		return g.post(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "service": {"registry.local"}})
	}
	for _, at := range []int64{1, 2, 3599} {
		clock.Store(t0 + at)
		if resp := refresh(); resp.StatusCode != 200 {
			t.Fatalf("%d s after the login: status %d %s", at, resp.StatusCode, body(t, resp))
		}
	}
	for _, at := range []int64{3600, 3600, 7200} {
		clock.Store(t0 + at)
		if resp := refresh(); resp.StatusCode != 400 || !strings.Contains(string(body(t, resp)), "invalid_grant") {
			t.Errorf("%d s after the login, its expiry 3600 s: status %d %s, want 400 invalid_grant", at, resp.StatusCode, body(t, resp))
		}
	}
}
