package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/reference"
)

// This file holds what a pull-through cache needs beyond pushes: storing a
// manifest fetched from an upstream before its blobs (a cache fills in the
// order clients pull, manifest first), and the time a tag was last
// confirmed upstream, which is the mtime of its current link.

// CacheManifest stores body, whose digest must be d, as a revision of repo
// and, when tag is not "", points tag at it. Unlike PutManifest it does not
// require the blobs and child manifests to be present: they are fetched
// when a client asks for them. The body must still parse as contentType.
func (s *Store) CacheManifest(ctx context.Context, repo, tag, contentType string, d digest.Digest, body []byte) (Descriptor, error) {
	if err := s.writable(); err != nil {
		return Descriptor{}, err
	}
	if err := checkRepo(repo); err != nil {
		return Descriptor{}, err
	}
	if err := checkDigest(d); err != nil {
		return Descriptor{}, err
	}
	if tag != "" && !reference.ValidTag(tag) {
		return Descriptor{}, ErrTagInvalid
	}
	if got := digestOf(d.Algorithm(), body); got != d {
		return Descriptor{}, fmt.Errorf("%w: body is %s, expected %s", ErrDigestInvalid, got, d)
	}
	m, err := manifest.Parse(contentType, body)
	if err != nil {
		return Descriptor{}, err
	}
	if err := s.storeManifestBody(ctx, repo, d, body); err != nil {
		return Descriptor{}, err
	}
	if m.Subject != nil {
		if err := s.writeLink(ctx, referrerLinkPath(repo, m.Subject.Digest, d), d); err != nil {
			return Descriptor{}, err
		}
	}
	if tag != "" {
		if err := s.setTag(ctx, repo, tag, d); err != nil {
			return Descriptor{}, err
		}
	}
	return Descriptor{Digest: d, Size: int64(len(body)), MediaType: m.MediaType}, nil
}

// TagTime returns the manifest tag points at in repo and when the tag was
// last written or confirmed (ConfirmTag). ErrManifestUnknown when absent.
func (s *Store) TagTime(ctx context.Context, repo, tag string) (digest.Digest, time.Time, error) {
	if err := checkRepo(repo); err != nil {
		return "", time.Time{}, err
	}
	if !reference.ValidTag(tag) {
		return "", time.Time{}, ErrTagInvalid
	}
	p := tagCurrentLinkPath(repo, tag)
	d, err := s.readLink(ctx, p)
	if err != nil {
		return "", time.Time{}, notFound(err, ErrManifestUnknown)
	}
	fi, err := s.d.Stat(ctx, p)
	if err != nil {
		return "", time.Time{}, notFound(err, ErrManifestUnknown)
	}
	return d, fi.ModTime, nil
}

// ConfirmTag records that tag still points where it did: TagTime reports
// now from here on.
func (s *Store) ConfirmTag(ctx context.Context, repo, tag string) error {
	if err := s.writable(); err != nil {
		return err
	}
	if err := checkRepo(repo); err != nil {
		return err
	}
	if !reference.ValidTag(tag) {
		return ErrTagInvalid
	}
	_, err := s.touchLink(ctx, tagCurrentLinkPath(repo, tag))
	return notFound(err, ErrManifestUnknown)
}
