package storage

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/reference"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

func TestManifestsOfEveryFormatRoundTripByTagAndDigest(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	child := pushImage(t, s, "app", "", "child")
	cfg := pushBlob(t, s, "app", []byte("config"))
	layer := pushBlob(t, s, "app", []byte("layer"))
	tests := []struct {
		name, mediaType string
		body            []byte
	}{
		{"docker schema2", manifest.MediaTypeDockerSchema2, imageBody(manifest.MediaTypeDockerSchema2, cfg, []Descriptor{layer}, nil, "")},
		{"oci manifest", manifest.MediaTypeOCIManifest, imageBody(manifest.MediaTypeOCIManifest, cfg, []Descriptor{layer}, nil, "")},
		{"docker list", manifest.MediaTypeDockerList, indexBody(manifest.MediaTypeDockerList, child.Manifest)},
		{"oci index", manifest.MediaTypeOCIIndex, indexBody(manifest.MediaTypeOCIIndex, child.Manifest)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := "t-" + tt.mediaType[len(tt.mediaType)-12:len(tt.mediaType)-5]
			d, m, err := s.PutManifest(ctx, "app", tag, tt.mediaType, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			want := Descriptor{Digest: sha256Of(tt.body), Size: int64(len(tt.body)), MediaType: tt.mediaType}
			if d != want || m.MediaType != tt.mediaType {
				t.Fatalf("PutManifest = %+v (%s), want %+v", d, m.MediaType, want)
			}
			for _, ref := range []string{tag, want.Digest.String()} {
				got, err := s.GetManifest(ctx, "app", ref)
				if err != nil {
					t.Fatalf("GetManifest(%s): %v", ref, err)
				}
				if got.Descriptor != want || !bytes.Equal(got.Body, tt.body) {
					t.Errorf("GetManifest(%s) = %+v", ref, got.Descriptor)
				}
			}
		})
	}
}

func TestManifestPutBySHA512DigestStoresASHA512Revision(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	img := pushImage(t, s, "app", "", "x")
	body := imageBody(manifest.MediaTypeOCIManifest, img.Blobs[0], img.Blobs[1:], nil, "")
	want := sha512Of(body)
	d, _, err := s.PutManifest(ctx, "app", want.String(), manifest.MediaTypeOCIManifest, body)
	if err != nil || d.Digest != want {
		t.Fatalf("PutManifest = %+v, %v", d, err)
	}
	if !exists(v2(root, "repositories", "app", "_manifests", "revisions", "sha512", want.Encoded(), "link")) {
		t.Error("no sha512 revision link")
	}
	if got, err := s.GetManifest(ctx, "app", want.String()); err != nil || !bytes.Equal(got.Body, body) {
		t.Errorf("GetManifest by sha512: %v", err)
	}
}

