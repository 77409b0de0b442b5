package ui_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

const wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// inlineCode finds what a strict CSP would block: inline scripts, event
// handler attributes, style attributes and javascript: URLs.
var inlineCode = regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|<script>|\son[a-z]+=|\sstyle=|javascript:`)

func TestEveryPageCarriesAStrictCSPAndNoInlineCode(t *testing.T) {
	s := newStack(t, stackOptions{})
	f := pushImages(t, s.host)
	b := s.browser(t)
	b.login(admin)
	for _, path := range []string{
		"/login", "/", "/?q=ngi", "/repository?name=nginx", "/repository?name=nginx&sort=date",
		"/manifest?name=nginx&ref=latest", "/manifest?name=nginx&ref=multi",
		"/manifest?name=nginx&ref=" + f.referrer.String(), "/delete?name=nginx&ref=1.9",
		"/repository?name=nosuch", "/no/such/page", "/static/style.css", "/static/copy.js",
	} {
		resp, body := b.get(path)
		h := resp.Header
		if got := h.Get("Content-Security-Policy"); got != wantCSP {
			t.Errorf("GET %s: Content-Security-Policy = %q, want %q", path, got, wantCSP)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: X-Content-Type-Options %q, X-Frame-Options %q", path, h.Get("X-Content-Type-Options"), h.Get("X-Frame-Options"))
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			if m := inlineCode.FindString(body); m != "" {
				t.Errorf("GET %s: inline code %q in the page", path, m)
			}
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: Cache-Control %q, want no-store", path, h.Get("Cache-Control"))
			}
		}
	}
}

func TestTheSessionCookieIsHttpOnlyStrictAndHoldsNoSecretInTheClear(t *testing.T) {
	for _, tt := range []struct {
		name       string
		o          stackOptions
		wantSecure bool
	}{
		{"token auth over http", stackOptions{}, false},
		{"htpasswd over https", stackOptions{mode: "htpasswd", tls: true}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, tt.o)
			b := s.browser(t)
			resp, _ := b.post("/login", url.Values{"username": {admin.user}, "password": {admin.password}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: status %d", resp.StatusCode)
			}
			cookies := resp.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("login set %d cookies, want 1: %v", len(cookies), resp.Header["Set-Cookie"])
			}
			c := cookies[0]
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != tt.wantSecure || c.Path != "/ui/" {
				t.Errorf("cookie %q: HttpOnly %v, SameSite %v, Secure %v (want %v), Path %q",
					resp.Header.Get("Set-Cookie"), c.HttpOnly, c.SameSite, c.Secure, tt.wantSecure, c.Path)
			}
			for _, secret := range []string{admin.password, "wrt1."} {
				if strings.Contains(c.Value, secret) {
					t.Errorf("the cookie holds %q in the clear", secret)
				}
			}
			// Tampering with the sealed value logs out.
			// One character of the nonce changed, always to another one
			// of the base64url alphabet (upper-casing a prefix could leave
			// it as it was).
			tampered := *c
			flipped := byte('A')
			if c.Value[0] == 'A' {
				flipped = 'B'
			}
			tampered.Value = string(flipped) + c.Value[1:]
			req, _ := http.NewRequest(http.MethodGet, s.base+"/", nil)
			req.AddCookie(&tampered)
			got, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got.Body.Close()
			if got.StatusCode != http.StatusSeeOther || got.Header.Get("Location") != "/ui/login" {
				t.Errorf("tampered cookie: status %d Location %q, want a redirect to the login", got.StatusCode, got.Header.Get("Location"))
			}
		})
	}
}

func TestLoginFailuresSayWhatHappened(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		s := newStack(t, stackOptions{})
		resp, body := s.browser(t).post("/login", url.Values{"username": {admin.user}, "password": {"wrong"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong username or password") || len(resp.Cookies()) != 0 {
			t.Errorf("status %d, cookies %v, body:\n%s", resp.StatusCode, resp.Cookies(), body)
		}
	})
	t.Run("token server without refresh tokens", func(t *testing.T) {
		s := newStack(t, stackOptions{authYAML: func(y string) string {
			return strings.Replace(y, "expiration: 900", "expiration: 900\n  refresh_expiration: 0", 1)
		}})
		resp, body := s.browser(t).post("/login", url.Values{"username": {admin.user}, "password": {admin.password}})
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "issues no refresh tokens") || len(resp.Cookies()) != 0 {
			t.Errorf("status %d, cookies %v, body:\n%s", resp.StatusCode, resp.Cookies(), body)
		}
	})
	t.Run("token server down", func(t *testing.T) {
		s := newStack(t, stackOptions{})
		s.auth.Close()
		resp, body := s.browser(t).post("/login", url.Values{"username": {admin.user}, "password": {admin.password}})
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "token server is unavailable") {
			t.Errorf("status %d, body:\n%s", resp.StatusCode, body)
		}
	})
}

// methodLog wraps the token server, refusing POST for the grants in
// refuse, and records what the UI sent.
type methodLog struct {
	mu     sync.Mutex
	seen   []string
	refuse map[string]bool // grant types answered 405 ("" = GET never refused)
	// forwardedFor is each request's X-Forwarded-For.
	forwardedFor []string
}

func (m *methodLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grant := ""
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			grant = form.Get("grant_type")
		}
		m.mu.Lock()
		m.seen = append(m.seen, strings.TrimSpace(r.Method+" "+grant))
		m.forwardedFor = append(m.forwardedFor, r.Header.Get("X-Forwarded-For"))
		m.mu.Unlock()
		if r.Method == http.MethodPost && m.refuse[grant] {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func TestLoginFallsBackToGETWhenTheRealmRefusesThePasswordGrant(t *testing.T) {
	t.Run("POST password refused", func(t *testing.T) {
		log := &methodLog{refuse: map[string]bool{"password": true}}
		s := newStack(t, stackOptions{realm: log.wrap})
		pushImages(t, s.host)
		log.mu.Lock()
		log.seen, log.forwardedFor = nil, nil // the pushes' token requests
		log.mu.Unlock()
		b := s.browser(t)
		b.login(admin)
		if resp, body := b.get("/"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-repo="nginx"`) {
			t.Fatalf("after a GET login: status %d\n%s", resp.StatusCode, body)
		}
		if got := strings.Join(log.seen, ","); !strings.HasPrefix(got, "POST password,GET,POST refresh_token") {
			t.Errorf("token requests %s, want POST password, then GET, then refresh_token grants", got)
		}
		// The browser's address goes with each, for a token server
		// that trusts the registry as a proxy.
		for i, xff := range log.forwardedFor {
			if xff != "127.0.0.1" {
				t.Errorf("token request %d (%s): X-Forwarded-For %q, want the browser's 127.0.0.1", i, log.seen[i], xff)
			}
		}
	})
	t.Run("no POST at all", func(t *testing.T) {
		log := &methodLog{refuse: map[string]bool{"password": true, "refresh_token": true}}
		s := newStack(t, stackOptions{realm: log.wrap})
		resp, body := s.browser(t).post("/login", url.Values{"username": {admin.user}, "password": {admin.password}})
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "does not take it back") || len(resp.Cookies()) != 0 {
			t.Errorf("status %d, cookies %v, body:\n%s", resp.StatusCode, resp.Cookies(), body)
		}
	})
}

func TestLogoutNeedsTheCSRFTokenAndClearsTheSession(t *testing.T) {
	s := newStack(t, stackOptions{})
	b := s.browser(t)
	b.login(admin)
	_, page := b.get("/")
	if resp, _ := b.post("/logout", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: status %d, want 403", resp.StatusCode)
	}
	resp, _ := b.post("/logout", url.Values{"csrf": {csrfOf(t, page)}})
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: status %d, Set-Cookie %q", resp.StatusCode, resp.Header["Set-Cookie"])
	}
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
		t.Errorf("after logout: status %d Location %q, want the login", resp.StatusCode, resp.Header.Get("Location"))
	}
}
