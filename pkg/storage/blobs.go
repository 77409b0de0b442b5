package storage

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// blobMediaType is what a blob descriptor reports: the registry does not
// know what a blob is, only the manifests that reference it do.
const blobMediaType = "application/octet-stream"

// StatBlob describes a blob linked in repo. A blob is visible only in the
// repositories that link it, whatever other repositories hold. An old link
// is renewed, so the blob outlives a garbage collection until the caller's
// manifest names it (see linkRefreshAge).
func (s *Store) StatBlob(ctx context.Context, repo string, d digest.Digest) (Descriptor, error) {
	_, fi, err := s.linkedBlob(ctx, repo, d)
	if err != nil {
		return Descriptor{}, err
	}
	if err := s.refreshLink(ctx, layerLinkPath(repo, d), d); err != nil {
		return Descriptor{}, notFound(err, ErrBlobUnknown)
	}
	return Descriptor{Digest: d, Size: fi.Size, MediaType: blobMediaType}, nil
}

// linkedBlob follows repo's link for d to the data file, as registry:2 does
// (the link names the content, which it always equals in practice).
func (s *Store) linkedBlob(ctx context.Context, repo string, d digest.Digest) (string, FileInfo, error) {
	if err := checkRepo(repo); err != nil {
		return "", FileInfo{}, err
	}
	if err := checkDigest(d); err != nil {
		return "", FileInfo{}, err
	}
	target, err := s.readLink(ctx, layerLinkPath(repo, d))
	if err != nil {
		return "", FileInfo{}, notFound(err, ErrBlobUnknown)
	}
	p := blobDataPath(target)
	fi, err := s.d.Stat(ctx, p)
	if err != nil {
		return "", FileInfo{}, notFound(err, ErrBlobUnknown)
	}
	return p, fi, nil
}

// notFound maps a driver "not found" to the given sentinel and leaves other
// errors (I/O failures) as they are, so the HTTP layer can tell 404 from 500.
func notFound(err, sentinel error) error {
	if errors.Is(err, ErrPathNotFound) {
		return fmt.Errorf("%w: %v", sentinel, err)
	}
	return err
}

// OpenBlob opens a blob linked in repo. On the filesystem the reader is an
// *os.File, which lets http.ServeContent use sendfile.
func (s *Store) OpenBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadSeekCloser, Descriptor, error) {
	p, fi, err := s.linkedBlob(ctx, repo, d)
	if err != nil {
		return nil, Descriptor{}, err
	}
	desc := Descriptor{Digest: d, Size: fi.Size, MediaType: blobMediaType}
	if fo, ok := s.d.(FileOpener); ok {
		f, err := fo.OpenFile(ctx, p)
		if err != nil {
			return nil, Descriptor{}, notFound(err, ErrBlobUnknown)
		}
		// Size from the open file: a concurrent GC may have replaced what
		// StatBlob saw, and the descriptor must describe these bytes.
		if fi, err := f.Stat(); err == nil {
			desc.Size = fi.Size()
		}
		return f, desc, nil
	}
	return &driverReader{ctx: ctx, d: s.d, path: p, size: desc.Size}, desc, nil
}

// BlobURL returns a URL from which the client may fetch blob d of repo
// itself (a presigned S3 GET), for the HTTP layer to redirect to. It
// returns "" without checking anything when redirects are off
// (Options.Redirect) or the driver makes no URLs (see URLer): the caller
// then serves the blob with OpenBlob. Otherwise the blob must be linked in
// repo, as for OpenBlob.
func (s *Store) BlobURL(ctx context.Context, repo string, d digest.Digest) (string, error) {
	u, ok := s.d.(URLer)
	if !s.opts.Redirect || !ok {
		return "", nil
	}
	p, _, err := s.linkedBlob(ctx, repo, d)
	if err != nil {
		return "", err
	}
	return u.URLFor(ctx, p)
}

// DeleteBlob unlinks a blob from repo; the data stays for other
// repositories until garbage collection finds it unreferenced.
func (s *Store) DeleteBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := s.writable(); err != nil {
		return err
	}
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := checkDigest(d); err != nil {
		return err
	}
	if _, err := s.d.Stat(ctx, layerLinkPath(repo, d)); err != nil {
		return notFound(err, ErrBlobUnknown)
	}
	return notFound(s.d.Delete(ctx, layerDir(repo, d)), ErrBlobUnknown)
}

