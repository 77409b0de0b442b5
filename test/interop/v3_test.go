package interop

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	v3auth "github.com/distribution/distribution/v3/registry/auth"
	_ "github.com/distribution/distribution/v3/registry/auth/token" // registers the "token" access controller
)

// newV3 is registry:3 v3.1.1's token access controller with
// auth.token.{realm, issuer, service} and rootcertbundle and/or jwks ("" leaves
// an option out, as an absent config key does). It trusts the bundle's
// certificates as x5c roots and their keys under their RFC 7638
// thumbprints, and the jwks file's keys under their "kid".
func newV3(t *testing.T, name, rootCertBundle, jwks string) stockVerifier {
	t.Helper()
	opts := map[string]any{"realm": realm, "issuer": issuer, "service": service}
	if rootCertBundle != "" {
		opts["rootcertbundle"] = rootCertBundle
	}
	if jwks != "" {
		opts["jwks"] = jwks
	}
	ac, err := v3auth.GetAccessController("token", opts)
	if err != nil {
		t.Fatalf("registry v3.1.1 token auth: %v", err)
	}
	return stockVerifier{name: name, authorize: func(raw string, needs []item) (outcome, error) {
		req := httptest.NewRequest(http.MethodGet, "/v2/", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		access := make([]v3auth.Access, len(needs))
		for i, it := range needs {
			access[i] = v3auth.Access{Resource: v3auth.Resource{Type: it.typ, Name: it.name}, Action: it.action}
		}
		var (
			grant *v3auth.Grant
			err   error
		)
		log := captureLog(func() { grant, err = ac.Authorized(req, access...) })
		if err == nil {
			if grant == nil {
				return outcome{}, errors.New("v3 granted access without a grant")
			}
			return outcome{granted: true, log: log}, nil
		}
		var ch v3auth.Challenge
		if !errors.As(err, &ch) {
			return outcome{}, err
		}
		w := httptest.NewRecorder()
		ch.SetHeaders(req, w)
		return outcome{challenge: w.Header().Get("WWW-Authenticate"), log: log}, nil
	}}
}
