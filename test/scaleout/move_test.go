package scaleout

import (
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

// go-containerregistry pushes docker's way: POST, one PATCH with the whole
// layer, PUT ?digest= without a body. On S3 the session's multipart upload
// is then copied into the blob's key part by part, several parts at once.
func TestChunkedPushIsMovedByAParallelCopy(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		r := startRecorded(t, s)
		content := randomBytes(74, 3*32<<20+6<<20) // 4 copy parts of registry:2's 32 MiB
		layer := static.NewLayer(content, types.OCIUncompressedLayer)
		d := digest.FromBytes(content)
		tr := remote.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		dst, err := name.NewRepository(r.regs[0].Host()+"/put/docker", name.StrictValidation, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.WriteLayer(dst, layer,
			remote.WithAuth(authn.Anonymous), remote.WithTransport(tr)); err != nil {
			t.Fatalf("ggcr push: %v", err)
		}
		checkBlob(t, r.base, "put/docker", d, content)
		if n := r.front.PartCopies.Load(); n != 4 {
			t.Errorf("%d UploadPartCopy requests, want 4", n)
		}
		if n := r.front.MaxCopies.Load(); n < 2 {
			t.Errorf("at most %d part copies at once, want several", n)
		}
		r.checkNothingLeft(t, "put/docker", d)
	})
}
