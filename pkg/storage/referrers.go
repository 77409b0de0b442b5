package storage

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/reference"
)

// MaxReferrerBytes bounds the manifest bodies one Referrers call reads:
// a page ends early rather than read more.
const MaxReferrerBytes = 16 << 20

// Referrers lists repo's manifests whose subject is subject, in digest
// order after `after` ("" for the first page), as descriptors with
// mediaType, artifactType, size, digest and annotations, filtered to
// artifactType when it is not "". A page holds at most n descriptors and
// reads at most MaxReferrerBytes of manifests; next is what to pass as
// after for the following page, "" when this one is the last. Only the
// manifests of the page are read (the candidates are directory names), so
// the work per call is bounded however many referrers a subject has. The
// subject itself need not exist: referrers may be pushed before what they
// refer to. descs is never nil, so it renders as an empty list.
//
// Besides the manifests pushed here with a subject, it lists those named by
// the subject's referrers tag schema index (see fallbackTag) that exist in
// repo and do have that subject: a registry without the referrers API
// (registry:2, registry:3) leaves its referrers only there, and a client
// that gets our answer never looks at that tag, so without them an
// artifact attached through registry:3 would vanish once we serve its store.
func (s *Store) Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string, after digest.Digest, n int) (descs []ocispec.Descriptor, next digest.Digest, err error) {
	descs = []ocispec.Descriptor{}
	if err := checkRepo(repo); err != nil {
		return nil, "", err
	}
	if err := checkDigest(subject); err != nil {
		return nil, "", err
	}
	if after != "" {
		if err := checkDigest(after); err != nil {
			return nil, "", err
		}
	}
	if n <= 0 {
		return descs, "", nil
	}
	candidates, err := s.referrerCandidates(ctx, repo, subject)
	if err != nil {
		return nil, "", err
	}
	read := int64(0)
	for _, d := range candidates {
		if after != "" && digestOrder(d, after) <= 0 {
			continue
		}
		if len(descs) == n || read >= MaxReferrerBytes {
			return descs, next, nil // more follow; next is the last one read
		}
		desc, ok, err := s.referrer(ctx, repo, subject, d)
		if err != nil {
			return nil, "", err
		}
		next = d
		read += desc.Size
		if ok && (artifactType == "" || desc.ArtifactType == artifactType) {
			descs = append(descs, desc)
		}
	}
	return descs, "", nil
}

// referrerCandidates returns, once each and in digest order, the digests
// that may refer to subject in repo: the names of our referrer links and
// the children of the subject's referrers tag schema index. Only names are
// listed; referrer checks each one.
func (s *Store) referrerCandidates(ctx context.Context, repo string, subject digest.Digest) ([]digest.Digest, error) {
	var out []digest.Digest
	algs, err := s.d.List(ctx, referrersOfPath(repo, subject))
	if err != nil && !errors.Is(err, ErrPathNotFound) {
		return nil, err
	}
	for _, algDir := range algs {
		entries, err := s.d.List(ctx, algDir)
		if errors.Is(err, ErrPathNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			d := digest.NewDigestFromEncoded(digest.Algorithm(path.Base(algDir)), path.Base(e))
			if checkDigest(d) == nil { // else not a link of ours
				out = append(out, d)
			}
		}
	}
	fallback, err := s.fallbackReferrers(ctx, repo, subject)
	if err != nil {
		return nil, err
	}
	for _, d := range fallback {
		if checkDigest(d) == nil {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, digestOrder)
	return slices.Compact(out), nil
}

// digestOrder orders digests by algorithm, then encoded value: the order
// of referrer pages.
func digestOrder(a, b digest.Digest) int {
	if c := strings.Compare(a.Algorithm().String(), b.Algorithm().String()); c != 0 {
		return c
	}
	return strings.Compare(a.Encoded(), b.Encoded())
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
