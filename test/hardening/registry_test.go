package hardening

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/regserver"
	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/storage"
	"github.com/wharf-registry/wharf/pkg/token"
)

// What the token registries of these tests trust and announce.
const (
	issuer  = "hardening issuer"
	service = "hardening.registry"
	realm   = "https://auth.example/auth"
)

// authority is a token server's signing identity: a CA (the registry's
// rootcertbundle) and a leaf key it certified.
type authority struct {
	bundle string // path of the CA certificate PEM
	key    *token.Key
	leaf   *x509.Certificate
	ca     *x509.Certificate
}

func newAuthority(t *testing.T) *authority {
	t.Helper()
	caKey := newECKey(t)
	ca := certify(t, "hardening token CA", caKey.Public(), nil, caKey, true)
	leafKey := newECKey(t)
	leaf := certify(t, "hardening token signer", leafKey.Public(), ca, caKey, false)
	key, err := token.NewKey(leafKey, []*x509.Certificate{leaf, ca}, token.KeyIDLibtrust)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &authority{bundle: bundle, key: key, leaf: leaf, ca: ca}
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// certify issues a certificate for pub, self-signed when parent is nil.
func certify(t *testing.T, cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, isCA bool) *x509.Certificate {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, IsCA: isCA, BasicConstraintsValid: true,
	}
	if isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// grant is one entry of a token's access claim.
func grant(typ, name string, actions ...string) token.ResourceActions {
	return token.ResourceActions{Type: typ, Name: name, Actions: actions}
}

// token signs a valid token for subject with the given grants, the way
// cmd/auth does.
func (a *authority) token(t *testing.T, subject string, access ...token.ResourceActions) string {
	t.Helper()
	if access == nil {
		access = []token.ResourceActions{}
	}
	now := time.Now()
	raw, err := a.key.Sign(&token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: subject, Audience: jwt.ClaimStrings{service},
			ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), ID: token.NewJTI(),
		},
		Access: access,
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// x5c is the authority's chain as a JOSE x5c header value.
func (a *authority) x5c() []string {
	return []string{base64.StdEncoding.EncodeToString(a.leaf.Raw), base64.StdEncoding.EncodeToString(a.ca.Raw)}
}

// registry is the registry handler over real storage in a temp dir,
// served by httptest.
type registry struct {
	*httptest.Server
	srv   *regserver.Server
	store *storage.Store
	root  string
}

// newRegistry starts a registry with the registry:2 image defaults,
// deletes enabled, and what edit changes.
func newRegistry(t *testing.T, edit func(*regconfig.Config)) *registry {
	t.Helper()
	cfg, err := regconfig.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cfg.Storage.Filesystem.RootDirectory = root
	cfg.Storage.Delete.Enabled = true
	if edit != nil {
		edit(cfg)
	}
	store, err := storage.NewFilesystem(root, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := regserver.New(cfg, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &registry{Server: ts, srv: srv, store: store, root: root}
}

// newTokenRegistry is a registry trusting tokens of a.
func newTokenRegistry(t *testing.T, a *authority, edit func(*regconfig.Config)) *registry {
	t.Helper()
	return newRegistry(t, func(c *regconfig.Config) {
		c.Auth.Token = &regconfig.TokenAuth{Realm: realm, Service: service, Issuer: issuer, RootCertBundle: a.bundle}
		if edit != nil {
			edit(c)
		}
	})
}

// request is one HTTP exchange. Header values replace; Host sets the
// request's Host.
type request struct {
	method string
	path   string
	body   []byte
	header map[string]string
}

// do sends req to base and returns the response with its body read.
func do(t *testing.T, base string, req request) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	r, err := http.NewRequest(req.method, base+req.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// ociError is the OCI error envelope.
type ociError struct {
	Errors []struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"errors"`
}

// errorCode returns the code of a body that is exactly one OCI error, or
// "" for anything else.
func errorCode(body []byte) string {
	var e ociError
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(&e) != nil || len(e.Errors) != 1 {
		return ""
	}
	return e.Errors[0].Code
}

// pushBlob uploads data to repo in one POST and returns its digest.
func (r *registry) pushBlob(t *testing.T, auth map[string]string, repo string, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	resp, body := do(t, r.URL, request{method: "POST", path: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(), body: data, header: auth})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push blob to %s: %d %s", repo, resp.StatusCode, body)
	}
	return d
}

// pushImage pushes a config, a layer and an OCI manifest naming them to
// repo:tag and returns the manifest body and digest.
func (r *registry) pushImage(t *testing.T, auth map[string]string, repo, tag string) ([]byte, digest.Digest) {
	t.Helper()
	config := []byte(`{"architecture":"amd64","os":"linux","repo":"` + repo + `"}`)
	layer := []byte("the only layer of " + repo + ":" + tag)
	body := imageManifest(r.pushBlob(t, auth, repo, config), len(config), r.pushBlob(t, auth, repo, layer), len(layer))
	h := map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}
	for k, v := range auth {
		h[k] = v
	}
	resp, b := do(t, r.URL, request{method: "PUT", path: "/v2/" + repo + "/manifests/" + tag, body: body, header: h})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push manifest %s:%s: %d %s", repo, tag, resp.StatusCode, b)
	}
	return body, digest.FromBytes(body)
}

// imageManifest is an OCI image manifest with one config and one layer.
func imageManifest(config digest.Digest, configSize int, layer digest.Digest, layerSize int) []byte {
	return []byte(`{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + config.String() + `","size":` + strconv.Itoa(configSize) + `},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + layer.String() + `","size":` + strconv.Itoa(layerSize) + `}]}`)
}

// challenge is the Bearer challenge the registry must send for scopes and
// error ("" for none).
func challenge(scopes []string, errCode string) string {
	c := `Bearer realm="` + realm + `",service="` + service + `"`
	if len(scopes) > 0 {
		c += `,scope="` + strings.Join(scopes, " ") + `"`
	}
	if errCode != "" {
		c += `,error="` + errCode + `"`
	}
	return c
}
