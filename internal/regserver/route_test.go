package regserver

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/regconfig"
)

func TestRoutesAreMatchedFromTheRight(t *testing.T) {
	dg := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		path string
		want route
		code string // expected error code, "" for success
	}{
		{"", route{kind: routeBase}, ""},
		{"/", route{kind: routeBase}, ""},
		{"/_catalog", route{kind: routeCatalog}, ""},
		{"/app/tags/list", route{kind: routeTags, name: "app"}, ""},
		{"/a/b/c/tags/list", route{kind: routeTags, name: "a/b/c"}, ""},
		{"/app/manifests/v1", route{kind: routeManifest, name: "app", ref: "v1"}, ""},
		{"/team/manifests/manifests/v1", route{kind: routeManifest, name: "team/manifests", ref: "v1"}, ""},
		{"/app/blobs/" + dg, route{kind: routeBlob, name: "app", ref: dg}, ""},
		{"/blobs/blobs/" + dg, route{kind: routeBlob, name: "blobs", ref: dg}, ""},
		{"/app/blobs/uploads/", route{kind: routeUploadStart, name: "app"}, ""},
		{"/app/blobs/uploads", route{kind: routeUploadStart, name: "app"}, ""},
		{"/app/blobs/uploads/abc", route{kind: routeUpload, name: "app", ref: "abc"}, ""},
		{"/x/blobs/uploads/blobs/uploads/", route{kind: routeUploadStart, name: "x/blobs/uploads"}, ""},
		{"/app/referrers/" + dg, route{kind: routeReferrers, name: "app", ref: dg}, ""},
		{"/tags/list", route{}, codeNotFound},
		{"/_catalog/", route{}, codeNotFound},
		{"/app/nothing", route{}, codeNotFound},
		{"/app/tags/list/", route{}, codeNotFound},
		{"/App/tags/list", route{}, codeNameInvalid},
		{"/a%2Fb/tags/list", route{}, codeNameInvalid},
		{"/a/./b/tags/list", route{}, codeNameInvalid},
		{"/_catalog/tags/list", route{}, codeNameInvalid},
		{"//tags/list", route{}, codeNameInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := parseRoute(tt.path)
			if tt.code != "" {
				if e := asError(err); err == nil || e.Code != tt.code {
					t.Fatalf("got %+v, %v; want %s", got, err, tt.code)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestEveryRouteAndMethodNeedsCredentials walks the route table: in both
// auth modes, no route under /v2/ answers a request without credentials
// with anything but 401 and a challenge, whatever the method.
func TestEveryRouteAndMethodNeedsCredentials(t *testing.T) {
	ca := newTokenCA(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("user:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	modes := map[string]*testRegistry{
		"Bearer ": newTokenRegistry(t, ca, testRealm),
		"Basic ": newRegistry(t, func(c *regconfig.Config) {
			c.Auth.Htpasswd = &regconfig.HtpasswdAuth{Realm: "r", Path: htpasswd}
		}),
	}
	samples := map[routeKind]string{
		routeBase: "/v2/", routeCatalog: "/v2/_catalog", routeTags: "/v2/app/tags/list",
		routeManifest: "/v2/app/manifests/v1", routeBlob: "/v2/app/blobs/sha256:" + strings.Repeat("a", 64),
		routeUploadStart: "/v2/app/blobs/uploads/", routeUpload: "/v2/app/blobs/uploads/x",
		routeReferrers: "/v2/app/referrers/sha256:" + strings.Repeat("a", 64),
	}
	if len(samples) != len(methods) {
		t.Fatalf("%d sample paths for %d routes: add the new route here", len(samples), len(methods))
	}
	for scheme, tr := range modes {
		for kind, path := range samples {
			for _, m := range methods[kind] {
				t.Run(scheme+kind.String()+" "+m, func(t *testing.T) {
					resp, body := tr.do(t, request{method: m, path: path})
					if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), scheme+"realm=") {
						t.Errorf("%s %s: %d %q %s", m, path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
					}
				})
			}
		}
	}
}
