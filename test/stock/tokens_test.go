package stock

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wharf-registry/wharf/pkg/token"
)

// fetchToken asks our auth for a token as acct, the way `docker` does
// (GET with Basic auth), and returns it.
func fetchToken(t *testing.T, authURL string, acct account, scope string) string {
	t.Helper()
	q := url.Values{"service": {service}, "scope": {scope}}
	req, err := http.NewRequest(http.MethodGet, authURL+"/auth?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(acct.name, acct.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.Token == "" {
		t.Fatalf("GET /auth as %s for %q: %s, %v", acct.name, scope, resp.Status, err)
	}
	return body.Token
}

// wantTokenShape checks that our auth's tokens carry the kid and x5c that tr
// is about, so each case tests the verification path it names.
func wantTokenShape(t *testing.T, authURL string, tr trust, pub crypto.PublicKey) {
	t.Helper()
	jwt := fetchToken(t, authURL, admin, "repository:app:pull")
	raw, err := base64.RawURLEncoding.DecodeString(strings.SplitN(jwt, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	var header struct {
		Kid string   `json:"kid"`
		X5c []string `json:"x5c"`
	}
	if err := json.Unmarshal(raw, &header); err != nil {
		t.Fatal(err)
	}
	kid, err := token.LibtrustKeyID(pub)
	if tr.kid == "jwk-thumbprint" {
		kid, err = token.Thumbprint(pub)
	}
	if err != nil {
		t.Fatal(err)
	}
	if header.Kid != kid || (len(header.X5c) > 0) != tr.x5c {
		t.Fatalf("token header %s: want kid %s and x5c %v", raw, kid, tr.x5c)
	}
}

// wantInsufficientScope checks the registry's own answer to a push with a
// token that grants only pull: 401, a challenge saying insufficient_scope
// (so clients do not retry with the same credentials) and an error body.
func wantInsufficientScope(t *testing.T, authURL, host, repo string) {
	t.Helper()
	jwt := fetchToken(t, authURL, reader, "repository:"+repo+":pull,push")
	req, err := http.NewRequest(http.MethodPost, "http://"+host+"/v2/"+repo+"/blobs/uploads/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+jwt)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	challenge := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, `error="insufficient_scope"`) ||
		len(body.Errors) == 0 || (body.Errors[0].Code != "UNAUTHORIZED" && body.Errors[0].Code != "DENIED") {
		t.Errorf("POST upload with a pull-only token: %s, WWW-Authenticate %q, errors %+v; want 401 insufficient_scope",
			resp.Status, challenge, body.Errors)
	}
}

// getErr is remote.Get as c.
func getErr(t *testing.T, ref name.Reference, c client) (*remote.Descriptor, error) {
	t.Helper()
	return remote.Get(ref, c.opts...)
}

// catalogErr is remote.Catalog as c.
func catalogErr(t *testing.T, host string, c client) ([]string, error) {
	t.Helper()
	return remote.Catalog(t.Context(), mustRegistry(t, host), c.opts...)
}

func mustRegistry(t *testing.T, host string) name.Registry {
	t.Helper()
	reg, err := name.NewRegistry(host, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
