package token_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/pkg/token"
)

// FuzzParseScope: any input either fails with ErrMalformedScope or yields
// a scope that prints canonically and parses back to itself.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"repository:app:pull", "repository:localhost:5000/app:pull,push", "repository(plugin):x:pull",
		"registry:catalog:*", "repository", ":a:b", "Repository:a:pull", "repo$:a:pull", "repository:app",
		"repository::pull", "repository:a:pull,,push,pull", "repository:[::1]:5000/a:pull",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sc, err := token.ParseScope(in)
		if err != nil {
			if !errors.Is(err, token.ErrMalformedScope) {
				t.Fatalf("error %v does not wrap ErrMalformedScope", err)
			}
			return
		}
		if sc.Type == "" || sc.Name == "" || strings.ContainsAny(sc.Type+sc.Class, ":()") {
			t.Fatalf("accepted %q as %#v", in, sc)
		}
		for i, a := range sc.Actions {
			if a == "" || strings.Contains(a, ",") || slices.Contains(sc.Actions[:i], a) {
				t.Fatalf("accepted %q with actions %q", in, sc.Actions)
			}
		}
		again, err := token.ParseScope(sc.String())
		if err != nil || !reflect.DeepEqual(again, sc) {
			t.Fatalf("%q -> %q -> %#v, %v", in, sc.String(), again, err)
		}
	})
}

// FuzzVerify: any input either fails with ErrInvalidToken or yields claims
// that satisfy the issuer, audience and expiry rules.
func FuzzVerify(f *testing.F) {
	good := tokenSpec{alg: "ES256", header: kid("p256-key"), signer: "p256"}
	f.Add(good.build(f))
	f.Add(tokenSpec{alg: "none", header: kid("p256-key")}.build(f))
	f.Add("a.b.c")
	f.Add("..")
	f.Add(strings.Repeat(".", 1000))
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.")
	v := newTestVerifier(f, func(o *token.VerifierOptions) { o.CacheSize = -1 })
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, token.ErrInvalidToken) || c != nil {
				t.Fatalf("Verify = %v, %v", c, err)
			}
			return
		}
		if c.Issuer != testIssuer || !slices.Contains(c.Audience, testService) || c.ExpiresAt == nil {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}
