package authserver

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A refresh token is an HMAC over its payload under a key derived from the
// signing key, and names the password hash by an HMAC too: computed here
// from the documented construction, so a token minted by an earlier
// release (or another process with the same key) keeps verifying.
func TestRefreshTokensAreTheDocumentedHMACs(t *testing.T) {
	f := newFixture(t, refreshConfig(readerHash, false))
	snap := f.srv.snap.Load()
	der, err := x509.MarshalPKCS8PrivateKey(snap.cfg.Keys[0].Signer)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hkdf.Key(sha256.New, der, nil, "wharf auth refresh token v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	mac := func(parts ...string) []byte {
		m := hmac.New(sha256.New, key)
		for _, p := range parts {
			m.Write([]byte(p))
		}
		return m.Sum(nil)
	}
	hash := []byte("$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234")
	now := time.Unix(1764750000, 0)
	for range 3 { // the pooled HMACs are reset between uses
		raw, err := snap.refresh.mint("alice", "registry.local", hash, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		dot := strings.LastIndexByte(raw, '.')
		body, sig := raw[:dot], raw[dot+1:]
		if want := base64.RawURLEncoding.EncodeToString(mac(body)); sig != want {
			t.Fatalf("signature %s, want HMAC-SHA256 of the body %s", sig, want)
		}
		data, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(body, refreshPrefix))
		var p refreshPayload
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		if want := base64.RawURLEncoding.EncodeToString(mac("password fingerprint\x00", string(hash))[:16]); p.PWF != want {
			t.Fatalf("fingerprint %s, want %s", p.PWF, want)
		}
		e, err := snap.refresh.verify(raw, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.p; got != p || !got.matches(e.key, hash) || got.matches(e.key, append(hash, 'x')) {
			t.Fatalf("verify = %+v; matches the hash: %v", got, got.matches(e.key, hash))
		}
	}
}
