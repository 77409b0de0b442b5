//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// helloOutput is what testdata/hello prints when built for linux/arch.
func helloOutput(arch string) string { return "hello from wharf e2e (linux/" + arch + ")\n" }

// buildHello compiles testdata/hello as a static linux binary for arch
// into dir.
func buildHello(t *testing.T, dir, arch string) string {
	t.Helper()
	out := filepath.Join(dir, "hello-"+arch)
	rn := runner{dir: repoRoot + "/test/e2e", env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + arch}}
	rn.must(t, "", "go", "build", "-trimpath", "-o", out, "./testdata/hello")
	return out
}

// dockerBuildHello builds, with the legacy builder, an image FROM scratch
// holding the hello binary for this machine's architecture, tagged as each
// of refs. The caller removes the images.
func (s *stack) dockerBuildHello(t *testing.T, refs ...string) {
	t.Helper()
	ctx := filepath.Join(s.dir, "hello-context")
	bin, err := os.ReadFile(buildHello(t, s.dir, runtime.GOARCH))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ctx, "hello"), bin, 0o755)
	writeFile(t, filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nCOPY hello /hello\nENTRYPOINT [\"/hello\"]\n"), 0o644)
	argv := []string{"docker", "build", "-q"}
	for _, r := range refs {
		argv = append(argv, "-t", r)
	}
	s.sh.must(t, "", append(argv, ctx)...)
}

// helloImage is an OCI image whose single layer holds /hello for arch,
// built in dir.
func helloImage(t *testing.T, dir, arch string) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(buildHello(t, dir, arch))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(bin)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Entrypoint = []string{"/hello"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushMultiArch pushes, with go-containerregistry through the token flow
// as user, an OCI index of hello images for linux/amd64 and linux/arm64.
// It returns the index digest.
func (s *stack) pushMultiArch(t *testing.T, repoTag, user, pass string) v1.Hash {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        helloImage(t, s.dir, p.Architecture),
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	ref, err := name.ParseReference(s.ref(repoTag))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx,
		remote.WithAuth(&authn.Basic{Username: user, Password: pass}),
		remote.WithTransport(s.transport(t))); err != nil {
		t.Fatalf("go-containerregistry push of %s: %v", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// transport trusts only the stack's CA.
func (s *stack) transport(t *testing.T) http.RoundTripper {
	t.Helper()
	pemData, err := os.ReadFile(filepath.Join(s.certs, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return tr
}
