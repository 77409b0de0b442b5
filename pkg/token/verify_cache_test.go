package token_test

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/pkg/token"
)

// cacheFixture is a Verifier whose only trusted key comes from a JWKS file,
// so a test can withdraw the key and see whether a result came from the cache.
type cacheFixture struct {
	t      *testing.T
	path   string
	source *countingSource
	clock  atomic.Int64 // seconds after testNow
	v      *token.Verifier
}

// countingSource counts the key lookups a Verifier makes: a verification
// served from the cache makes none.
type countingSource struct {
	*token.JWKSSource // its Generation too
	lookups           atomic.Int32
}

func (c *countingSource) Key(ctx context.Context, kid string) (crypto.PublicKey, bool) {
	c.lookups.Add(1)
	return c.JWKSSource.Key(ctx, kid)
}

func newCacheFixture(t *testing.T, cacheSize int) *cacheFixture {
	f := &cacheFixture{t: t, path: filepath.Join(t.TempDir(), "jwks.json")}
	f.publish("p256-other")
	src, err := token.NewJWKSSource(f.path, nil, time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	f.source = &countingSource{JWKSSource: src}
	f.v, err = token.NewVerifier(token.VerifierOptions{
		Issuer: testIssuer, Service: testService, KeySource: f.source, CacheSize: cacheSize,
		Now: func() time.Time { return testNow.Add(time.Duration(f.clock.Load()) * time.Second) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// publish writes a JWKS holding only the given key kind.
func (f *cacheFixture) publish(kind string) {
	f.t.Helper()
	data, err := token.MarshalJWKS([]*token.Key{mustNewKey(f.t, testSigner(f.t, kind), nil, token.KeyIDLibtrust)})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(f.path, data, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// withdraw replaces the published key by another one and reloads.
func (f *cacheFixture) withdraw() {
	f.t.Helper()
	f.publish("p384")
	if err := f.source.Refresh(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

// token returns a fresh token signed by the published key, valid 5 minutes.
func (f *cacheFixture) token(jti string) string {
	f.t.Helper()
	return tokenSpec{alg: "ES256", header: kid(libtrustID(f.t, testSigner(f.t, "p256-other").Public())), signer: "p256-other",
		claims: func(m map[string]any) { m["jti"] = jti }}.build(f.t)
}

func (f *cacheFixture) verify(raw string) (*token.Claims, error) {
	return f.v.Verify(context.Background(), raw)
}

// verifyCounting verifies raw and returns how many key lookups it took.
func (f *cacheFixture) verifyCounting(raw string) (int32, error) {
	before := f.source.lookups.Load()
	_, err := f.verify(raw)
	return f.source.lookups.Load() - before, err
}

func TestVerifiedTokensAreServedFromCacheUntilExpiry(t *testing.T) {
	f := newCacheFixture(t, 0)
	raw := f.token("one")
	first, err := f.verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("second result differs:\n%+v\n%+v", first, second)
	}
	first.Access[0].Actions[0] = "delete"
	first.Audience[0] = "changed"
	third, err := f.verify(raw)
	if err != nil || !reflect.DeepEqual(second, third) {
		t.Fatalf("a caller's change reached the cache: %+v, %v", third, err)
	}
	if n := f.source.lookups.Load(); n != 1 {
		t.Fatalf("three verifications of one token looked up the key %d times, want 1", n)
	}

	f.clock.Store(5*60 + 59) // exp + 59s: still within leeway
	if n, err := f.verifyCounting(raw); err != nil || n != 0 {
		t.Fatalf("cached token within leeway: %v after %d lookups, want accepted from the cache", err, n)
	}
	f.clock.Store(5*60 + 61)
	if n, err := f.verifyCounting(raw); !errors.Is(err, token.ErrInvalidToken) || n != 0 {
		t.Fatalf("cached token after exp + leeway: %v after %d lookups, want refused by the cache", err, n)
	}
}

// A key withdrawn from the JWKS ends the verifications cached by it: the
// next use verifies again, against the new set, and fails.
func TestWithdrawnKeyEndsCachedVerifications(t *testing.T) {
	f := newCacheFixture(t, 0)
	raw := f.token("one")
	if _, err := f.verify(raw); err != nil {
		t.Fatal(err)
	}
	f.withdraw()
	if _, err := f.verify(f.token("two")); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("withdrawn key still verifies new tokens: %v", err)
	}
	if _, err := f.verify(raw); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("withdrawn key still verifies a cached token: %v", err)
	}
}

func TestVerifierCacheIsBounded(t *testing.T) {
	f := newCacheFixture(t, 1)
	a, b := f.token("a"), f.token("b")
	for _, raw := range []string{a, b} {
		if _, err := f.verify(raw); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := f.verifyCounting(b); err != nil || n != 0 {
		t.Fatalf("most recent token: %v after %d lookups, want it kept in the cache", err, n)
	}
	if n, err := f.verifyCounting(a); err != nil || n != 1 {
		t.Fatalf("evicted token: %v after %d lookups, want verified again", err, n)
	}
}

func TestVerifierCacheCanBeDisabled(t *testing.T) {
	f := newCacheFixture(t, -1)
	raw := f.token("a")
	for range 2 {
		if n, err := f.verifyCounting(raw); err != nil || n != 1 {
			t.Fatalf("with the cache off: %v after %d lookups, want a lookup each time", err, n)
		}
	}
	f.withdraw()
	if _, err := f.verify(raw); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("token verified after its key was withdrawn, with the cache off: %v", err)
	}
}

func TestVerifierIsSafeForConcurrentUse(t *testing.T) {
	f := newCacheFixture(t, 8)
	var tokens []string
	for i := range 16 {
		tokens = append(tokens, f.token(fmt.Sprint(i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(tokens))
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tokens {
				raw := tokens[(i+g)%len(tokens)]
				c, err := f.verify(raw)
				if err != nil || !c.Allows("repository", "team/app", "pull") {
					errs <- fmt.Errorf("token %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
