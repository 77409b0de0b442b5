package storage

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// A page of referrers ends once its manifests reach MaxReferrerBytes,
// however many descriptors were asked for, and the next page continues
// after it: six referrers of 3.5 MiB come as five, then one.
func TestReferrersPageIsBoundedInBytes(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	subject := pushImage(t, s, "app", "v1", "subject")
	empty := pushBlob(t, s, "app", []byte("{}"))
	pad := strings.Repeat("x", 7<<19) // 3.5 MiB
	var all []digest.Digest
	for i := range 6 {
		body := imageBody(manifest.MediaTypeOCIManifest, empty, nil, &subject.Manifest, "application/vnd.example.sbom")
		body = []byte(strings.Replace(string(body), `"schemaVersion"`, `"annotations":{"pad":"`+pad+strconv.Itoa(i)+`"},"schemaVersion"`, 1))
		all = append(all, putManifest(t, s, "app", "", manifest.MediaTypeOCIManifest, body).Digest)
	}
	slices.Sort(all)
	first, next, err := s.Referrers(ctx, "app", subject.Manifest.Digest, "", "", 100)
	if err != nil || len(first) != 5 || next != first[4].Digest {
		t.Fatalf("first page: %d descriptors, next %q, %v; want 5 and next the fifth", len(first), next, err)
	}
	second, next, err := s.Referrers(ctx, "app", subject.Manifest.Digest, "", next, 100)
	if err != nil || len(second) != 1 || next != "" {
		t.Fatalf("second page: %d descriptors, next %q, %v; want the last one and no next", len(second), next, err)
	}
	var got []digest.Digest
	for _, d := range append(first, second...) {
		got = append(got, d.Digest)
	}
	if !slices.Equal(got, all) {
		t.Fatalf("pages hold %v, want %v", got, all)
	}
}
