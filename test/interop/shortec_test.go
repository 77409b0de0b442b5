package interop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
)

// TestV3ThumbprintOfShortECCoordinate pins distribution v3.1.1's thumbprint
// bug for an EC key whose x coordinate has a leading zero byte (about one
// P-256 key in 256): it indexes the rootcertbundle's key under a thumbprint
// of the unpadded coordinate, so our correct RFC 7638 kid (no x5c) is
// refused, while the same token verifies through a jwks file, which v3
// indexes by our published kid, and any token carrying x5c verifies.
func TestV3ThumbprintOfShortECCoordinate(t *testing.T) {
	shortX := keyType{"P-256 with a short x", func() (crypto.Signer, error) {
		for {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, err
			}
			if len(k.X.Bytes()) < 32 && len(k.Y.Bytes()) == 32 {
				return k, nil
			}
		}
	}}
	pki := newTokenPKI(t, shortX)
	tc := tokenCases[1] // admin-pull-push
	for _, cert := range []certMode{noCert, caIssued} {
		s := authSetup{pki: pki, kidFormat: "jwk-thumbprint", cert: cert}
		bundle, x5c := s.bundle(), s.x5c()
		auth := startAuth(t, s)
		raw := issueToken(t, auth, tc)
		jwks := saveJWKS(t, auth)
		bundleOK, reason := x5c, "token signed by untrusted key with ID" // only x5c gets through
		if got := checkToken(t, newV3(t, string(v3Bundle), bundle, ""), raw, tc, bundleOK, reason); got != bundleOK {
			t.Errorf("x5c=%v: v3.1.1 rootcertbundle accepted=%v, want %v", x5c, got, bundleOK)
		}
		if got := checkToken(t, newV3(t, string(v3JWKSBundle), bundle, jwks), raw, tc, true, ""); !got {
			t.Errorf("x5c=%v: v3.1.1 jwks+rootcertbundle refused the token", x5c)
		}
	}
}
