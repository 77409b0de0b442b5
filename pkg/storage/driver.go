package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
)

// Driver is the byte-level storage the Store is written against, in the shape
// of distribution's storagedriver so that other backends can be added.
//
// Paths are absolute, slash-separated and made of [A-Za-z0-9._-] components
// ("/docker/registry/v2/blobs/..."); "." and ".." components are refused.
// A missing path is reported with an error wrapping ErrPathNotFound.
type Driver interface {
	// GetContent returns the whole content of a small file.
	GetContent(ctx context.Context, path string) ([]byte, error)
	// PutContent replaces path atomically: readers see the old or the new
	// content, never a mix, and a crash leaves one of the two.
	PutContent(ctx context.Context, path string, content []byte) error
	// Reader streams path from offset.
	Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error)
	// Writer opens path for writing, appending to existing content when
	// append is true (resumed uploads) and truncating it otherwise.
	Writer(ctx context.Context, path string, append bool) (FileWriter, error)
	// Stat describes a file or directory.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// List returns the full paths of the direct children of a directory,
	// sorted.
	List(ctx context.Context, path string) ([]string, error)
	// Move renames src to dst atomically, replacing dst if present.
	Move(ctx context.Context, src, dst string) error
	// Delete removes path and, for a directory, everything under it.
	Delete(ctx context.Context, path string) error
	// Walk calls fn for everything under path in lexical order, depth
	// first. fn returning ErrSkipDir for a directory skips its contents.
	Walk(ctx context.Context, path string, fn WalkFunc) error
}

// FileWriter writes one file. Content becomes durable with Commit; Close
// without Commit keeps what was written (an upload may resume), Discard
// drops it, Cancel removes the file.
type FileWriter interface {
	io.WriteCloser
	// Size is the file's size including content written before opening.
	Size() int64
	// Commit makes everything written durable (fsync) and closes the writer.
	Commit(ctx context.Context) error
	// Discard drops everything written through this writer, leaving the
	// file as it was when opened, and closes the writer: a chunk whose
	// request body broke off is not appended.
	Discard(ctx context.Context) error
	// Cancel removes the file and closes the writer.
	Cancel(ctx context.Context) error
}

// FileInfo describes a path.
type FileInfo struct {
	Path    string
	Size    int64
	ModTime time.Time
	IsDir   bool
}

// WalkFunc is called by Driver.Walk for each path.
type WalkFunc func(fi FileInfo) error

var (
	// ErrPathNotFound is wrapped by driver errors about missing paths.
	ErrPathNotFound = errors.New("path not found")
	// ErrInvalidPath is wrapped by driver errors about malformed paths.
	ErrInvalidPath = errors.New("invalid storage path")
	// ErrSkipDir, returned by a WalkFunc for a directory, skips it.
	ErrSkipDir = errors.New("skip this directory")
)

// FileOpener is implemented by drivers that can hand out an *os.File, so that
// http.ServeContent can use sendfile. Optional; found by type assertion.
type FileOpener interface {
	OpenFile(ctx context.Context, path string) (*os.File, error)
}

// Toucher is implemented by drivers that can refresh a file's modification
// time cheaply. Optional: without it, links are touched by rewriting them and
// blob data is not touched at all.
type Toucher interface {
	Touch(ctx context.Context, path string) error
}

// ConditionalWriter is implemented by drivers that can replace a file only
// if it is still the version the caller read (compare-and-swap), or create
// it only if it does not exist: S3's If-Match and If-None-Match. It is for
// read-modify-write updates by processes that share a bucket and no lock.
// A link is replaced whole by one PutContent, so concurrent tag pushes need
// no compare-and-swap: the last write wins and every answer is a complete
// manifest. Optional; found by type assertion. Versions are opaque strings
// (S3 ETags).
type ConditionalWriter interface {
	// GetContentVersion returns a small file's content and version.
	GetContentVersion(ctx context.Context, path string) (content []byte, version string, err error)
	// PutContentIfMatch replaces path if its version is still version,
	// and returns the new version.
	PutContentIfMatch(ctx context.Context, path string, content []byte, version string) (string, error)
	// PutContentIfNoneMatch creates path if it does not exist, and returns
	// its version.
	PutContentIfNoneMatch(ctx context.Context, path string, content []byte) (string, error)
}

// ErrPreconditionFailed is wrapped by ConditionalWriter writes that lost:
// the file changed since it was read, or exists when it should not.
var ErrPreconditionFailed = errors.New("storage: precondition failed")

// StagedWriter is implemented by drivers that can write a file straight to
// its final path and make it visible only when the writer commits, in one
// step; Discard, Cancel and Close leave the path as it was (S3: a
// multipart upload to the final key, completed or aborted). Optional: with
// it, PutBlob streams a blob whose digest the client announced into place
// and commits only after verifying it, saving the move from the upload
// session (a server-side copy on S3). A crash before the commit leaves
// nothing under the path.
type StagedWriter interface {
	StagedWriter(ctx context.Context, path string) (FileWriter, error)
}

// VerifiedPutter is implemented by drivers whose storage checks content
// against a sha256 named before the upload and stores nothing on mismatch
// (S3's x-amz-checksum-sha256 on one PutObject). Optional: with it, PutBlob
// streams a blob of announced size and sha256 digest to its data path in
// one request. PutVerified returns ErrNotVerifiable, having read nothing of
// r, when it cannot promise that for this digest, size or server; on a
// mismatch it fails with ErrDigestInvalid (or ErrSizeInvalid for a body of
// another length) and the path is as it was.
type VerifiedPutter interface {
	PutVerified(ctx context.Context, path string, r io.Reader, size int64, d digest.Digest) error
}

// ErrNotVerifiable is VerifiedPutter's answer when it cannot verify this
// upload: the caller writes it another way.
var ErrNotVerifiable = errors.New("storage: the driver cannot verify this upload")

// URLer is implemented by drivers that can hand out a URL from which a
// client reads a file directly, such as a presigned S3 GET. Optional; the
// Store uses it for blob redirects only when Options.Redirect is set.
type URLer interface {
	URLFor(ctx context.Context, path string) (string, error)
}

// StreamReader is implemented by drivers that can stream a large file over
// a connection of its own, from which the bytes may be spliced (Splicer)
// into the client's connection without passing through the process.
// Optional: OpenBlob's reader uses it for the body of a GET; Reader stays
// the way for everything else (it reuses pooled connections).
type StreamReader interface {
	StreamReader(ctx context.Context, path string, offset int64) (io.ReadCloser, error)
}

// Splicer is implemented by streams that can hand their bytes to a
// connection's ReadFrom as a bare TCP socket, so that the kernel moves them
// (splice(2)). SpliceTo copies exactly n bytes to dst or fails: fewer
// bytes are io.ErrUnexpectedEOF.
type Splicer interface {
	SpliceTo(dst SpliceDst, n int64) (int64, error)
}

// ErrCannotSplice is SpliceTo's answer, before copying anything, when the
// stream cannot hand its socket over: the caller reads it instead.
var ErrCannotSplice = errors.New("storage: the stream cannot be spliced")

// SpliceDst is where a Splicer copies to: an HTTP response, whose ReadFrom
// reaches its connection's (net/http hands a *net.TCPConn source to it).
type SpliceDst interface {
	io.Writer
	io.ReaderFrom
}
