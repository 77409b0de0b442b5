package storage

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"path"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/reference"
)

// Manifest is a stored manifest: its descriptor and its exact bytes, which
// must be served unchanged for the digest to hold.
type Manifest struct {
	Descriptor
	Body []byte
}

// resolve turns a tag or digest reference into the digest of a manifest
// revision stored in repo.
func (s *Store) resolve(ctx context.Context, repo, ref string) (digest.Digest, error) {
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	var d digest.Digest
	if reference.IsDigest(ref) {
		d = digest.Digest(ref)
		if err := checkDigest(d); err != nil {
			return "", err
		}
	} else {
		if !reference.ValidTag(ref) {
			return "", ErrTagInvalid
		}
		var err error
		if d, err = s.readLink(ctx, tagCurrentLinkPath(repo, ref)); err != nil {
			return "", notFound(err, ErrManifestUnknown)
		}
	}
	if _, err := s.readLink(ctx, revisionLinkPath(repo, d)); err != nil {
		return "", notFound(err, ErrManifestUnknown)
	}
	return d, nil
}

// GetManifest returns the manifest ref (a tag or a digest) of repo, with the
// media type its body declares (or implies, for bodies without one). An old
// revision link is renewed, so an untagged manifest outlives a garbage
// collection until the caller's index names it (see linkRefreshAge).
func (s *Store) GetManifest(ctx context.Context, repo, ref string) (Manifest, error) {
	d, err := s.resolve(ctx, repo, ref)
	if err != nil {
		return Manifest{}, err
	}
	if err := s.refreshLink(ctx, revisionLinkPath(repo, d), d); err != nil {
		return Manifest{}, notFound(err, ErrManifestUnknown)
	}
	body, err := s.d.GetContent(ctx, blobDataPath(d))
	if err != nil {
		return Manifest{}, notFound(err, ErrManifestUnknown)
	}
	return Manifest{
		Descriptor: Descriptor{Digest: d, Size: int64(len(body)), MediaType: manifest.MediaTypeOf(body)},
		Body:       body,
	}, nil
}

// PutManifest parses body with manifest.Parse(contentType, body), checks
// that every blob it needs is linked in repo and every child of an index is
// a manifest of repo, stores the body as a blob, links the revision, records
// the referrer link when there is a subject and, when ref is a tag, points
// the tag at it. When ref is a digest it must equal the body's digest
// (ErrDigestInvalid). The digest is sha256 unless ref is a sha512 digest.
//
// The order (blobs, body, revision, referrer, tag) means a crash leaves at
// worst an untagged manifest, never a tag or link to something missing.
func (s *Store) PutManifest(ctx context.Context, repo, ref, contentType string, body []byte) (Descriptor, *manifest.Manifest, error) {
	if err := s.writable(); err != nil {
		return Descriptor{}, nil, err
	}
	if err := checkRepo(repo); err != nil {
		return Descriptor{}, nil, err
	}
	tag := ""
	alg := digest.SHA256
	if reference.IsDigest(ref) {
		if err := checkDigest(digest.Digest(ref)); err != nil {
			return Descriptor{}, nil, err
		}
		alg = digest.Digest(ref).Algorithm()
	} else if reference.ValidTag(ref) {
		tag = ref
	} else {
		return Descriptor{}, nil, ErrTagInvalid
	}
	m, err := manifest.Parse(contentType, body)
	if err != nil {
		return Descriptor{}, nil, err
	}
	d := digestOf(alg, body)
	if tag == "" && d.String() != ref {
		return Descriptor{}, nil, fmt.Errorf("%w: body is %s, reference is %s", ErrDigestInvalid, d, ref)
	}
	if err := s.holdReferences(ctx, repo, m); err != nil {
		return Descriptor{}, nil, err
	}
	if err := s.storeManifestBody(ctx, repo, d, body); err != nil {
		return Descriptor{}, nil, err
	}
	if m.Subject != nil {
		if err := s.writeLink(ctx, referrerLinkPath(repo, m.Subject.Digest, d), d); err != nil {
			return Descriptor{}, nil, err
		}
	}
	if tag != "" {
		if err := s.setTag(ctx, repo, tag, d); err != nil {
			return Descriptor{}, nil, err
		}
	}
	return Descriptor{Digest: d, Size: int64(len(body)), MediaType: m.MediaType}, m, nil
}

// TagManifest points tag at the manifest d already stored in repo, whatever
// d's algorithm: a manifest pushed by its sha512 digest with ?tag= keeps
// that digest under the tag. A d that is not a revision of repo is
// ErrManifestUnknown.
func (s *Store) TagManifest(ctx context.Context, repo, tag string, d digest.Digest) error {
	if err := s.writable(); err != nil {
		return err
	}
	if err := checkRepo(repo); err != nil {
		return err
	}
	if !reference.ValidTag(tag) {
		return ErrTagInvalid
	}
	if err := checkDigest(d); err != nil {
		return err
	}
	if _, err := s.d.Stat(ctx, revisionLinkPath(repo, d)); err != nil {
		if errors.Is(err, ErrPathNotFound) {
			return ErrManifestUnknown
		}
		return err
	}
	return s.setTag(ctx, repo, tag, d)
}

// setTag writes the tag's index link before its current link, so a crash
// between the two leaves the tag as it was.
func (s *Store) setTag(ctx context.Context, repo, tag string, d digest.Digest) error {
	if err := s.writeLink(ctx, tagIndexLinkPath(repo, tag, d), d); err != nil {
		return err
	}
	return s.writeLink(ctx, tagCurrentLinkPath(repo, tag), d)
}

