package regserver

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/pkg/manifest"
)

// TestAPIErrorsAreExact pins status, OCI error code and Content-Type for
// every error the API can give for bad input, missing content, disabled
// features and missing credentials, and checks every response carries the
// API version header.
func TestAPIErrorsAreExact(t *testing.T) {
	regs := map[string]*testRegistry{
		"default":  newRegistry(t, nil),
		"nodelete": newRegistry(t, func(c *regconfig.Config) { c.Storage.Delete.Enabled = false }),
		"readonly": newRegistry(t, func(c *regconfig.Config) { c.Storage.Maintenance.ReadOnly.Enabled = true }),
		"htpasswd": newRegistry(t, func(c *regconfig.Config) {
			hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
			path := filepath.Join(t.TempDir(), "htpasswd")
			if err := os.WriteFile(path, []byte("user:"+string(hash)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c.Auth.Htpasswd = &regconfig.HtpasswdAuth{Realm: "Registry Realm", Path: path}
		}),
	}
	def := regs["default"]
	img := def.testImage(t, "app", "one")
	imgDigest := def.pushManifest(t, "app", "v1", img)
	secret := def.pushBlob(t, "bob/secret", []byte("bob's secret layer"))
	session := def.startSession(t, "app")
	other := def.startSession(t, "other")
	if resp, b := def.do(t, request{method: "PATCH", path: session, body: []byte("0123456789")}); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("seed chunk: %d %s", resp.StatusCode, b)
	}
	for _, name := range []string{"nodelete", "readonly"} {
		// These stores are separate directories; give each an image.
		if name == "readonly" {
			continue // nothing can be pushed; reads of an empty store suffice
		}
		r := regs[name]
		r.pushManifest(t, "app", "v1", r.testImage(t, "app", "one"))
	}

	unknown := digest.FromString("never pushed").String()
	upper := "sha256:" + strings.ToUpper(digest.FromString("x").Encoded())
	sha384 := "sha384:" + strings.Repeat("a", 96)
	longName := strings.Repeat("a", 256)
	schema1 := []byte(`{"schemaVersion":1,"name":"app","tag":"v1","architecture":"amd64","fsLayers":[],"history":[]}`)
	missingBlob := []byte(`{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + unknown + `","size":2},"layers":[]}`)
	huge := bytes.Repeat([]byte(" "), manifest.MaxSize+1)

	tests := []struct {
		name   string
		reg    string // "" is default
		req    request
		status int
		code   string // "" for success or a body-less answer
	}{
		// Names and routes: checked before anything else.
		{"upper-case name", "", request{method: "GET", path: "/v2/App/manifests/v1"}, 400, codeNameInvalid},
		{"escaped slash in name", "", request{method: "GET", path: "/v2/a%2Fb/manifests/v1"}, 400, codeNameInvalid},
		{"dot-dot in name", "", request{method: "GET", path: "/v2/a/../app/manifests/v1"}, 400, codeNameInvalid},
		{"overlong name", "", request{method: "GET", path: "/v2/" + longName + "/tags/list"}, 400, codeNameInvalid},
		{"empty name", "", request{method: "GET", path: "/v2//manifests/v1"}, 400, codeNameInvalid},
		{"catalog with trailing slash", "", request{method: "GET", path: "/v2/_catalog/"}, 404, codeNotFound},
		{"escaped catalog", "", request{method: "GET", path: "/v2/%5Fcatalog"}, 404, codeNotFound},
		{"unknown endpoint", "", request{method: "GET", path: "/v2/app/nothing/here"}, 404, codeNotFound},
		{"outside the API", "", request{method: "GET", path: "/v1/_ping"}, 404, codeNotFound},
		{"method not allowed", "", request{method: "POST", path: "/v2/app/manifests/v1"}, 405, codeUnsupported},

		// Blobs.
		{"blob digest garbage", "", request{method: "GET", path: "/v2/app/blobs/sha256:totallywrong"}, 400, codeDigestInvalid},
		{"blob digest upper-case hex", "", request{method: "GET", path: "/v2/app/blobs/" + upper}, 400, codeDigestInvalid},
		{"blob digest sha384", "", request{method: "GET", path: "/v2/app/blobs/" + sha384}, 400, codeDigestInvalid},
		{"blob unknown", "", request{method: "GET", path: "/v2/app/blobs/" + unknown}, 404, codeBlobUnknown},
		{"blob unknown HEAD", "", request{method: "HEAD", path: "/v2/app/blobs/" + unknown}, 404, ""},
		{"blob of another repository", "", request{method: "GET", path: "/v2/alice/x/blobs/" + secret.String()}, 404, codeBlobUnknown},
		{"blob delete unknown", "", request{method: "DELETE", path: "/v2/app/blobs/" + unknown}, 404, codeBlobUnknown},
		{"blob delete disabled", "nodelete", request{method: "DELETE", path: "/v2/app/blobs/" + unknown}, 405, codeUnsupported},

		// Uploads.
		{"monolithic bad digest", "", request{method: "POST", path: "/v2/app/blobs/uploads/?digest=sha256:nope", body: []byte("x")}, 400, codeDigestInvalid},
		{"monolithic content mismatch", "", request{method: "POST", path: "/v2/app/blobs/uploads/?digest=" + unknown, body: []byte("x")}, 400, codeDigestInvalid},
		{"mount bad digest", "", request{method: "POST", path: "/v2/app/blobs/uploads/?mount=sha256:nope&from=bob/secret"}, 400, codeDigestInvalid},
		{"mount bad from", "", request{method: "POST", path: "/v2/app/blobs/uploads/?mount=" + unknown + "&from=Bob"}, 400, codeNameInvalid},
		{"chunk out of order", "", request{method: "PATCH", path: session, body: []byte("abc"), header: map[string]string{"Content-Range": "20-22"}}, 416, codeBlobUploadInvalid},
		{"chunk range malformed", "", request{method: "PATCH", path: session, body: []byte("abc"), header: map[string]string{"Content-Range": "ten-twelve"}}, 400, codeBlobUploadInvalid},
		{"chunk range backwards", "", request{method: "PATCH", path: session, body: []byte("abc"), header: map[string]string{"Content-Range": "12-10"}}, 400, codeBlobUploadInvalid},
		{"chunk length disagrees with range", "", request{method: "PATCH", path: session, body: []byte("abc"), header: map[string]string{"Content-Range": "10-19"}}, 400, codeSizeInvalid},
		{"upload unknown id", "", request{method: "PATCH", path: "/v2/app/blobs/uploads/6f1d0c87-0d8e-4a8e-9e70-2b4d5d2c9c11", body: []byte("x")}, 404, codeBlobUploadUnknown},
		{"upload malformed id", "", request{method: "GET", path: "/v2/app/blobs/uploads/..%2F..%2Fetc"}, 404, codeBlobUploadUnknown},
		{"upload of another repository", "", request{method: "GET", path: strings.Replace(other, "/other/", "/app/", 1)}, 404, codeBlobUploadUnknown},
		{"finish without digest", "", request{method: "PUT", path: session}, 400, codeDigestInvalid},
		{"finish with bad digest", "", request{method: "PUT", path: session + "?digest=sha256:abc"}, 400, codeDigestInvalid},
		{"chunk with an odd Content-Type", "", request{method: "PATCH", path: other, body: []byte("x"), header: map[string]string{"Content-Type": "text/html; charset=<bad>"}}, 202, ""},

		// Manifests.
		{"manifest digest garbage", "", request{method: "GET", path: "/v2/app/manifests/sha256:totallywrong"}, 400, codeDigestInvalid},
		{"manifest unknown tag", "", request{method: "GET", path: "/v2/app/manifests/nope"}, 404, codeManifestUnknown},
		{"manifest unknown digest", "", request{method: "GET", path: "/v2/app/manifests/" + unknown}, 404, codeManifestUnknown},
		{"manifest invalid tag", "", request{method: "GET", path: "/v2/app/manifests/-bad"}, 404, codeManifestUnknown},
		{"manifest of unknown repository", "", request{method: "GET", path: "/v2/nosuch/manifests/v1"}, 404, codeManifestUnknown},
		{"manifest not in Accept", "", request{method: "GET", path: "/v2/app/manifests/v1", header: map[string]string{"Accept": manifest.MediaTypeDockerSchema2}}, 404, codeManifestUnknown},
		{"manifest too large", "", request{method: "PUT", path: "/v2/app/manifests/big", body: huge, header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}}, 413, codeSizeInvalid},
		{"manifest not JSON", "", request{method: "PUT", path: "/v2/app/manifests/v2", body: []byte("{"), header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}}, 400, codeManifestInvalid},
		{"manifest schema1", "", request{method: "PUT", path: "/v2/app/manifests/v2", body: schema1, header: map[string]string{"Content-Type": manifest.MediaTypeDockerSchema1}}, 400, codeManifestInvalid},
		{"manifest type contradicts Content-Type", "", request{method: "PUT", path: "/v2/app/manifests/v2", body: img, header: map[string]string{"Content-Type": manifest.MediaTypeOCIIndex}}, 400, codeManifestInvalid},
		{"manifest names a missing blob", "", request{method: "PUT", path: "/v2/app/manifests/v2", body: missingBlob, header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}}, 400, codeManifestBlobUnknown},
		{"manifest digest does not match body", "", request{method: "PUT", path: "/v2/app/manifests/" + unknown, body: img, header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}}, 400, codeDigestInvalid},
		{"manifest put with bad digest", "", request{method: "PUT", path: "/v2/app/manifests/sha256:baddigeststring", body: img, header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}}, 400, codeDigestInvalid},
		{"manifest put with invalid tag", "", request{method: "PUT", path: "/v2/app/manifests/.bad", body: img, header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}}, 400, codeManifestInvalid},
		{"manifest put with invalid tag parameter", "", request{method: "PUT", path: "/v2/app/manifests/" + imgDigest.String() + "?tag=.bad", body: img, header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}}, 400, codeManifestInvalid},
		{"tag delete unknown", "", request{method: "DELETE", path: "/v2/app/manifests/nope"}, 404, codeManifestUnknown},
		{"manifest delete unknown", "", request{method: "DELETE", path: "/v2/app/manifests/" + unknown}, 404, codeManifestUnknown},
		{"manifest delete disabled", "nodelete", request{method: "DELETE", path: "/v2/app/manifests/v1"}, 405, codeUnsupported},
		{"tag delete disabled", "nodelete", request{method: "DELETE", path: "/v2/app/manifests/" + imgDigest.String()}, 405, codeUnsupported},

		// Listings.
		{"tags of unknown repository", "", request{method: "GET", path: "/v2/nosuch/tags/list"}, 404, codeNameUnknown},
		{"tags n negative", "", request{method: "GET", path: "/v2/app/tags/list?n=-1"}, 400, codePaginationInvalid},
		{"tags n not a number", "", request{method: "GET", path: "/v2/app/tags/list?n=ten"}, 400, codePaginationInvalid},
		{"catalog n negative", "", request{method: "GET", path: "/v2/_catalog?n=-5"}, 400, codePaginationInvalid},
		{"catalog n fractional", "", request{method: "GET", path: "/v2/_catalog?n=1.5"}, 400, codePaginationInvalid},
		{"catalog with a crafted last", "", request{method: "GET", path: "/v2/_catalog?last=..%2F..%2Fetc%00"}, 200, ""},
		{"tags with a crafted last", "", request{method: "GET", path: "/v2/app/tags/list?last=%2F..%2F" + longName}, 200, ""},
		{"base without trailing slash", "", request{method: "HEAD", path: "/v2"}, 200, ""},
		{"referrers bad digest", "", request{method: "GET", path: "/v2/app/referrers/sha256:nope"}, 400, codeDigestInvalid},

		// Read-only mode refuses writes and serves reads.
		{"read-only upload", "readonly", request{method: "POST", path: "/v2/app/blobs/uploads/"}, 405, codeUnsupported},
		{"read-only manifest put", "readonly", request{method: "PUT", path: "/v2/app/manifests/v1", body: img}, 405, codeUnsupported},
		{"read-only delete", "readonly", request{method: "DELETE", path: "/v2/app/manifests/v1"}, 405, codeUnsupported},
		{"read-only read", "readonly", request{method: "GET", path: "/v2/app/manifests/v1"}, 404, codeManifestUnknown},

		// Credentials.
		{"htpasswd without credentials", "htpasswd", request{method: "GET", path: "/v2/"}, 401, codeUnauthorized},
		{"htpasswd wrong password", "htpasswd", request{method: "GET", path: "/v2/app/tags/list", header: map[string]string{"Authorization": "Basic dXNlcjp3cm9uZw=="}}, 401, codeUnauthorized},
		{"htpasswd bearer instead of basic", "htpasswd", request{method: "GET", path: "/v2/", header: map[string]string{"Authorization": "Bearer abc"}}, 401, codeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := def
			if tt.reg != "" {
				reg = regs[tt.reg]
			}
			resp, body := reg.do(t, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Docker-Distribution-Api-Version"); got != "registry/2.0" {
				t.Errorf("Docker-Distribution-API-Version = %q", got)
			}
			if tt.status >= 400 {
				if ct := resp.Header.Get("Content-Type"); ct != jsonContentType {
					t.Errorf("Content-Type = %q, want %q", ct, jsonContentType)
				}
			}
			if tt.code != "" {
				if got := errorCode(body); got != tt.code {
					t.Errorf("code %q, want %q; body %s", got, tt.code, body)
				}
			}
		})
	}
}

func TestBadInputNeverLeavesContentBehind(t *testing.T) {
	reg := newRegistry(t, nil)
	claimed := digest.FromString("what the client claims")
	t.Run("monolithic upload with the wrong digest", func(t *testing.T) {
		resp, _ := reg.do(t, request{method: "POST", path: "/v2/app/blobs/uploads/?digest=" + claimed.String(), body: []byte("other bytes")})
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("session finished with the wrong digest", func(t *testing.T) {
		loc := reg.startSession(t, "app")
		resp, _ := reg.do(t, request{method: "PUT", path: loc + "?digest=" + claimed.String(), body: []byte("other bytes")})
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("oversize manifest", func(t *testing.T) {
		resp, _ := reg.do(t, request{method: "PUT", path: "/v2/app/manifests/big", body: bytes.Repeat([]byte("{"), manifest.MaxSize+10),
			header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}})
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if resp, _ := reg.do(t, request{method: "GET", path: "/v2/app/manifests/big"}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("oversize manifest stored: %d", resp.StatusCode)
		}
	})
	if resp, _ := reg.do(t, request{method: "HEAD", path: "/v2/app/blobs/" + claimed.String()}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("claimed digest is visible after failed uploads: %d", resp.StatusCode)
	}
}
