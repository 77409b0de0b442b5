package hardening

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wharf-registry/wharf/pkg/token"
)

// forge builds a compact JWS from raw header and claims maps, signed with
// alg and key as golang-jwt signs ("none" gives an empty signature).
func forge(t *testing.T, header, claims map[string]any, alg string, key any) string {
	t.Helper()
	if _, set := header["alg"]; !set && alg != "" {
		header["alg"] = alg
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(h) + "." + b64(c)
	if alg == "none" || alg == "" {
		return input + "."
	}
	sig, err := jwt.GetSigningMethod(alg).Sign(input, key)
	if err != nil {
		t.Fatalf("signing with %s: %v", alg, err)
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// claims are valid claims for a pull of repo, as a map to be mangled.
func claims(repo string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{
		"iss": issuer, "sub": "alice", "aud": []string{service},
		"exp": now + 300, "nbf": now, "iat": now, "jti": token.NewJTI(),
		"access": []map[string]any{{"type": "repository", "name": repo, "actions": []string{"pull"}}},
	}
}

func with(c map[string]any, edit func(map[string]any)) map[string]any {
	edit(c)
	return c
}

// countingServer is an HTTP server that counts the connections made to it:
// a registry that fetches a jku or x5u URL would show up here.
func countingServer(t *testing.T) (url string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = &atomic.Int64{}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }),
		ConnState: func(_ net.Conn, s http.ConnState) { conns.Add(int64(btoi(s == http.StateNew))) },
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), conns
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestForgedAndMalformedTokensAreRefusedOverHTTP sends tokens that are
// forged, signed by the wrong key, for the wrong audience or time, or
// simply hostile, to a running registry: each is a 401 carrying
// error="invalid_token" and one UNAUTHORIZED error, never the manifest; the
// controls just inside the rules are served. Key URLs in headers (jku,
// x5u) are never fetched.
func TestForgedAndMalformedTokensAreRefusedOverHTTP(t *testing.T) {
	a := newAuthority(t)
	reg := newTokenRegistry(t, a, nil)
	const repo = "team/app"
	admin := bearer(a.token(t, "admin", grant("repository", repo, "*")))
	body, _ := reg.pushImage(t, admin, repo, "v1")

	trusted := a.key.Signer.(*ecdsa.PrivateKey)
	// The registry trusts a root certificate, so its tokens carry the chain
	// (x5c) and the libtrust kid, as cmd/auth signs them.
	kid := map[string]any{"kid": a.key.ID, "x5c": a.x5c()}
	stranger := newECKey(t)
	strangerKID, _ := token.LibtrustKeyID(stranger.Public())
	strangerCA := certify(t, "stranger CA", stranger.Public(), nil, stranger, true)
	strangerLeafKey := newECKey(t)
	strangerLeaf := certify(t, "stranger leaf", strangerLeafKey.Public(), strangerCA, stranger, false)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(trusted.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubJWK, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256",
		"x": b64(trusted.PublicKey.X.FillBytes(make([]byte, 32))), "y": b64(trusted.PublicKey.Y.FillBytes(make([]byte, 32)))})
	strangerJWK := map[string]any{"kty": "EC", "crv": "P-256",
		"x": b64(stranger.PublicKey.X.FillBytes(make([]byte, 32))), "y": b64(stranger.PublicKey.Y.FillBytes(make([]byte, 32)))}
	fetchURL, fetches := countingServer(t)
	now := time.Now().Unix()
	hdr := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	nested := b64([]byte(`{"alg":"ES256","kid":"` + a.key.ID + `","x":` + strings.Repeat("[", 50000) + strings.Repeat("]", 50000) + `}`))

	tests := []struct {
		name     string
		token    string
		accepted bool
	}{
		{"control: the authority's own token", a.token(t, "alice", grant("repository", repo, "pull")), true},
		{"control: forged claims signed by the trusted key", forge(t, hdr("kid", a.key.ID, "x5c", a.x5c()), claims(repo), "ES256", trusted), true},
		{"control: x5c chaining to the bundle", forge(t, hdr("x5c", a.x5c()), claims(repo), "ES256", trusted), true},

		// 1. Keys the registry does not trust.
		{"unknown key with its own kid", forge(t, hdr("kid", strangerKID), claims(repo), "ES256", stranger), false},
		{"the trusted leaf's kid without its chain", forge(t, hdr("kid", a.key.ID), claims(repo), "ES256", trusted), false},
		{"unknown key claiming the trusted kid", forge(t, hdr("kid", a.key.ID), claims(repo), "ES256", stranger), false},
		{"unknown key claiming the trusted kid and chain", forge(t, kid, claims(repo), "ES256", stranger), false},
		{"x5c not chaining to the bundle", forge(t, hdr("x5c", []string{
			base64.StdEncoding.EncodeToString(strangerLeaf.Raw), base64.StdEncoding.EncodeToString(strangerCA.Raw)}), claims(repo), "ES256", strangerLeafKey), false},
		{"trusted x5c, signed by another key", forge(t, hdr("x5c", a.x5c()), claims(repo), "ES256", stranger), false},
		{"untrusted embedded jwk", forge(t, hdr("jwk", strangerJWK), claims(repo), "ES256", stranger), false},

		// 2. Algorithm confusion.
		{"alg none", forge(t, kid, claims(repo), "none", nil), false},
		{"alg none with a signature", forge(t, hdr("kid", a.key.ID, "x5c", a.x5c(), "alg", "none"), claims(repo), "ES256", trusted), false},
		{"missing alg", forge(t, kid, claims(repo), "", nil) + b64([]byte("sig")), false},
		{"HS256 keyed with the public key PEM", forge(t, kid, claims(repo), "HS256", pubPEM), false},
		{"HS256 keyed with the public key DER", forge(t, kid, claims(repo), "HS256", pubDER), false},
		{"HS256 keyed with the public key JWK", forge(t, kid, claims(repo), "HS256", pubJWK), false},
		{"RS256 under the EC key's kid", forge(t, kid, claims(repo), "RS256", rsaKey), false},
		{"ES384 header on a P-256 key", forge(t, hdr("kid", a.key.ID, "x5c", a.x5c(), "alg", "ES384"), claims(repo), "ES256", trusted), false},

		// 3. Issuer and audience.
		{"wrong iss", forge(t, kid, with(claims(repo), func(c map[string]any) { c["iss"] = "evil" }), "ES256", trusted), false},
		{"missing iss", forge(t, kid, with(claims(repo), func(c map[string]any) { delete(c, "iss") }), "ES256", trusted), false},
		{"aud of another service", forge(t, kid, with(claims(repo), func(c map[string]any) { c["aud"] = "other.registry" }), "ES256", trusted), false},
		{"aud []", forge(t, kid, with(claims(repo), func(c map[string]any) { c["aud"] = []string{} }), "ES256", trusted), false},
		{"aud missing", forge(t, kid, with(claims(repo), func(c map[string]any) { delete(c, "aud") }), "ES256", trusted), false},
		{"aud list containing ours", forge(t, kid, with(claims(repo), func(c map[string]any) { c["aud"] = []string{"other", service} }), "ES256", trusted), true},
		{"aud as a plain string", forge(t, kid, with(claims(repo), func(c map[string]any) { c["aud"] = service }), "ES256", trusted), true},

		// 4. Time, with 60 s of leeway. The registry reads its own wall
		// clock, which moves on while the table is sent: each case sits
		// 30 s from the edge, so only a test 30 s slower than usual could
		// cross it (1 s did, on a busy machine). The exact edges are
		// pkg/token's tests, with an injected clock.
		{"exp 90 s past", forge(t, kid, with(claims(repo), func(c map[string]any) { c["exp"] = now - 90 }), "ES256", trusted), false},
		{"exp 30 s past", forge(t, kid, with(claims(repo), func(c map[string]any) { c["exp"] = now - 30 }), "ES256", trusted), true},
		{"nbf 90 s ahead", forge(t, kid, with(claims(repo), func(c map[string]any) { c["nbf"] = now + 90 }), "ES256", trusted), false},
		{"nbf 30 s ahead", forge(t, kid, with(claims(repo), func(c map[string]any) { c["nbf"] = now + 30 }), "ES256", trusted), true},
		{"no exp", forge(t, kid, with(claims(repo), func(c map[string]any) { delete(c, "exp") }), "ES256", trusted), false},

		// 11. Hostile shapes.
		{"jku to a key server", forge(t, hdr("jku", fetchURL+"/jwks.json"), claims(repo), "ES256", stranger), false},
		{"x5u to a certificate", forge(t, hdr("x5u", fetchURL+"/cert.pem"), claims(repo), "ES256", stranger), false},
		{"jku beside the trusted kid is ignored", forge(t, hdr("kid", a.key.ID, "x5c", a.x5c(), "jku", fetchURL+"/jwks.json", "x5u", fetchURL+"/c.pem"), claims(repo), "ES256", trusted), true},
		{"100,000 dots", strings.Repeat(".", 100000), false},
		{"a 900 KB token", strings.Repeat("a", 300000) + "." + strings.Repeat("b", 300000) + "." + strings.Repeat("c", 300000), false},
		{"deeply nested header JSON", nested + "." + b64([]byte("{}")) + "." + b64([]byte("sig")), false},
		{"trailing garbage after the signature", a.token(t, "alice", grant("repository", repo, "pull")) + "A", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, got := do(t, reg.URL, request{method: "GET", path: "/v2/" + repo + "/manifests/v1", header: bearer(tt.token)})
			if tt.accepted {
				if resp.StatusCode != http.StatusOK || string(got) != string(body) {
					t.Fatalf("status %d, %.200s; want the manifest", resp.StatusCode, got)
				}
				return
			}
			wantChallenge := challenge([]string{"repository:" + repo + ":pull"}, "invalid_token")
			if resp.StatusCode != http.StatusUnauthorized || errorCode(got) != "UNAUTHORIZED" {
				t.Fatalf("status %d, %.200s; want 401 UNAUTHORIZED", resp.StatusCode, got)
			}
			if c := resp.Header.Get("WWW-Authenticate"); c != wantChallenge {
				t.Errorf("challenge %q, want %q", c, wantChallenge)
			}
			if d := resp.Header.Get("Docker-Content-Digest"); d != "" {
				t.Errorf("refused, yet Docker-Content-Digest %s", d)
			}
		})
	}
	if n := fetches.Load(); n != 0 {
		t.Errorf("the registry connected %d times to a URL from a token header", n)
	}

	t.Run("a header over 1 MiB is refused before any parsing", func(t *testing.T) {
		resp, _ := do(t, reg.URL, request{method: "GET", path: "/v2/" + repo + "/manifests/v1", header: bearer(strings.Repeat("a", 2<<20))})
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	})
	t.Run("two Authorization headers count as none", func(t *testing.T) {
		good := a.token(t, "alice", grant("repository", repo, "pull"))
		r, err := http.NewRequest("GET", reg.URL+"/v2/"+repo+"/manifests/v1", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Add("Authorization", "Bearer "+good)
		r.Header.Add("Authorization", "Bearer "+good)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := challenge([]string{"repository:" + repo + ":pull"}, ""); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want {
			t.Errorf("status %d, challenge %q; want 401 with %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
		}
	})
}