func TestManifestPutIsRefusedForMissingOrMismatchedContent(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	img := pushImage(t, s, "app", "", "base")
	elsewhere := pushBlob(t, s, "other", []byte("only in other"))
	missing := Descriptor{Digest: sha256Of([]byte("never pushed")), Size: 12}
	good := imageBody(manifest.MediaTypeOCIManifest, img.Blobs[0], img.Blobs[1:], nil, "application/vnd.test.never-stored")
	otherIndex := pushImage(t, s, "other", "", "child elsewhere")

	tests := []struct {
		name, ref, contentType string
		body                   []byte
		want                   error
		missing                digest.Digest
	}{
		{"missing layer", "v1", manifest.MediaTypeOCIManifest, imageBody(manifest.MediaTypeOCIManifest, img.Blobs[0], []Descriptor{missing}, nil, ""), ErrManifestBlobUnknown, missing.Digest},
		{"missing config", "v1", manifest.MediaTypeOCIManifest, imageBody(manifest.MediaTypeOCIManifest, missing, img.Blobs[1:], nil, ""), ErrManifestBlobUnknown, missing.Digest},
		{"layer linked only in another repository", "v1", manifest.MediaTypeDockerSchema2, imageBody(manifest.MediaTypeDockerSchema2, img.Blobs[0], []Descriptor{elsewhere}, nil, ""), ErrManifestBlobUnknown, elsewhere.Digest},
		{"index with missing child", "v1", manifest.MediaTypeOCIIndex, indexBody(manifest.MediaTypeOCIIndex, img.Manifest, missing), ErrManifestBlobUnknown, missing.Digest},
		{"index with a child of another repository", "v1", manifest.MediaTypeOCIIndex, indexBody(manifest.MediaTypeOCIIndex, otherIndex.Manifest), ErrManifestBlobUnknown, otherIndex.Manifest.Digest},
		{"digest reference not matching the body", sha256Of([]byte("else")).String(), manifest.MediaTypeOCIManifest, good, ErrDigestInvalid, ""},
		{"sha512 reference not matching", sha512Of([]byte("else")).String(), manifest.MediaTypeOCIManifest, good, ErrDigestInvalid, ""},
		{"invalid manifest", "v1", manifest.MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"manifests":[]}`), manifest.ErrInvalid, ""},
		{"schema1", "v1", manifest.MediaTypeDockerSchema1Sig, []byte(`{"schemaVersion":1}`), manifest.ErrSchema1, ""},
		{"invalid tag", "-bad", manifest.MediaTypeOCIManifest, good, ErrTagInvalid, ""},
		{"unsupported digest reference", "sha384:" + string(bytes.Repeat([]byte("a"), 96)), manifest.MediaTypeOCIManifest, good, ErrUnsupportedDigest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.PutManifest(ctx, "app", tt.ref, tt.contentType, tt.body)
			if !errors.Is(err, tt.want) {
				t.Fatalf("PutManifest = %v, want %v", err, tt.want)
			}
			if tt.missing != "" {
				var mbu *ManifestBlobUnknownError
				if !errors.As(err, &mbu) || mbu.Digest != tt.missing {
					t.Errorf("error %v does not name %s", err, tt.missing)
				}
			}
			if _, err := s.GetManifest(ctx, "app", sha256Of(tt.body).String()); !errors.Is(err, ErrManifestUnknown) {
				t.Errorf("refused manifest is readable: %v", err)
			}
			if _, err := s.GetManifest(ctx, "app", "v1"); !errors.Is(err, ErrManifestUnknown) {
				t.Errorf("refused manifest got tagged: %v", err)
			}
		})
	}
}

func TestGetManifestOfUnknownReferences(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	img := pushImage(t, s, "app", "v1", "x")
	tests := []struct {
		name, repo, ref string
		want            error
	}{
		{"unknown tag", "app", "v2", ErrManifestUnknown},
		{"unknown digest", "app", sha256Of([]byte("nope")).String(), ErrManifestUnknown},
		{"digest of another repository", "other", img.Manifest.Digest.String(), ErrManifestUnknown},
		{"tag of another repository", "other", "v1", ErrManifestUnknown},
		{"a layer is not a manifest", "app", img.Blobs[1].Digest.String(), ErrManifestUnknown},
		{"malformed digest", "app", "sha256:totallywrong", reference.ErrDigestInvalid},
		{"invalid tag", "app", ".x", ErrTagInvalid},
		{"invalid name", "App", "v1", ErrNameInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.GetManifest(ctx, tt.repo, tt.ref); !errors.Is(err, tt.want) {
				t.Fatalf("GetManifest = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDeleteTagRemovesOnlyThatTag(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	img := pushImage(t, s, "app", "v1", "x")
	putManifest(t, s, "app", "latest", manifest.MediaTypeOCIManifest, imageBody(manifest.MediaTypeOCIManifest, img.Blobs[0], img.Blobs[1:], nil, ""))

	if err := s.DeleteTag(ctx, "app", "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetManifest(ctx, "app", "v1"); !errors.Is(err, ErrManifestUnknown) {
		t.Errorf("deleted tag still resolves: %v", err)
	}
	for _, ref := range []string{"latest", img.Manifest.Digest.String()} {
		if _, err := s.GetManifest(ctx, "app", ref); err != nil {
			t.Errorf("DeleteTag removed %s too: %v", ref, err)
		}
	}
	if err := s.DeleteTag(ctx, "app", "v1"); !errors.Is(err, ErrManifestUnknown) {
		t.Errorf("deleting a missing tag = %v, want ErrManifestUnknown", err)
	}
}

func TestDeleteManifestRemovesRevisionTagsAndReferrerEntry(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	subject, sig := pushSigned(t, s, "app", "v1", "sig", "also-sig")

	if err := s.DeleteManifest(ctx, "app", sig.Digest); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"sig", "also-sig", sig.Digest.String()} {
		if _, err := s.GetManifest(ctx, "app", ref); !errors.Is(err, ErrManifestUnknown) {
			t.Errorf("%s resolves after delete: %v", ref, err)
		}
	}
	refs, _, err := s.Referrers(ctx, "app", subject.Manifest.Digest, "", "", 1000)
	if err != nil || len(refs) != 0 {
		t.Errorf("Referrers after delete = %v, %v", refs, err)
	}
	if exists(v2(root, "repositories", "app", "_manifests", "referrers", "sha256", subject.Manifest.Digest.Encoded(), "sha256", sig.Digest.Encoded())) {
		t.Error("referrer entry left on disk")
	}
	if err := readable(t, s, "app", "v1"); err != nil {
		t.Errorf("subject damaged: %v", err)
	}
	if err := s.DeleteManifest(ctx, "app", sig.Digest); !errors.Is(err, ErrManifestUnknown) {
		t.Errorf("second delete = %v, want ErrManifestUnknown", err)
	}
}

func TestTagCanMoveAndRemembersItsHistory(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	a := pushImage(t, s, "app", "latest", "a")
	b := pushImage(t, s, "app", "latest", "b")
	got, err := s.GetManifest(ctx, "app", "latest")
	if err != nil || got.Digest != b.Manifest.Digest {
		t.Fatalf("latest = %s, %v; want %s", got.Digest, err, b.Manifest.Digest)
	}
	for _, d := range []digest.Digest{a.Manifest.Digest, b.Manifest.Digest} {
		if !exists(v2(root, "repositories", "app", "_manifests", "tags", "latest", "index", "sha256", d.Encoded(), "link")) {
			t.Errorf("tag index lacks %s", d)
		}
	}
}

func TestTagManifestKeepsTheDigestAlgorithmPushed(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	cfg := pushBlob(t, s, "app", []byte(`{"seed":"512"}`))
	body := imageBody(manifest.MediaTypeOCIManifest, cfg, nil, nil, "")
	d512 := digest.SHA512.FromBytes(body)
	if _, _, err := s.PutManifest(ctx, "app", d512.String(), manifest.MediaTypeOCIManifest, body); err != nil {
		t.Fatal(err)
	}
	if err := s.TagManifest(ctx, "app", "v512", d512); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetManifest(ctx, "app", "v512")
	if err != nil || got.Digest != d512 {
		t.Fatalf("tag resolves to %v, %v; want %s", got.Digest, err, d512)
	}
	for name, tc := range map[string]struct {
		repo, tag string
		d         digest.Digest
		want      error
	}{
		"digest not stored in the repository": {"app", "x", digest.SHA256.FromString("nope"), ErrManifestUnknown},
		"invalid tag":                         {"app", "-bad", d512, ErrTagInvalid},
	} {
		if err := s.TagManifest(ctx, tc.repo, tc.tag, tc.d); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

// TestDeleteManifestStopsOnAnUnreadableLinkOrBody: a manifest delete that
// cannot read a tag's link (it may name this manifest) or the manifest's
// body (its subject says which referrers entry to remove) fails with that
// error and leaves the revision, so no tag or referrers entry is left
// naming a deleted manifest and the delete can be retried.
func TestDeleteManifestStopsOnAnUnreadableLinkOrBody(t *testing.T) {
	for _, tc := range []struct{ name, match string }{
		{"tag link", "/_manifests/tags/sig/current/link"},
		{"manifest body", "/blobs/sha256/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, root := newStore(t)
			ctx := context.Background()
			subject, sig := pushSigned(t, s, "app", "v1", "sig")
			fsd, err := NewFilesystemDriver(root)
			if err != nil {
				t.Fatal(err)
			}
			fd := &faultDriver{Driver: fsd, ops: map[string]bool{"GetContent": true}, match: tc.match, every: 1}
			if err := New(fd, Options{}).DeleteManifest(ctx, "app", sig.Digest); !errors.Is(err, errInjected) {
				t.Fatalf("DeleteManifest with %s unreadable = %v (%d faults); want the injected error", tc.name, err, fd.faults)
			}
			if _, err := s.GetManifest(ctx, "app", sig.Digest.String()); err != nil {
				t.Fatalf("the revision is gone after a failed delete: %v", err)
			}
			refs, _, err := s.Referrers(ctx, "app", subject.Manifest.Digest, "", "", 1000)
			if err != nil || len(refs) != 1 {
				t.Fatalf("Referrers after a failed delete = %v, %v; want the signature", refs, err)
			}
			// Retried with storage healthy, the delete completes.
			if err := s.DeleteManifest(ctx, "app", sig.Digest); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetManifest(ctx, "app", "sig"); !errors.Is(err, ErrManifestUnknown) {
				t.Fatalf("sig after the retried delete: %v", err)
			}
		})
	}
}

// pushSigned pushes an image tagged tag and a signature manifest whose
// subject it is, tagged with each of sigTags (by digest only when none).
func pushSigned(t *testing.T, s *Store, repo, tag string, sigTags ...string) (image, Descriptor) {
	t.Helper()
	subject := pushImage(t, s, repo, tag, "subject")
	cfg := pushBlob(t, s, repo, []byte("{}"))
	body := imageBody(manifest.MediaTypeOCIManifest, cfg, nil, &subject.Manifest, "application/vnd.example.sig")
	if len(sigTags) == 0 {
		sigTags = []string{""}
	}
	var sig Descriptor
	for _, st := range sigTags {
		sig = putManifest(t, s, repo, st, manifest.MediaTypeOCIManifest, body)
	}
	return subject, sig
}
