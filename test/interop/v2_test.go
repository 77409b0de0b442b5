package interop

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	dcontext "github.com/docker/distribution/context"
	v2auth "github.com/docker/distribution/registry/auth"
	_ "github.com/docker/distribution/registry/auth/token" // registers the "token" access controller
)

// newV2 is registry:2 v2.8.3's token access controller with
// auth.token.{realm, issuer, service, rootcertbundle}, its only options
// (it has no jwks). It trusts the bundle's certificates as x5c roots and
// their keys under their libtrust key IDs.
func newV2(t *testing.T, rootCertBundle string) stockVerifier {
	t.Helper()
	ac, err := v2auth.GetAccessController("token", map[string]interface{}{
		"realm": realm, "issuer": issuer, "service": service, "rootcertbundle": rootCertBundle,
	})
	if err != nil {
		t.Fatalf("registry v2.8.3 token auth: %v", err)
	}
	return stockVerifier{name: "v2.8.3 rootcertbundle", authorize: func(raw string, needs []item) (outcome, error) {
		req := httptest.NewRequest(http.MethodGet, "/v2/", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		// As handlers/app.go does: the controller finds the request in
		// the context.
		ctx := dcontext.WithRequest(context.Background(), req)
		access := make([]v2auth.Access, len(needs))
		for i, it := range needs {
			access[i] = v2auth.Access{Resource: v2auth.Resource{Type: it.typ, Name: it.name}, Action: it.action}
		}
		var err error
		log := captureLog(func() { _, err = ac.Authorized(ctx, access...) })
		if err == nil {
			return outcome{granted: true, log: log}, nil
		}
		var ch v2auth.Challenge
		if !errors.As(err, &ch) {
			return outcome{}, err // not an auth refusal: the registry would answer 500
		}
		w := httptest.NewRecorder()
		ch.SetHeaders(req, w)
		return outcome{challenge: w.Header().Get("WWW-Authenticate"), log: log}, nil
	}}
}
