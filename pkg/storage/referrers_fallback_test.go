package storage

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// TestReferrersIncludeTheTagSchemaIndexOfRegistriesWithoutTheAPI stores what
// oras leaves on registry:3 (no referrers API): the artifact with its
// subject, and an index tagged sha256-<subject hex> listing it, with none of
// our referrer links. The listing must name the artifact once, whether or
// not our link exists too, and nothing else the index lists: a manifest
// with no subject or another subject.
func TestReferrersIncludeTheTagSchemaIndexOfRegistriesWithoutTheAPI(t *testing.T) {
	for _, ownLinks := range []bool{false, true} {
		name := "written by registry:3"
		if ownLinks {
			name = "also pushed here"
		}
		t.Run(name, func(t *testing.T) {
			s, root := newStore(t)
			ctx := context.Background()
			subject := pushImage(t, s, "app", "1.0", "subject")
			other := pushImage(t, s, "app", "other", "other")
			plain := pushImage(t, s, "app", "", "plain")
			cfg := pushBlob(t, s, "app", []byte("{}"))
			sbom := putManifest(t, s, "app", "", manifest.MediaTypeOCIManifest,
				imageBody(manifest.MediaTypeOCIManifest, cfg, nil, &subject.Manifest, "application/vnd.example.sbom"))
			sig := putManifest(t, s, "app", "", manifest.MediaTypeOCIManifest,
				imageBody(manifest.MediaTypeOCIManifest, cfg, nil, &subject.Manifest, "application/vnd.example.sig"))
			stray := putManifest(t, s, "app", "", manifest.MediaTypeOCIManifest,
				imageBody(manifest.MediaTypeOCIManifest, cfg, nil, &other.Manifest, "application/vnd.example.sbom"))
			if !ownLinks {
				if err := os.RemoveAll(v2(root, "repositories", "app", "_manifests", "referrers")); err != nil {
					t.Fatal(err)
				}
			}
			tag := "sha256-" + subject.Manifest.Digest.Encoded()
			putManifest(t, s, "app", tag, manifest.MediaTypeOCIIndex,
				indexBody(manifest.MediaTypeOCIIndex, sbom, plain.Manifest, stray, sig))

			for _, tc := range []struct {
				artifactType string
				want         []digest.Digest
			}{
				{"", []digest.Digest{sbom.Digest, sig.Digest}},
				{"application/vnd.example.sbom", []digest.Digest{sbom.Digest}},
				{"application/vnd.example.none", nil},
			} {
				refs, _, err := s.Referrers(ctx, "app", subject.Manifest.Digest, tc.artifactType, "", 100)
				if err != nil {
					t.Fatal(err)
				}
				var got []digest.Digest
				for _, r := range refs {
					got = append(got, r.Digest)
				}
				slices.Sort(got)
				slices.Sort(tc.want)
				if !slices.Equal(got, tc.want) {
					t.Errorf("referrers (artifactType %q) = %v, want %v", tc.artifactType, got, tc.want)
				}
			}
		})
	}
}

// TestReferrersIgnoreATagSchemaTagOnAnImage checks that an image that merely
// carries a tag of the schema's shape lists nothing.
func TestReferrersIgnoreATagSchemaTagOnAnImage(t *testing.T) {
	s, _ := newStore(t)
	subject := pushImage(t, s, "app", "1.0", "subject")
	pushImage(t, s, "app", fallbackTag(subject.Manifest.Digest), "unrelated")
	refs, _, err := s.Referrers(context.Background(), "app", subject.Manifest.Digest, "", "", 100)
	if err != nil || len(refs) != 0 {
		t.Errorf("Referrers = %v, %v; want none", refs, err)
	}
}

// TestFallbackTagFollowsTheSchema checks <alg>-<ref> with <ref> cut to 64
// characters, so that a sha512 subject still gives a valid tag.
func TestFallbackTagFollowsTheSchema(t *testing.T) {
	d256 := sha256Of([]byte("x"))
	if got, want := fallbackTag(d256), "sha256-"+d256.Encoded(); got != want {
		t.Errorf("fallbackTag(%s) = %s, want %s", d256, got, want)
	}
	d512 := sha512Of([]byte("x"))
	if got, want := fallbackTag(d512), "sha512-"+d512.Encoded()[:64]; got != want {
		t.Errorf("fallbackTag(%s) = %s, want %s", d512, got, want)
	}
}
