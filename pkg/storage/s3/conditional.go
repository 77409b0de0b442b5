package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// ConditionalWriter is storage.ConditionalWriter: replace a file only if
// it is still the version the caller read (compare-and-swap), or create it
// only if it does not exist. With it, a read-modify-write of a tag or link
// cannot silently lose a concurrent update from another process: the loser
// gets ErrPreconditionFailed and re-reads. Versions are S3 ETags here.
type ConditionalWriter = storage.ConditionalWriter

// ErrPreconditionFailed is wrapped by conditional writes that lost: the
// file changed since it was read, or exists when it should not. It is
// storage.ErrPreconditionFailed, which the Store looks for.
var ErrPreconditionFailed = storage.ErrPreconditionFailed

// GetContentVersion returns p's content and ETag.
func (d *Driver) GetContentVersion(ctx context.Context, p string) ([]byte, string, error) {
	return d.getContent(ctx, p)
}

// PutContentIfMatch replaces p with If-Match: version. A missing p fails
// too (S3 answers 404 or 412; both are ErrPreconditionFailed here).
func (d *Driver) PutContentIfMatch(ctx context.Context, p string, content []byte, version string) (string, error) {
	if version == "" {
		return "", fmt.Errorf("storage %s: %w: empty version", p, ErrPreconditionFailed)
	}
	return d.putConditional(ctx, p, content, version, "")
}

// PutContentIfNoneMatch creates p with If-None-Match: *.
func (d *Driver) PutContentIfNoneMatch(ctx context.Context, p string, content []byte) (string, error) {
	return d.putConditional(ctx, p, content, "", "*")
}

func (d *Driver) putConditional(ctx context.Context, p string, content []byte, ifMatch, ifNoneMatch string) (string, error) {
	key, err := d.key(p)
	if err != nil {
		return "", err
	}
	in := d.putInput(key, content)
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	if ifNoneMatch != "" {
		in.IfNoneMatch = aws.String(ifNoneMatch)
	}
	out, err := d.c.PutObject(ctx, in)
	if isPreconditionFailed(err) || (ifMatch != "" && isNotFound(err)) {
		return "", fmt.Errorf("storage %s: %w", p, ErrPreconditionFailed)
	}
	if err != nil {
		return "", wrap(p, err)
	}
	return aws.ToString(out.ETag), nil
}
