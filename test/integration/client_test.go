package integration

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// client is go-containerregistry's remote package with one identity.
type client struct {
	opts []remote.Option
}

// newClient authenticates as acct (anonymous when acct is zero) and trusts
// roots for HTTPS (system roots when nil). Its connections are closed when
// the test ends: a pooled connection that never carried a request holds a Go
// server's graceful shutdown for five seconds.
func newClient(t *testing.T, acct account, roots *tls.Config) client {
	var auth authn.Authenticator = authn.Anonymous
	if acct.name != "" {
		auth = &authn.Basic{Username: acct.name, Password: acct.password}
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	if roots != nil {
		// A copy: a transport that tries HTTP/2 writes "h2" into its
		// config's NextProtos, a race on a config several clients share.
		tr.TLSClientConfig = roots.Clone()
	}
	t.Cleanup(tr.CloseIdleConnections)
	return client{opts: []remote.Option{
		remote.WithAuth(auth),
		remote.WithTransport(tr),
		// A single attempt: a retried 5xx would hide the very failure the
		// test is there to report.
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
	}}
}

func (c client) with(extra ...remote.Option) []remote.Option {
	return append(append([]remote.Option{}, c.opts...), extra...)
}

// ref parses "host/repo:tag" or "host/repo@digest".
func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.StrictValidation)
	if err != nil {
		t.Fatalf("parsing reference %q: %v", s, err)
	}
	return r
}

// digestRef is host/repo@digest.
func digestRef(t *testing.T, host, repo string, d v1.Hash) name.Digest {
	t.Helper()
	r, err := name.NewDigest(host+"/"+repo+"@"+d.String(), name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// assertSameImage checks that got is want, byte for byte: manifest, config
// and every layer's compressed content.
func assertSameImage(t *testing.T, want, got v1.Image) {
	t.Helper()
	wantDigest, err := want.Digest()
	if err != nil {
		t.Fatal(err)
	}
	gotDigest, err := got.Digest()
	if err != nil {
		t.Fatalf("digest of pulled image: %v", err)
	}
	if gotDigest != wantDigest {
		t.Errorf("pulled manifest digest %s, pushed %s", gotDigest, wantDigest)
	}
	wantManifest, _ := want.RawManifest()
	gotManifest, err := got.RawManifest()
	if err != nil {
		t.Fatalf("pulled manifest: %v", err)
	}
	if !bytes.Equal(gotManifest, wantManifest) {
		t.Errorf("pulled manifest differs:\n got %s\nwant %s", gotManifest, wantManifest)
	}
	wantConfig, _ := want.RawConfigFile()
	gotConfig, err := got.RawConfigFile()
	if err != nil {
		t.Fatalf("pulled config: %v", err)
	}
	if !bytes.Equal(gotConfig, wantConfig) {
		t.Errorf("pulled config differs:\n got %s\nwant %s", gotConfig, wantConfig)
	}
	wantLayers, _ := want.Layers()
	gotLayers, err := got.Layers()
	if err != nil {
		t.Fatalf("pulled layers: %v", err)
	}
	if len(gotLayers) != len(wantLayers) {
		t.Fatalf("pulled %d layers, pushed %d", len(gotLayers), len(wantLayers))
	}
	for i := range wantLayers {
		wd, _ := wantLayers[i].Digest()
		gd, err := gotLayers[i].Digest()
		if err != nil || gd != wd {
			t.Errorf("layer %d: digest %s (%v), want %s", i, gd, err, wd)
			continue
		}
		if w, g := layerBytes(t, wantLayers[i]), layerBytes(t, gotLayers[i]); !bytes.Equal(g, w) {
			t.Errorf("layer %d (%s): pulled %d bytes that differ from the %d pushed", i, wd, len(g), len(w))
		}
	}
}

// layerBytes reads a layer's compressed blob; go-containerregistry verifies
// the digest while reading, so a corrupted blob fails here.
func layerBytes(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatalf("opening layer: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading layer: %v", err)
	}
	return b
}

// wantHTTPError asserts that err is the server's refusal with status code and,
// when code is not "", that OCI error code in the body.
func wantHTTPError(t *testing.T, what string, err error, status int, code transport.ErrorCode) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want HTTP %d %s", what, status, code)
		return
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		t.Errorf("%s: %v; want an HTTP %d from the server", what, err, status)
		return
	}
	if terr.StatusCode != status {
		t.Errorf("%s: HTTP %d (%v); want %d", what, terr.StatusCode, err, status)
		return
	}
	if code == "" {
		return
	}
	for _, d := range terr.Errors {
		if d.Code == code {
			return
		}
	}
	t.Errorf("%s: error codes %v; want %s", what, terr.Errors, code)
}

// httpGet sends a GET as curl would, with Basic credentials when user is set.
func httpGet(t *testing.T, url, user, password string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, body
}

// decodeJSON decodes body strictly into v, failing the test with the body.
func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", strings.TrimSpace(string(body)), err)
	}
}
