package regserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/testkit"
	"github.com/wharf-registry/wharf/pkg/reference"
	"github.com/wharf-registry/wharf/pkg/token"
)

// dockerAuthTokens is the part of interop/docker_auth/tokens.json these
// tests read: what the real cesanta/docker_auth issued and what a registry
// must grant for each token.
type dockerAuthTokens struct {
	RegistrySettings struct {
		Service string            `json:"service"`
		Issuer  string            `json:"issuer"`
		Realm   map[string]string `json:"realm"`
	} `json:"registry_settings"`
	Keys map[string]struct {
		Certificate string `json:"certificate"`
	} `json:"keys"`
	Tokens []struct {
		File     string `json:"file"`
		Key      string `json:"key"`
		Case     string `json:"case"`
		IAT      int64  `json:"iat"`
		Exp      int64  `json:"exp"`
		Expected struct {
			V2Endpoint int                     `json:"v2_endpoint"`
			Grant      []token.ResourceActions `json:"grant"`
			Denied     []token.ResourceActions `json:"denied"`
		} `json:"expected"`
	} `json:"tokens"`
}

func loadDockerAuthTokens(t *testing.T) (dir string, f dockerAuthTokens) {
	t.Helper()
	dir = filepath.Join(testkit.SharedDir(t), "interop", "docker_auth")
	data, err := os.ReadFile(filepath.Join(dir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("tokens.json: %v", err)
	}
	if len(f.Tokens) == 0 {
		t.Fatal("tokens.json lists no tokens")
	}
	return dir, f
}

// TestDockerAuthTokens replays every token the real docker_auth issued
// (RS256 and ES256, libtrust kid, no x5c) through the registry's HTTP
// handler, configured as tokens.json says (service, issuer, the key's
// certificate as rootcertbundle) with its clock fixed at the token's iat.
// Each action on each resource the token names, and the catalog, is tried
// with a real request: exactly expected.grant is allowed, everything else
// (expected.denied included) is 401 insufficient_scope. Names that are no
// OCI repository (host:port) have no route; for them the grant is checked
// with pkg/token's verifier and the same Allows the handler uses.
func TestDockerAuthTokens(t *testing.T) {
	dir, f := loadDockerAuthTokens(t)
	for _, tk := range f.Tokens {
		t.Run(tk.File, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, tk.File))
			if err != nil {
				t.Fatal(err)
			}
			jwt := strings.TrimSpace(string(raw))
			bundle := filepath.Join(dir, f.Keys[tk.Key].Certificate)
			configure := func(c *regconfig.Config) {
				c.Auth.Token = &regconfig.TokenAuth{
					Realm:   f.RegistrySettings.Realm[tk.Key],
					Service: f.RegistrySettings.Service, Issuer: f.RegistrySettings.Issuer,
					RootCertBundle: bundle,
				}
			}
			iat := time.Unix(tk.IAT, 0)
			reg := newRegistryAt(t, func() time.Time { return iat }, configure)
			bearer := map[string]string{"Authorization": "Bearer " + jwt}

			if resp, body := reg.do(t, request{method: "GET", path: "/v2/", header: bearer}); resp.StatusCode != tk.Expected.V2Endpoint {
				t.Fatalf("GET /v2/ at iat: %d %s, want %d", resp.StatusCode, body, tk.Expected.V2Endpoint)
			}
			for _, p := range dockerAuthProbes(tk.Expected.Grant, tk.Expected.Denied) {
				allowed := covers(tk.Expected.Grant, p.needs)
				if !reference.ValidRepository(p.name) && p.name != "catalog" {
					checkGrantByVerifier(t, f.RegistrySettings.Issuer, f.RegistrySettings.Service, bundle, iat, jwt, p, allowed)
					continue
				}
				resp, body := reg.do(t, request{method: p.method, path: p.path, header: bearer})
				switch {
				case allowed && resp.StatusCode != p.okStatus:
					t.Errorf("%s %s (needs %v): %d %s, want %d", p.method, p.path, p.needs, resp.StatusCode, body, p.okStatus)
				case !allowed && (resp.StatusCode != http.StatusUnauthorized ||
					!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`)):
					t.Errorf("%s %s (needs %v): %d %q, want 401 insufficient_scope", p.method, p.path, p.needs,
						resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				}
			}

			// The same token past exp plus the 60 s leeway: refused, so
			// the fixed clock is what let it in.
			late := newRegistryAt(t, func() time.Time { return time.Unix(tk.Exp, 0).Add(61 * time.Second) }, configure)
			resp, _ := late.do(t, request{method: "GET", path: "/v2/", header: bearer})
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("GET /v2/ after exp+leeway: %d %q, want 401 invalid_token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// dockerAuthProbe is one request and the (type:name, action) pairs it needs.
type dockerAuthProbe struct {
	method, path string
	name         string
	needs        []token.ResourceActions
	okStatus     int // the answer when allowed, on an empty registry
}

// dockerAuthProbes lists, for every repository the token's grant or denied
// list names, a pull (GET tags/list), a push (POST blobs/uploads/, which
// needs pull and push) and a delete (DELETE of a missing manifest), and the
// catalog, so a grant wider than expected fails too.
func dockerAuthProbes(lists ...[]token.ResourceActions) []dockerAuthProbe {
	need := func(name string, actions ...string) []token.ResourceActions {
		return []token.ResourceActions{{Type: "repository", Name: name, Actions: actions}}
	}
	probes := []dockerAuthProbe{{method: "GET", path: "/v2/_catalog", name: "catalog", okStatus: http.StatusOK,
		needs: []token.ResourceActions{{Type: "registry", Name: "catalog", Actions: []string{"*"}}}}}
	var names []string
	for _, l := range lists {
		for _, ra := range l {
			if ra.Type == "repository" && !slices.Contains(names, ra.Name) {
				names = append(names, ra.Name)
			}
		}
	}
	for _, n := range names {
		probes = append(probes,
			dockerAuthProbe{"GET", "/v2/" + n + "/tags/list", n, need(n, "pull"), http.StatusNotFound},
			dockerAuthProbe{"POST", "/v2/" + n + "/blobs/uploads/", n, need(n, "pull", "push"), http.StatusAccepted},
			dockerAuthProbe{"DELETE", "/v2/" + n + "/manifests/sha256:" + strings.Repeat("0", 64), n, need(n, "delete"), http.StatusNotFound},
		)
	}
	return probes
}

// covers reports whether grant allows every needed action ("*" matches
// any), by its own reading of the list, independent of token.Claims.
func covers(grant, needs []token.ResourceActions) bool {
	for _, n := range needs {
		for _, a := range n.Actions {
			ok := false
			for _, g := range grant {
				if g.Type == n.Type && g.Name == n.Name && (slices.Contains(g.Actions, a) || slices.Contains(g.Actions, "*")) {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// checkGrantByVerifier decides p as tokenAuth.authorize does, for names
// that have no route: the verifier configured like the handler's, then
// Allows for every needed action.
func checkGrantByVerifier(t *testing.T, issuer, service, bundle string, now time.Time, jwt string, p dockerAuthProbe, allowed bool) {
	t.Helper()
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := token.ParseCertificatesPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier(token.VerifierOptions{Issuer: issuer, Service: service, Roots: roots, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), jwt)
	if err != nil {
		t.Fatalf("verify at iat: %v", err)
	}
	got := true
	for _, n := range p.needs {
		for _, a := range n.Actions {
			got = got && claims.Allows(n.Type, n.Name, a)
		}
	}
	if got != allowed {
		t.Errorf("%s on %s (no route, by the verifier): allowed=%v, want %v", fmt.Sprint(p.needs), p.name, got, allowed)
	}
}
