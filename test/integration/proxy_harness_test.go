package integration

import (
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// startCache starts our registry as a pull-through cache with the given
// config sections (proxy or proxies, auth) and environment.
func startCache(t *testing.T, sections string, env ...string) *process {
	t.Helper()
	root, dir := t.TempDir(), t.TempDir()
	return start(t, server{
		name: "cache",
		bin:  registryBin,
		args: func(port int) []string {
			return []string{"serve", testkit.WriteFile(t, dir, "config.yml", []byte(registryConfig(root, port, sections)))}
		},
		env: func(int) []string { return env },
	})
}

// pushImage pushes a random image of one small layer to ref and returns it.
func pushImage(t *testing.T, c client, refText string) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, refText), img, c.opts...); err != nil {
		t.Fatalf("pushing %s: %v", refText, err)
	}
	return img
}

// pushIndex pushes a two-platform index of random images to ref.
func pushIndex(t *testing.T, c client, refText string) v1.ImageIndex {
	t.Helper()
	idx := v1.ImageIndex(empty.Index)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	if err := remote.WriteIndex(ref(t, refText), idx, c.opts...); err != nil {
		t.Fatalf("pushing index %s: %v", refText, err)
	}
	return idx
}

// pullImage pulls ref through go-containerregistry and checks it is want.
func pullImage(t *testing.T, c client, refText string, want v1.Image) {
	t.Helper()
	got, err := remote.Image(ref(t, refText), c.opts...)
	if err != nil {
		t.Fatalf("pulling %s: %v", refText, err)
	}
	assertSameImage(t, want, got)
}

// pullIndex pulls an index and every image in it and checks they are want's.
func pullIndex(t *testing.T, c client, refText string, want v1.ImageIndex) {
	t.Helper()
	got, err := remote.Index(ref(t, refText), c.opts...)
	if err != nil {
		t.Fatalf("pulling index %s: %v", refText, err)
	}
	wantDigest, _ := want.Digest()
	if d, err := got.Digest(); err != nil || d != wantDigest {
		t.Fatalf("index %s: digest %s (%v), want %s", refText, d, err, wantDigest)
	}
	m, err := want.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range m.Manifests {
		wantImg, _ := want.Image(desc.Digest)
		gotImg, err := got.Image(desc.Digest)
		if err != nil {
			t.Fatalf("index %s: child %s: %v", refText, desc.Digest, err)
		}
		assertSameImage(t, wantImg, gotImg)
	}
}

// metric returns the value of the sample of name whose labels include
// every label="value" pair given, from the cache's /metrics; 0 if absent.
func metric(t *testing.T, cache *process, name string, labels ...string) float64 {
	t.Helper()
	return testkit.Metric(t, cache.URL("http")+"/metrics", name, labels...)
}

// proxiesSection is a proxies: list of prefix=upstream entries with ttl.
func proxiesSection(ttl string, entries ...string) string {
	var b strings.Builder
	b.WriteString("proxies:\n")
	for _, e := range entries {
		prefix, rest, _ := strings.Cut(e, "=")
		remote, creds, _ := strings.Cut(rest, " ")
		fmt.Fprintf(&b, "  - prefix: %s\n    remoteurl: %s\n    ttl: %s\n", prefix, remote, ttl)
		if user, pw, ok := strings.Cut(creds, ":"); ok {
			fmt.Fprintf(&b, "    username: %q\n    password: %q\n", user, pw)
		}
	}
	return b.String()
}
