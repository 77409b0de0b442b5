// Package s3 is a storage.Driver over an S3 bucket (AWS, MinIO, Versity
// and other S3-compatible servers), laid out as registry:2's S3 driver lays
// it out: the file "/docker/registry/v2/x" is the object
// "<rootdirectory>/docker/registry/v2/x" and directories are key prefixes,
// so a bucket written by registry:2 is served as it is.
//
// Every piece of state lives in the bucket, never in one process: several
// registries may share a bucket, and an upload started on one continues
// on another (see writer.go for how a file being appended to is kept).
//
// Beyond storage.Driver the driver offers, for callers that look for them
// by type assertion: storage.Toucher (Touch), ConditionalWriter
// (compare-and-swap writes with If-Match / If-None-Match) and URLFor
// (presigned GET URLs for redirects).
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// maxContentSize bounds GetContent, meant for links, manifests and hash
// states, as the filesystem driver does.
const maxContentSize = 32 << 20

// presignExpiry is how long a URLFor link works, as in registry:2.
const presignExpiry = 20 * time.Minute

// Driver is a storage.Driver over one bucket. It is safe for concurrent use.
type Driver struct {
	c       *s3sdk.Client
	cfg     Config
	bucket  string
	root    string // key prefix of "/": "" or "<rootdirectory>/"
	objOpts objectOptions
	// pageSize is the keys per listing page and per DeleteObjects batch:
	// S3's maximum, 1000, except in tests that exercise paging.
	pageSize int32
	// budget bounds the part buffers of all uploads (parts.go).
	budget partBudget
	// probe records whether the server refuses a wrong checksum (verified.go).
	probe checksumProbe
	// noStreams is set once the server refused a presigned GET (stream.go).
	noStreams atomic.Bool
}

var (
	_ storage.Driver    = (*Driver)(nil)
	_ storage.Toucher   = (*Driver)(nil)
	_ ConditionalWriter = (*Driver)(nil)
	_ storage.URLer     = (*Driver)(nil)
)

// New validates cfg and returns a driver. It does not contact the server:
// a registry may start before its storage (Store.Check reports reachability).
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	c, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d := &Driver{c: c, cfg: cfg, bucket: cfg.Bucket, objOpts: cfg.objectOptions(), pageSize: 1000}
	if cfg.RootDirectory != "" {
		d.root = cfg.RootDirectory + "/"
	}
	return d, nil
}

// checkPath enforces storage.Driver's path grammar: absolute, components of
// [A-Za-z0-9._-], no "." or "..". It is the second line of defence; the
// Store builds paths only from validated names.
func checkPath(p string) error {
	if p == "/" {
		return nil
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w: %q is not absolute", storage.ErrInvalidPath, p)
	}
	for _, c := range strings.Split(p[1:], "/") {
		if !validName(c) {
			return fmt.Errorf("%w: %q", storage.ErrInvalidPath, p)
		}
	}
	return nil
}

