package hardening

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/regserver"
	"github.com/wharf-registry/wharf/pkg/token"
)

// allMethods are the methods tried on every endpoint: those it answers
// must be refused without the right grant, the others with 405.
var allMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// neededScope is what a request needs, from NOTES.md ("What a registry
// checks in a token"), written here independently of the registry's own
// table so the two are compared, not copied.
func neededScope(ep regserver.Endpoint, method, repo string) (typ, name string, actions []string) {
	switch {
	case ep.Name == "base":
		return "", "", nil
	case !ep.Repository:
		return "registry", "catalog", []string{"*"}
	}
	switch method {
	case "GET", "HEAD":
		return "repository", repo, []string{"pull"}
	case "DELETE":
		return "repository", repo, []string{"delete"}
	}
	return "repository", repo, []string{"pull", "push"}
}

// wrongActions are grants on the right resource that lack one needed
// action.
func wrongActions(actions []string) []string {
	switch {
	case slices.Equal(actions, []string{"*"}):
		return []string{"pull", "push", "delete"} // everything but "*"
	case slices.Contains(actions, "push"):
		return []string{"pull", "delete"}
	case slices.Contains(actions, "delete"):
		return []string{"pull", "push"}
	}
	return []string{"push", "delete"}
}

// TestEveryEndpointRefusesRequestsWithoutTheRightGrant walks the router's
// own endpoint list: every method of every endpoint, with no credentials,
// with Basic credentials on a token registry, with a token for another
// repository and with a token lacking one action, is a 401 UNAUTHORIZED
// whose challenge names exactly the scope the request needs; methods an
// endpoint does not answer are 405 before any content is looked at. The
// paths name content that exists, so a 401 cannot be a 404 in disguise.
func TestEveryEndpointRefusesRequestsWithoutTheRightGrant(t *testing.T) {
	a := newAuthority(t)
	reg := newTokenRegistry(t, a, nil)
	const repo = "team/app"
	owner := bearer(a.token(t, "owner", grant("repository", repo, "*")))
	_, mdigest := reg.pushImage(t, owner, repo, "v1")
	layer := reg.pushBlob(t, owner, repo, []byte("a layer that exists"))
	resp, body := do(t, reg.URL, request{method: "POST", path: "/v2/" + repo + "/blobs/uploads/", header: owner})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("open an upload: %d %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	fill := strings.NewReplacer("{name}", repo, "{reference}", "v1", "{digest}", layer.String(), "{uuid}", loc[strings.LastIndexByte(loc, '/')+1:])
	referrersFill := strings.NewReplacer("{name}", repo, "{digest}", mdigest.String())

	endpoints := regserver.Endpoints()
	if len(endpoints) < 8 {
		t.Fatalf("the router lists only %d endpoints", len(endpoints))
	}
	for _, ep := range endpoints {
		path := fill.Replace(ep.Path)
		if ep.Name == "referrers" {
			path = referrersFill.Replace(ep.Path)
		}
		if strings.Contains(path, "{") {
			t.Fatalf("endpoint %s has a placeholder this test does not know: %s", ep.Name, ep.Path)
		}
		for _, method := range allMethods {
			if !slices.Contains(ep.Methods, method) {
				t.Run(ep.Name+"/"+method+"/not answered", func(t *testing.T) {
					resp, body := do(t, reg.URL, request{method: method, path: path, header: owner})
					if resp.StatusCode != http.StatusMethodNotAllowed || (method != "HEAD" && errorCode(body) != "UNSUPPORTED") {
						t.Errorf("%s %s: %d %s, want 405 UNSUPPORTED", method, path, resp.StatusCode, body)
					}
				})
				continue
			}
			typ, name, actions := neededScope(ep, method, repo)
			var scopes []string
			if typ != "" {
				scopes = []string{typ + ":" + name + ":" + strings.Join(actions, ",")}
			}
			type attempt struct {
				who    string
				header map[string]string
				want   string // the challenge
			}
			cases := []attempt{
				{"no credentials", nil, challenge(scopes, "")},
				{"Basic credentials", map[string]string{"Authorization": "Basic b3duZXI6b3duZXI="}, challenge(scopes, "")},
				{"a garbage token", bearer("e30.e30.e30"), challenge(scopes, "invalid_token")},
			}
			if typ != "" {
				other := []token.ResourceActions{grant("repository", "team/other", "*")}
				if typ == "repository" {
					other = append(other, grant("registry", "catalog", "*"))
				}
				cases = append(cases,
					attempt{"a token for another resource", bearer(a.token(t, "mallory", other...)), challenge(scopes, "insufficient_scope")},
					attempt{"a token lacking one action", bearer(a.token(t, "mallory", grant(typ, name, wrongActions(actions)...))), challenge(scopes, "insufficient_scope")},
				)
			}
			for _, c := range cases {
				t.Run(ep.Name+"/"+method+"/"+c.who, func(t *testing.T) {
					resp, body := do(t, reg.URL, request{method: method, path: path, header: c.header})
					if resp.StatusCode != http.StatusUnauthorized {
						t.Fatalf("%s %s: %d %.200s, want 401", method, path, resp.StatusCode, body)
					}
					if got := resp.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != c.want {
						t.Errorf("%s %s: challenge %q, want %q", method, path, got, c.want)
					}
					if method != "HEAD" && errorCode(body) != "UNAUTHORIZED" {
						t.Errorf("%s %s: body %s is not one UNAUTHORIZED error", method, path, body)
					}
					for _, h := range []string{"Docker-Content-Digest", "Location", "Docker-Upload-Uuid", "Range"} {
						if v := resp.Header.Get(h); v != "" {
							t.Errorf("%s %s: refused, yet %s: %s", method, path, h, v)
						}
					}
				})
			}
		}
	}

	// The session and the image survived every attempt.
	if resp, _ := do(t, reg.URL, request{method: "GET", path: loc, header: owner}); resp.StatusCode != http.StatusNoContent {
		t.Errorf("the owner's upload session after the attacks: %d", resp.StatusCode)
	}
	if resp, _ := do(t, reg.URL, request{method: "HEAD", path: "/v2/" + repo + "/manifests/v1", header: owner}); resp.StatusCode != http.StatusOK {
		t.Errorf("the tag after the attacks: %d", resp.StatusCode)
	}
}
