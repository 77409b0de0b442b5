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
func (s *Store) Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	out := []ocispec.Descriptor{}
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	if err := checkDigest(subject); err != nil {
		return nil, err
	}
	err := s.walkLinks(ctx, referrersOfPath(repo, subject), 2, func(link string) error {
		d, err := s.readLink(ctx, link)
		if err != nil || path.Base(path.Dir(link)) != d.Encoded() {
			return nil
		}
		desc, ok, err := s.referrer(ctx, repo, d)
		if err != nil {
			return err
		}
		if ok && (artifactType == "" || desc.ArtifactType == artifactType) {
			out = append(out, desc)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrPathNotFound) {
		return nil, err
	}
	return out, nil
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
