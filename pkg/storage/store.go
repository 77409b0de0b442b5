// Package storage is the registry's domain: blobs, upload sessions,
// manifests, tags, referrers and garbage collection, kept in registry:2's
// on-disk layout (see paths.go) so an existing /var/lib/registry is served as
// it is and registry:2 can read what this package writes.
//
// Store holds the registry logic and talks to bytes only through Driver, so
// another backend (S3, say) is an addition. It knows nothing of HTTP: it
// returns the sentinel errors below, which the HTTP layer maps to OCI error
// codes.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"
)

// Sentinel errors; test with errors.Is.
var (
	ErrBlobUnknown       = errors.New("blob unknown")
	ErrManifestUnknown   = errors.New("manifest unknown")
	ErrNameUnknown       = errors.New("repository name not known")
	ErrUploadUnknown     = errors.New("upload unknown")
	ErrDigestInvalid     = errors.New("digest did not match content")
	ErrSizeInvalid       = errors.New("size invalid")
	ErrRangeInvalid      = errors.New("range not satisfiable") // chunk offset != current size
	ErrReadOnly          = errors.New("registry is read-only")
	ErrUnsupportedDigest = errors.New("unsupported digest algorithm")
	// ErrNameInvalid reports a repository name outside the OCI grammar; the
	// HTTP layer checks names first, so seeing it means a caller forgot.
	ErrNameInvalid = errors.New("invalid repository name")
	// ErrTagInvalid reports a tag outside the OCI grammar.
	ErrTagInvalid = errors.New("invalid tag")
	// ErrManifestBlobUnknown is what ManifestBlobUnknownError matches.
	ErrManifestBlobUnknown = errors.New("manifest references unknown blob")
)

// ManifestBlobUnknownError reports a manifest that references a blob or child
// manifest absent from the repository.
type ManifestBlobUnknownError struct {
	Digest digest.Digest
}

// Error names the missing digest.
func (e *ManifestBlobUnknownError) Error() string {
	return fmt.Sprintf("%v: %s", ErrManifestBlobUnknown, e.Digest)
}

// Is makes errors.Is(err, ErrManifestBlobUnknown) hold.
func (e *ManifestBlobUnknownError) Is(target error) bool { return target == ErrManifestBlobUnknown }

// DefaultUploadPurgeAge is how old an upload session gets before PurgeUploads
// removes it, as in registry:2.
const DefaultUploadPurgeAge = 168 * time.Hour

// Options configure a Store.
type Options struct {
	// ReadOnly refuses every write that comes from clients. Maintenance
	// (GarbageCollect, PurgeUploads) still runs: registry:2's documented way
	// to collect garbage is to switch to read-only and run it.
	ReadOnly bool
	// UploadPurgeAge is the default age for PurgeUploads; 0 means 168h.
	UploadPurgeAge time.Duration
	// Logger receives warnings about damaged content; nil discards them.
	Logger *slog.Logger
	// Redirect lets BlobURL hand out the driver's URLs (see URLer), so
	// clients download blobs from the storage instead of through the
	// registry.
	Redirect bool
}

// Store is the registry's storage. It is safe for concurrent use by many
// goroutines and by several processes sharing one root: every write is an
// atomic replace of a whole file, and the state of upload sessions lives in
// the driver, never only in memory.
type Store struct {
	d    Driver
	opts Options
	log  *slog.Logger
	// In-process serialisation; see keyedMutex. Lock order: an upload
	// lock may be held while taking a blob lock, never the reverse, and
	// never two blob locks at once.
	uploadLocks keyedMutex
	blobLocks   keyedMutex
}

// New returns a Store over d.
func New(d Driver, opts Options) *Store {
	if opts.UploadPurgeAge <= 0 {
		opts.UploadPurgeAge = DefaultUploadPurgeAge
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{d: d, opts: opts, log: log}
}

// NewFilesystem returns a Store over the directory root, creating it if
// missing.
func NewFilesystem(root string, opts Options) (*Store, error) {
	d, err := NewFilesystemDriver(root)
	if err != nil {
		return nil, err
	}
	return New(d, opts), nil
}

// Driver returns the driver the store writes through.
func (s *Store) Driver() Driver { return s.d }

// Descriptor identifies stored content.
type Descriptor struct {
	Digest    digest.Digest
	Size      int64
	MediaType string
}

// Check reports whether the storage is reachable and writable by writing and
// removing a probe file. A read-only store, which may sit on a read-only
// volume, is only checked for reachability.
func (s *Store) Check(ctx context.Context) error {
	if s.opts.ReadOnly {
		if _, err := s.d.Stat(ctx, "/"); err != nil {
			return fmt.Errorf("storage unreachable: %w", err)
		}
		return nil
	}
	p := healthProbePath(newUUID())
	if err := s.d.PutContent(ctx, p, []byte("ok")); err != nil {
		return fmt.Errorf("storage health probe: %w", err)
	}
	if err := s.d.Delete(ctx, p); err != nil {
		return fmt.Errorf("storage health probe cleanup: %w", err)
	}
	return nil
}

func (s *Store) writable() error {
	if s.opts.ReadOnly {
		return ErrReadOnly
	}
	return nil
}