func digestOf(alg digest.Algorithm, b []byte) digest.Digest {
	if alg == digest.SHA512 {
		sum := sha512.Sum512(b)
		return digest.NewDigestFromBytes(alg, sum[:])
	}
	sum := sha256.Sum256(b)
	return digest.NewDigestFromBytes(digest.SHA256, sum[:])
}

// holdReferences checks that everything m references exists in repo and
// refreshes the mtime of each link on the way. The refresh is what makes a
// concurrent garbage collection spare an old blob that a new push reuses:
// GC never deletes a blob with a link younger than its grace period, and it
// checks under the same per-blob lock.
func (s *Store) holdReferences(ctx context.Context, repo string, m *manifest.Manifest) error {
	seen := make(map[digest.Digest]bool)
	for _, b := range m.Blobs() {
		if seen[b.Digest] {
			continue
		}
		seen[b.Digest] = true
		if err := s.hold(ctx, b.Digest, layerLinkPath(repo, b.Digest)); err != nil {
			return err
		}
	}
	for _, c := range m.Manifests {
		if seen[c.Digest] {
			continue
		}
		seen[c.Digest] = true
		if err := s.hold(ctx, c.Digest, revisionLinkPath(repo, c.Digest)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) hold(ctx context.Context, d digest.Digest, link string) error {
	unlock := s.blobLocks.lock(d.String())
	defer unlock()
	target, err := s.touchLink(ctx, link)
	if err == nil {
		_, err = s.d.Stat(ctx, blobDataPath(target))
	}
	if errors.Is(err, ErrPathNotFound) {
		return &ManifestBlobUnknownError{Digest: d}
	}
	return err
}

// storeManifestBody writes the body as a blob (unless present) and links the
// revision, both under the blob lock so GC sees a fresh mtime on one of them.
func (s *Store) storeManifestBody(ctx context.Context, repo string, d digest.Digest, body []byte) error {
	unlock := s.blobLocks.lock(d.String())
	defer unlock()
	p := blobDataPath(d)
	fi, err := s.d.Stat(ctx, p)
	switch {
	case err == nil && fi.Size == int64(len(body)):
		if err := s.touch(ctx, p); err != nil {
			return err
		}
	case err == nil || errors.Is(err, ErrPathNotFound):
		if err := s.d.PutContent(ctx, p, body); err != nil {
			return err
		}
	default:
		return err
	}
	return s.writeLink(ctx, revisionLinkPath(repo, d), d)
}

// DeleteManifest removes the revision d from repo together with the tags
// pointing at it, its entries in other tags' histories and its referrer
// entry. Tags go first so no tag is ever left naming a missing revision.
func (s *Store) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	if err := s.writable(); err != nil {
		return err
	}
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := checkDigest(d); err != nil {
		return err
	}
	if _, err := s.readLink(ctx, revisionLinkPath(repo, d)); err != nil {
		return notFound(err, ErrManifestUnknown)
	}
	return s.removeManifest(ctx, repo, d)
}

// removeManifest is DeleteManifest without the checks, shared with GC.
func (s *Store) removeManifest(ctx context.Context, repo string, d digest.Digest) error {
	tags, err := s.d.List(ctx, tagsPath(repo))
	if err != nil && !errors.Is(err, ErrPathNotFound) {
		return err
	}
	for _, dir := range tags {
		tag := path.Base(dir)
		if !reference.ValidTag(tag) {
			continue
		}
		// A tag whose link cannot be read may point at d: deleting d then
		// would leave the tag dangling, so only "no link" lets it pass.
		cur, ok, err := s.readLinkIfPresent(ctx, tagCurrentLinkPath(repo, tag))
		if err != nil {
			return err
		}
		if ok && cur == d {
			if err := ignoreNotFound(s.d.Delete(ctx, dir)); err != nil {
				return err
			}
			continue
		}
		if err := ignoreNotFound(s.d.Delete(ctx, tagIndexDir(repo, tag, d))); err != nil {
			return err
		}
	}
	// The referrers index entry is found through the manifest's subject;
	// an unreadable body (other than a missing one) would leave that entry
	// behind, pointing at a deleted manifest.
	body, err := s.d.GetContent(ctx, blobDataPath(d))
	switch {
	case errors.Is(err, ErrPathNotFound):
	case err != nil:
		return err
	default:
		if refs, err := manifest.References(body); err == nil && checkDigest(refs.Subject) == nil {
			if err := ignoreNotFound(s.d.Delete(ctx, referrerDir(repo, refs.Subject, d))); err != nil {
				return err
			}
		}
	}
	return ignoreNotFound(s.d.Delete(ctx, revisionDir(repo, d)))
}

// DeleteTag removes only the tag; the manifest stays, reachable by digest.
func (s *Store) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := s.writable(); err != nil {
		return err
	}
	if err := checkRepo(repo); err != nil {
		return err
	}
	if !reference.ValidTag(tag) {
		return ErrTagInvalid
	}
	if _, err := s.d.Stat(ctx, tagCurrentLinkPath(repo, tag)); err != nil {
		return notFound(err, ErrManifestUnknown)
	}
	return notFound(s.d.Delete(ctx, tagDir(repo, tag)), ErrManifestUnknown)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, ErrPathNotFound) {
		return nil
	}
	return err
}
