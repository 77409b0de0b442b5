package token_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wharf-registry/wharf/pkg/token"
)

// A registry configured with the token server's JWKS URL (registry:3 style)
// trusts exactly the keys published there.
func TestVerifierTrustsKeysFromJWKSURL(t *testing.T) {
	published := mustNewKey(t, testSigner(t, "p521"), nil, token.KeyIDThumbprint)
	jwks, err := token.MarshalJWKS([]*token.Key{published})
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	defer srv.Close()
	src, err := token.NewJWKSSource(srv.URL+"/.well-known/jwks.json", srv.Client(), time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier(token.VerifierOptions{Issuer: testIssuer, Service: testService, KeySource: src,
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	claims := &token.Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: testIssuer, Subject: "carol",
		Audience: jwt.ClaimStrings{testService}, ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Minute))}}

	publishedJWK, err := token.NewJWK(published.Public(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	libtrustKey := mustNewKey(t, testSigner(t, "p521"), nil, token.KeyIDLibtrust)
	stranger := mustNewKey(t, testSigner(t, "p256-other"), nil, token.KeyIDThumbprint)
	sign := func(k *token.Key) func() string {
		return func() string {
			raw, err := k.Sign(claims)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}
	}
	tests := []struct {
		name string
		raw  func() string
		ok   bool
	}{
		{"published kid", sign(published), true},
		{"libtrust kid of the published key", sign(libtrustKey), true},
		{"embedded jwk of the published key", tokenSpec{alg: "ES512", header: map[string]any{"jwk": publishedJWK}, signer: "p521"}.buildFn(t), true},
		{"unpublished key", sign(stranger), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.raw())
			if tt.ok && (err != nil || c.Issuer != testIssuer) {
				t.Fatalf("Verify = %+v, %v", c, err)
			}
			if !tt.ok && !errors.Is(err, token.ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", c, err)
			}
		})
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d JWKS requests, want 1 (unknown kids within minRefetch must not refetch)", n)
	}
}
