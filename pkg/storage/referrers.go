package storage

import (
	"context"
	"errors"
	"path"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/reference"
)

// Referrers lists the manifests of repo whose subject is subject, as
// descriptors with mediaType, artifactType, size, digest and annotations,
// filtered to artifactType when it is not "". The subject itself need not
// exist: referrers may be pushed before what they refer to. The result is
// never nil, so it renders as an empty list.
//
// Besides the manifests pushed here with a subject, it lists those named by
// the subject's referrers tag schema index (see fallbackTag) that exist in
// repo and do have that subject: a registry without the referrers API
// (registry:2, registry:3) leaves its referrers only there, and a client
// that gets our answer never looks at that tag, so without them an
// artifact attached through registry:3 would vanish once we serve its store.
func (s *Store) Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	out := []ocispec.Descriptor{}
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	if err := checkDigest(subject); err != nil {
		return nil, err
	}
	seen := map[digest.Digest]bool{}
	add := func(d digest.Digest) error {
		if seen[d] {
			return nil
		}
		seen[d] = true
		desc, ok, err := s.referrer(ctx, repo, subject, d)
		if err != nil {
			return err
		}
		if ok && (artifactType == "" || desc.ArtifactType == artifactType) {
			out = append(out, desc)
		}
		return nil
	}
	err := s.walkLinks(ctx, referrersOfPath(repo, subject), 2, func(link string) error {
		d, err := s.readLink(ctx, link)
		if err != nil || path.Base(path.Dir(link)) != d.Encoded() {
			return nil
		}
		return add(d)
	})
	if err != nil && !errors.Is(err, ErrPathNotFound) {
		return nil, err
	}
	fallback, err := s.fallbackReferrers(ctx, repo, subject)
	if err != nil {
		return nil, err
	}
	for _, d := range fallback {
		if err := add(d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fallbackTag is the referrers tag schema's tag for subject, <alg>-<ref>
// with <ref> cut to 64 characters, under which clients keep an index of a
// subject's referrers on registries without the referrers API.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#referrers-tag-schema
func fallbackTag(subject digest.Digest) string {
	ref := subject.Encoded()
	if len(ref) > 64 {
		ref = ref[:64]
	}
	return subject.Algorithm().String() + "-" + ref
}

// fallbackReferrers lists the children of the index tagged
// fallbackTag(subject) in repo: candidates only, since anyone may push
// anything under that tag (and a cut <ref> may name another subject), so
// referrer checks each one's subject. No such tag, or a tag on something
// other than an index, means none.
func (s *Store) fallbackReferrers(ctx context.Context, repo string, subject digest.Digest) ([]digest.Digest, error) {
	tag := fallbackTag(subject)
	if !reference.ValidTag(tag) {
		return nil, nil
	}
	// resolve and GetContent rather than GetManifest: a listing must not
	// renew links (it would on a read-only store).
	d, err := s.resolve(ctx, repo, tag)
	if errors.Is(err, ErrManifestUnknown) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	body, err := s.d.GetContent(ctx, blobDataPath(d))
	if err != nil {
		return nil, ignoreNotFound(err)
	}
	if !manifest.IsIndex(manifest.MediaTypeOf(body)) {
		return nil, nil
	}
	index, err := manifest.Parse("", body)
	if err != nil {
		s.log.Warn("storage: unreadable referrers tag index", "repo", repo, "tag", tag, "err", err)
		return nil, nil
	}
	var out []digest.Digest
	for _, child := range index.Manifests {
		out = append(out, child.Digest)
	}
	return out, nil
}

// referrer describes one manifest of repo referring to subject; ok is false
// when it has been deleted meanwhile, its body is unreadable or its subject
// is another, which the listing skips.
func (s *Store) referrer(ctx context.Context, repo string, subject, d digest.Digest) (ocispec.Descriptor, bool, error) {
	if _, err := reference.ParseDigest(d.String()); err != nil {
		return ocispec.Descriptor{}, false, nil
	}
	if _, err := s.readLink(ctx, revisionLinkPath(repo, d)); err != nil {
		return ocispec.Descriptor{}, false, ignoreNotFound(err)
	}
	body, err := s.d.GetContent(ctx, blobDataPath(d))
	if err != nil {
		return ocispec.Descriptor{}, false, ignoreNotFound(err)
	}
	m, err := manifest.Parse("", body)
	if err != nil {
		s.log.Warn("storage: unreadable referrer", "repo", repo, "digest", d, "err", err)
		return ocispec.Descriptor{}, false, nil
	}
	if m.Subject == nil || m.Subject.Digest != subject {
		return ocispec.Descriptor{}, false, nil
	}
	return ocispec.Descriptor{
		MediaType:    m.MediaType,
		ArtifactType: m.ArtifactType,
		Digest:       d,
		Size:         int64(len(body)),
		Annotations:  m.Annotations,
	}, true, nil
}
