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
// (GET with Basic auth), and returns it. No scope is what `docker login`
// asks.
func fetchToken(t *testing.T, authURL string, acct account, scope string) string {
	t.Helper()
	q := url.Values{"service": {service}}
	if scope != "" {
		q.Set("scope", scope)
	} else {
		q = url.Values{"account": {acct.name}, "client_id": {"docker"}, "offline_token": {"true"}, "service": {service}}
	}
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
	a := askOnce(t, host, authURL, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", jwt)
	if a.status != http.StatusUnauthorized || !strings.Contains(a.challenge, `error="insufficient_scope"`) ||
		(a.code != "UNAUTHORIZED" && a.code != "DENIED") {
		t.Errorf("POST upload with a pull-only token: %+v; want 401 insufficient_scope", a)
	}
}

// wantLogin checks `docker login`'s two requests: a token asked for with no
// scope, then /v2/ with it, which the stock registry must answer 200.
func wantLogin(t *testing.T, authURL, host string) {
	t.Helper()
	if status := askOnce(t, host, authURL, http.MethodGet, "/v2/", fetchToken(t, authURL, admin, "")).status; status != http.StatusOK {
		t.Errorf("GET /v2/ with the login token: %d, want 200", status)
	}
}

// wantOAuth2Tokens checks the tokens containerd and buildkit (so docker
// pull) get: the OAuth2 password grant, then the refresh grant, both POSTed
// as a form; the stock registry must take either access token.
func wantOAuth2Tokens(t *testing.T, authURL, host, repo string) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {reader.name}, "password": {reader.password},
		"service": {service}, "scope": {"repository:" + repo + ":pull"}, "client_id": {"wharf-stock-test"}, "access_type": {"offline"}}
	for _, grant := range []string{"password", "refresh_token"} {
		resp, err := http.PostForm(authURL+"/auth", form)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" || body.RefreshToken == "" {
			t.Fatalf("POST /auth grant_type=%s: %s, %v (access and refresh token wanted)", grant, resp.Status, err)
		}
		if status := askOnce(t, host, authURL, http.MethodGet, "/v2/"+repo+"/tags/list", body.AccessToken).status; status != http.StatusOK {
			t.Errorf("tags of %s with the %s grant's access token: %d, want 200", repo, grant, status)
		}
		form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body.RefreshToken},
			"service": {service}, "scope": {"repository:" + repo + ":pull"}, "client_id": {"wharf-stock-test"}}
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
