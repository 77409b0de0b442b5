package scaleout

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestGoContainerRegistryThroughTheProxy pushes an image and a multi-arch
// index with go-containerregistry through the round-robin proxy (its
// POST, PATCH and PUT of each layer land on three different processes)
// and pulls everything back, through the proxy and from each registry.
func TestGoContainerRegistryThroughTheProxy(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		c := startCluster(t, s, clusterOptions{})
		pushAndPull(t, c, ggcrOptions(t, authn.Anonymous))
	})
}

// TestBlobDownloadsRedirectToTheBucket turns storage.redirect on: a blob GET
// answers 307 to a presigned URL of the S3 server, which clients follow,
// while HEAD is still answered by the registry.
func TestBlobDownloadsRedirectToTheBucket(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		c := startCluster(t, s, clusterOptions{redirect: true})
		pushAndPull(t, c, ggcrOptions(t, authn.Anonymous))

		content := randomBytes(7, 1<<20)
		d := pushBlob(t, c.proxy.URL(), "team/redirected", content)
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, r := range c.regs {
			u := r.URL() + "/v2/team/redirected/blobs/" + d.String()
			resp, err := noFollow.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, c.endpoint+"/") || !strings.Contains(loc, "X-Amz-Signature=") {
				t.Errorf("GET blob from %s: %s to %q, want 307 to a presigned %s URL", r.name, resp.Status, loc, c.endpoint)
			}
			if resp.Header.Get("Docker-Content-Digest") != d.String() {
				t.Errorf("redirect from %s: Docker-Content-Digest %q", r.name, resp.Header.Get("Docker-Content-Digest"))
			}
			checkBlob(t, r.URL(), "team/redirected", d, content)
			head, _ := do(t, http.MethodHead, u, "", nil, nil)
			if head.StatusCode != http.StatusOK || head.ContentLength != int64(len(content)) {
				t.Errorf("HEAD blob on %s: %s, length %d", r.name, head.Status, head.ContentLength)
			}
		}
		// A blob the repository does not link is not signed for anyone.
		resp, _ := do(t, http.MethodGet, c.proxy.URL()+"/v2/team/other/blobs/"+d.String(), "", nil, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET of a blob another repository holds: %s, want 404", resp.Status)
		}
	})
}

// pushAndPull is the go-containerregistry round trip every cluster variant
// passes.
func pushAndPull(t *testing.T, c *cluster, opts []remote.Option) {
	t.Helper()
	img, err := random.Image(3<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	tag := ref(t, c.proxy.Host()+"/team/app:v1")
	if err := remote.Write(tag, img, opts...); err != nil {
		t.Fatalf("push image: %v", err)
	}

	var idx v1.ImageIndex = empty.Index
	children := map[v1.Hash]v1.Image{}
	for _, arch := range []string{"amd64", "arm64"} {
		child, err := random.Image(1<<20, 2)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := child.Digest()
		children[d] = child
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        child,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	idxTag := ref(t, c.proxy.Host()+"/team/multi:v1")
	if err := remote.WriteIndex(idxTag, idx, opts...); err != nil {
		t.Fatalf("push index: %v", err)
	}
	if backends := distinct(c.proxy.backendsOf(http.MethodPatch, "/v2/team/")); len(backends) != len(c.regs) {
		t.Errorf("the pushes' PATCHes reached registries %v, want all %d", backends, len(c.regs))
	}

	hosts := []string{c.proxy.Host()}
	for _, r := range c.regs {
		hosts = append(hosts, r.Host())
	}
	for _, host := range hosts {
		got, err := remote.Image(ref(t, host+"/team/app:v1"), opts...)
		if err != nil {
			t.Fatalf("pull image from %s: %v", host, err)
		}
		sameImage(t, img, got)

		gotIdx, err := remote.Index(ref(t, host+"/team/multi:v1"), opts...)
		if err != nil {
			t.Fatalf("pull index from %s: %v", host, err)
		}
		wantDigest, _ := idx.Digest()
		if d, err := gotIdx.Digest(); err != nil || d != wantDigest {
			t.Errorf("index from %s: digest %s (%v), want %s", host, d, err, wantDigest)
		}
		for d, want := range children {
			got, err := gotIdx.Image(d)
			if err != nil {
				t.Fatalf("child %s from %s: %v", d, host, err)
			}
			sameImage(t, want, got)
		}
	}
}

// ggcrOptions is go-containerregistry with one identity and no retries (a
// retried 5xx would hide the failure the test is there to find).
func ggcrOptions(t *testing.T, auth authn.Authenticator) []remote.Option {
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return []remote.Option{
		remote.WithAuth(auth),
		remote.WithTransport(tr),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
	}
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.StrictValidation, name.Insecure)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return r
}

// sameImage checks manifest, config and every layer byte for byte.
func sameImage(t *testing.T, want, got v1.Image) {
	t.Helper()
	wm, _ := want.RawManifest()
	gm, err := got.RawManifest()
	if err != nil || !bytes.Equal(gm, wm) {
		t.Fatalf("pulled manifest differs (%v):\n got %s\nwant %s", err, gm, wm)
	}
	wc, _ := want.RawConfigFile()
	gc, err := got.RawConfigFile()
	if err != nil || !bytes.Equal(gc, wc) {
		t.Fatalf("pulled config differs (%v)", err)
	}
	wl, _ := want.Layers()
	gl, err := got.Layers()
	if err != nil || len(gl) != len(wl) {
		t.Fatalf("pulled %d layers (%v), want %d", len(gl), err, len(wl))
	}
	for i := range wl {
		if w, g := layerBytes(t, wl[i]), layerBytes(t, gl[i]); !bytes.Equal(g, w) {
			t.Fatalf("layer %d: pulled %d bytes that differ from the %d pushed", i, len(g), len(w))
		}
	}
}

func layerBytes(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading a layer: %v", err)
	}
	return b
}
