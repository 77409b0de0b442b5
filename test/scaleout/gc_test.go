package scaleout

import (
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestGarbageCollectionOnS3KeepsRecentPushes runs `registry garbage-collect`
// from one process against the bucket three registries serve. With the
// default grace period it removes nothing, even while an image is being
// pushed through the proxy; with a grace period of a nanosecond (and no
// push in flight) it removes exactly the deleted image's content, and every
// kept image still pulls whole from every registry.
func TestGarbageCollectionOnS3KeepsRecentPushes(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		c := startCluster(t, s, clusterOptions{})
		opts := ggcrOptions(t, authn.Anonymous)
		push := func(tag string) v1.Image {
			img, err := random.Image(256<<10, 2)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref(t, c.proxy.Host()+"/gc/app:"+tag), img, opts...); err != nil {
				t.Fatalf("push %s: %v", tag, err)
			}
			return img
		}
		doomed, kept := push("doomed"), push("kept")
		doomedDigest, _ := doomed.Digest()
		resp, body := do(t, http.MethodDelete, c.proxy.URL()+"/v2/gc/app/manifests/"+doomedDigest.String(), "", nil, nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("DELETE the doomed manifest: %s %s", resp.Status, body)
		}

		pushed := make(chan v1.Image, 1)
		go func() {
			img, err := random.Image(256<<10, 2)
			if err == nil {
				err = remote.Write(ref(t, c.proxy.Host()+"/gc/app:during"), img, opts...)
			}
			if err != nil {
				t.Errorf("push during the collection: %v", err)
				img = nil
			}
			pushed <- img
		}()
		m, b := collect(t, c, "")
		during := <-pushed
		if m != 0 || b != 0 {
			t.Errorf("garbage-collect with the default grace period deleted %d manifests and %d blobs of content pushed seconds ago", m, b)
		}

		// The doomed image: its manifest, config and two layers.
		m, b = collect(t, c, "--grace-period=1ns")
		if m != 0 || b != 4 {
			t.Errorf("garbage-collect --grace-period=1ns deleted %d manifests and %d blobs, want 0 and 4 (the deleted image's)", m, b)
		}
		for _, r := range c.regs {
			for tag, want := range map[string]v1.Image{"kept": kept, "during": during} {
				if want == nil {
					continue
				}
				got, err := remote.Image(ref(t, r.Host()+"/gc/app:"+tag), opts...)
				if err != nil {
					t.Fatalf("pull %s from %s after the collection: %v", tag, r.name, err)
				}
				sameImage(t, want, got)
			}
		}
	})
}

var collected = regexp.MustCompile(`deleted (\d+) manifests and (\d+) blobs`)

// collect runs `registry garbage-collect` with the first registry's config
// and returns how many manifests and blobs it deleted.
func collect(t *testing.T, c *cluster, flags ...string) (manifests, blobs int) {
	t.Helper()
	args := []string{"garbage-collect"}
	for _, f := range flags {
		if f != "" {
			args = append(args, f)
		}
	}
	cmd := exec.Command(registryBin, append(args, c.configs[0])...)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("registry %v: %v\n%s", args, err, out)
	}
	sub := collected.FindSubmatch(out)
	if sub == nil {
		t.Fatalf("registry %v printed no summary:\n%s", args, out)
	}
	manifests, _ = strconv.Atoi(string(sub[1]))
	blobs, _ = strconv.Atoi(string(sub[2]))
	t.Logf("registry %v: %s", args, sub[0])
	return manifests, blobs
}