func validName(c string) bool {
	if c == "" || c == "." || c == ".." {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// key returns the object key of the file p.
func (d *Driver) key(p string) (string, error) {
	if err := checkPath(p); err != nil {
		return "", err
	}
	if p == "/" {
		return "", fmt.Errorf("%w: the root is a directory", storage.ErrInvalidPath)
	}
	return d.root + p[1:], nil
}

// dirPrefix returns the key prefix of everything under the directory p.
func (d *Driver) dirPrefix(p string) (string, error) {
	if err := checkPath(p); err != nil {
		return "", err
	}
	if p == "/" {
		return d.root, nil
	}
	return d.root + p[1:] + "/", nil
}

// copySource names key for CopySource, which must be URL-encoded.
func (d *Driver) copySource(key string) *string {
	parts := strings.Split(key, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return aws.String(url.PathEscape(d.bucket) + "/" + strings.Join(parts, "/"))
}

// GetContent returns the content of a file of at most 32 MiB. A file with
// a writer's upload in progress is completed first (see finalize).
func (d *Driver) GetContent(ctx context.Context, p string) ([]byte, error) {
	b, _, err := d.getContent(ctx, p)
	return b, err
}

// getContent returns a small file's content and its ETag.
func (d *Driver) getContent(ctx context.Context, p string) ([]byte, string, error) {
	key, err := d.key(p)
	if err != nil {
		return nil, "", err
	}
	for range maxFinalizeTries {
		out, err := d.c.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: &d.bucket, Key: &key})
		if err != nil {
			return nil, "", wrap(p, err)
		}
		if isHead(out.Metadata) {
			out.Body.Close()
			if err := d.finalize(ctx, p, key); err != nil {
				return nil, "", err
			}
			continue
		}
		defer out.Body.Close()
		if aws.ToInt64(out.ContentLength) > maxContentSize {
			return nil, "", fmt.Errorf("storage %s: larger than %d bytes", p, maxContentSize)
		}
		b, err := io.ReadAll(io.LimitReader(out.Body, maxContentSize+1))
		if err != nil {
			return nil, "", wrap(p, err)
		}
		if len(b) > maxContentSize {
			return nil, "", fmt.Errorf("storage %s: larger than %d bytes", p, maxContentSize)
		}
		return b, aws.ToString(out.ETag), nil
	}
	return nil, "", errBusy(p)
}

// PutContent replaces p with one PutObject, which S3 makes atomic.
func (d *Driver) PutContent(ctx context.Context, p string, content []byte) error {
	key, err := d.key(p)
	if err != nil {
		return err
	}
	_, err = d.c.PutObject(ctx, d.putInput(key, content))
	return wrap(p, err)
}

func (d *Driver) putInput(key string, content []byte) *s3sdk.PutObjectInput {
	in := &s3sdk.PutObjectInput{
		Bucket:        &d.bucket,
		Key:           aws.String(key),
		Body:          bytes.NewReader(content),
		ContentLength: aws.Int64(int64(len(content))),
		ContentType:   aws.String("application/octet-stream"),
	}
	in.ServerSideEncryption, in.SSEKMSKeyId, in.StorageClass = d.objOpts.sse, d.objOpts.kmsKeyID, d.objOpts.storageClass
	return in
}

// Stat describes p. A directory is a prefix with at least one object under
// it; S3 keeps no time for it, so its ModTime is that of the first key
// below it (for an upload session, its data file).
func (d *Driver) Stat(ctx context.Context, p string) (storage.FileInfo, error) {
	if err := checkPath(p); err != nil {
		return storage.FileInfo{}, err
	}
	if p == "/" {
		// The root exists when the bucket does, even if empty.
		if _, err := d.c.HeadBucket(ctx, &s3sdk.HeadBucketInput{Bucket: &d.bucket}); err != nil {
			return storage.FileInfo{}, fmt.Errorf("storage bucket %s: %w", d.bucket, err)
		}
		return storage.FileInfo{Path: p, IsDir: true}, nil
	}
	key, _ := d.key(p)
	out, err := d.c.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &d.bucket, Key: &key})
	if err == nil {
		fi := storage.FileInfo{Path: p, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}
		if isHead(out.Metadata) {
			h, err := parseHeadMeta(out.Metadata, fi.Size)
			if err != nil {
				return storage.FileInfo{}, fmt.Errorf("storage %s: %w", p, err)
			}
			fi.Size = h.size()
		}
		return fi, nil
	}
	if !isNotFound(err) {
		return storage.FileInfo{}, wrap(p, err)
	}
	prefix, _ := d.dirPrefix(p)
	lo, err := d.c.ListObjectsV2(ctx, &s3sdk.ListObjectsV2Input{Bucket: &d.bucket, Prefix: &prefix, MaxKeys: aws.Int32(1)})
	if err != nil {
		return storage.FileInfo{}, wrap(p, err)
	}
	if len(lo.Contents) == 0 {
		return storage.FileInfo{}, fmt.Errorf("%w: %s", storage.ErrPathNotFound, p)
	}
	return storage.FileInfo{Path: p, IsDir: true, ModTime: aws.ToTime(lo.Contents[0].LastModified)}, nil
}

// Reader streams p from offset with a ranged GET; an offset at or past the
// end gives an empty stream, as reading a file there does.
func (d *Driver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	key, err := d.key(p)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("storage %s: negative offset %d", p, offset)
	}
	in := &s3sdk.GetObjectInput{Bucket: &d.bucket, Key: &key}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	for range maxFinalizeTries {
		out, err := d.c.GetObject(ctx, in)
		if hasCode(err, "InvalidRange") {
			// Past the end of the object, which may be a head (whose
			// body is shorter than its content): only a HEAD tells.
			h, err := d.c.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &d.bucket, Key: &key})
			if err != nil {
				return nil, wrap(p, err)
			}
			if !isHead(h.Metadata) {
				return io.NopCloser(bytes.NewReader(nil)), nil
			}
			if err := d.finalize(ctx, p, key); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, wrap(p, err)
		}
		if !isHead(out.Metadata) {
			return out.Body, nil
		}
		out.Body.Close()
		if err := d.finalize(ctx, p, key); err != nil {
			return nil, err
		}
	}
	return nil, errBusy(p)
}

// URLFor returns a presigned GET URL for p, valid for 20 minutes, for the
// HTTP layer to redirect blob downloads to. It fails unless Config.Redirect
// is set, and the URL works only for clients that can reach the endpoint.
func (d *Driver) URLFor(ctx context.Context, p string) (string, error) {
	if !d.cfg.Redirect {
		return "", ErrRedirectDisabled
	}
	key, err := d.key(p)
	if err != nil {
		return "", err
	}
	req, err := s3sdk.NewPresignClient(d.c).PresignGetObject(ctx,
		&s3sdk.GetObjectInput{Bucket: &d.bucket, Key: &key},
		s3sdk.WithPresignExpires(presignExpiry))
	if err != nil {
		return "", fmt.Errorf("storage %s: presigning: %w", p, err)
	}
	return req.URL, nil
}

// ErrRedirectDisabled is URLFor's answer when Config.Redirect is off; the
// caller serves the content itself.
var ErrRedirectDisabled = errors.New("storage: redirects are disabled")