// MountBlob links blob d, linked in repository from, into repository to.
// ErrBlobUnknown unless from links it: a mount must not reveal other
// repositories' blobs.
func (s *Store) MountBlob(ctx context.Context, from, to string, d digest.Digest) (Descriptor, error) {
	if err := s.writable(); err != nil {
		return Descriptor{}, err
	}
	if err := checkRepo(to); err != nil {
		return Descriptor{}, err
	}
	desc, err := s.StatBlob(ctx, from, d)
	if err != nil {
		return Descriptor{}, err
	}
	unlock := s.blobLocks.lock(d.String())
	defer unlock()
	// Touching the data tells a concurrent garbage collection, which checks
	// data mtime under the same lock, that the blob has a new user.
	if err := s.touch(ctx, blobDataPath(d)); err != nil {
		return Descriptor{}, notFound(err, ErrBlobUnknown)
	}
	if err := s.writeLink(ctx, layerLinkPath(to, d), d); err != nil {
		return Descriptor{}, err
	}
	return desc, nil
}

// PutBlob stores a blob sent in one piece, verified against d before it
// becomes visible. size is the announced length, -1 when unknown.
func (s *Store) PutBlob(ctx context.Context, repo string, d digest.Digest, r io.Reader, size int64) (Descriptor, error) {
	if err := s.writable(); err != nil {
		return Descriptor{}, err
	}
	if err := checkDigest(d); err != nil {
		return Descriptor{}, err
	}
	if sw, ok := s.d.(StagedWriter); ok {
		return s.putBlobInPlace(ctx, sw, repo, d, r, size)
	}
	u, err := s.NewUpload(ctx, repo)
	if err != nil {
		return Descriptor{}, err
	}
	n, err := u.Append(ctx, 0, r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("%w: received %d bytes, announced %d", ErrSizeInvalid, n, size)
	}
	if err != nil {
		u.Cancel(context.WithoutCancel(ctx))
		return Descriptor{}, err
	}
	return u.Commit(ctx, d)
}

// driverReader is an io.ReadSeekCloser over a driver without FileOpener. It
// opens lazily, so the Seek(0, End) + Seek(0, Start) of http.ServeContent
// costs nothing, and reopens at the new offset after a real seek.
type driverReader struct {
	ctx  context.Context
	d    Driver
	path string
	size int64
	off  int64
	rc   io.ReadCloser
}

func (r *driverReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.rc == nil {
		rc, err := r.d.Reader(r.ctx, r.path, r.off)
		if err != nil {
			return 0, err
		}
		r.rc = rc
	}
	n, err := r.rc.Read(p)
	r.off += int64(n)
	return n, err
}

// minSplice is the least body worth a connection of its own (StreamReader):
// below it, a pooled connection and one copy cost less.
const minSplice = 1 << 20

// SpliceTo copies the next n bytes to dst (storage.Splicer). A driver that
// streams over a connection of its own (StreamReader) opens the stream so;
// a stream that cannot hand its socket over gives ErrCannotSplice, having
// copied nothing, and is then read as usual.
func (r *driverReader) SpliceTo(dst SpliceDst, n int64) (int64, error) {
	if n > r.size-r.off {
		return 0, fmt.Errorf("storage %s: %d bytes asked at %d of %d", r.path, n, r.off, r.size)
	}
	if r.rc == nil {
		open := r.d.Reader
		if sr, ok := r.d.(StreamReader); ok && n >= minSplice {
			open = sr.StreamReader
		}
		rc, err := open(r.ctx, r.path, r.off)
		if err != nil {
			return 0, err
		}
		r.rc = rc
	}
	sp, ok := r.rc.(Splicer)
	if !ok {
		return 0, ErrCannotSplice
	}
	written, err := sp.SpliceTo(dst, n)
	r.off += written
	return written, err
}

func (r *driverReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, errors.New("storage: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("storage: negative position")
	}
	if abs != r.off && r.rc != nil {
		r.rc.Close()
		r.rc = nil
	}
	r.off = abs
	return abs, nil
}

func (r *driverReader) Close() error {
	if r.rc == nil {
		return nil
	}
	err := r.rc.Close()
	r.rc = nil
	return err
}
