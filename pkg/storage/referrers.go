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

// MaxReferrerBytes bounds the manifest bodies one Referrers call reads:
// a page ends early rather than read more.
const MaxReferrerBytes = 16 << 20

// Referrers lists repo's manifests whose subject is subject, in digest
// order after `after` ("" for the first page), as descriptors with
// mediaType, artifactType, size, digest and annotations, filtered to
// artifactType when it is not "". A page holds at most n descriptors and
// reads at most MaxReferrerBytes of manifests; next is what to pass as
// after for the following page, "" when this one is the last. Only the
// links of the page are read, so the work per call is bounded however
// many referrers a subject has. The subject itself need not exist:
// referrers may be pushed before what they refer to. descs is never nil,
// so it renders as an empty list.
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
	algs, err := s.d.List(ctx, referrersOfPath(repo, subject))
	if errors.Is(err, ErrPathNotFound) {
		return descs, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	read := int64(0)
	for _, algDir := range algs {
		alg := path.Base(algDir)
		if after != "" && alg < after.Algorithm().String() {
			continue
		}
		entries, err := s.d.List(ctx, algDir)
		if errors.Is(err, ErrPathNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, "", err
		}
		for _, e := range entries {
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg), path.Base(e))
			if checkDigest(d) != nil {
				continue // not a link of ours
			}
			if after != "" && alg == after.Algorithm().String() && d.Encoded() <= after.Encoded() {
				continue
			}
			if len(descs) == n || read >= MaxReferrerBytes {
				return descs, next, nil // more follow; next is the last one read
			}
			desc, ok, err := s.referrerAt(ctx, repo, e+"/link", d)
			if err != nil {
				return nil, "", err
			}
			next = d
			read += desc.Size
			if ok && (artifactType == "" || desc.ArtifactType == artifactType) {
				descs = append(descs, desc)
			}
		}
	}
	return descs, "", nil
}

// referrerAt describes the referrer whose link is link, named d by its
// path; ok is false for a link missing, malformed or not matching its
// path, or a referrer deleted meanwhile.
func (s *Store) referrerAt(ctx context.Context, repo, link string, d digest.Digest) (ocispec.Descriptor, bool, error) {
	target, ok, err := s.readLinkIfPresent(ctx, link)
	if err != nil || !ok || target != d {
		return ocispec.Descriptor{}, false, err
	}
	return s.referrer(ctx, repo, d)
}

// referrer describes one referring manifest; ok is false when it has been
// deleted meanwhile or its body is unreadable, which the listing skips.
func (s *Store) referrer(ctx context.Context, repo string, d digest.Digest) (ocispec.Descriptor, bool, error) {
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
	return ocispec.Descriptor{
		MediaType:    m.MediaType,
		ArtifactType: m.ArtifactType,
		Digest:       d,
		Size:         int64(len(body)),
		Annotations:  m.Annotations,
	}, true, nil
}
