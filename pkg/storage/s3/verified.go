package s3

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// maxPutObjectSize is the largest object one PutObject may create.
const maxPutObjectSize = 5 << 30

// checksumProbePath is the scratch file of the checksum probe.
const checksumProbePath = "/.wharf-checksum-probe"

// PutVerified writes the size bytes of r, whose sha256 is dg, to p with
// one PutObject that names their sha256 (x-amz-checksum-sha256): S3
// computes it over what it receives and stores nothing on a mismatch, so
// p never holds unverified bytes, with no multipart upload to complete and
// nothing to copy. It is a single stream, which is what S3 servers take
// fastest. The payload is not part of the request signature (it cannot be
// without reading the body twice); the checksum guards it instead.
//
// Before reading r it returns storage.ErrNotVerifiable when it cannot make
// that promise: dg is not sha256, the size is unknown or over 5 GiB, or the
// server has not shown that it refuses a wrong checksum (checked once per
// driver, see verifiesChecksums).
func (d *Driver) PutVerified(ctx context.Context, p string, r io.Reader, size int64, dg digest.Digest) error {
	key, err := d.key(p)
	if err != nil {
		return err
	}
	if dg.Algorithm() != digest.SHA256 || dg.Validate() != nil || size < 0 || size > maxPutObjectSize {
		return storage.ErrNotVerifiable
	}
	if !d.verifiesChecksums(ctx) {
		return storage.ErrNotVerifiable
	}
	sum, err := hexToBase64(dg.Encoded())
	if err != nil {
		return storage.ErrNotVerifiable
	}
	hr := &hashingReader{r: r, h: sha256.New()}
	in := d.putInput(key, nil)
	in.Body, in.ContentLength, in.ChecksumSHA256 = hr, aws.Int64(size), aws.String(sum)
	out, err := d.c.PutObject(context.WithoutCancel(ctx), in, s3sdk.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	n, got, ended := hr.result()
	if err != nil {
		if ended && n != size {
			// The body ended before its announced size.
			return fmt.Errorf("%w: received %d bytes, announced %d (%v)", storage.ErrSizeInvalid, n, size, err)
		}
		if hasCode(err, checksumCodes...) {
			return fmt.Errorf("%w: storage %s: %v", storage.ErrDigestInvalid, p, err)
		}
		return wrap(p, err)
	}
	// The server said it checked; check that it checked this, and that
	// what we sent was it. Neither can fail on a server that passed the
	// probe, so a failure removes the object rather than trust it.
	if aws.ToString(out.ChecksumSHA256) != sum || n != size || got != dg {
		d.c.DeleteObject(context.WithoutCancel(ctx), &s3sdk.DeleteObjectInput{Bucket: &d.bucket, Key: &key})
		return fmt.Errorf("%w: storage %s: sent %d bytes, %s; the server confirmed %q", storage.ErrDigestInvalid, p, n, got, aws.ToString(out.ChecksumSHA256))
	}
	return nil
}

var _ storage.VerifiedPutter = (*Driver)(nil)

// checksumCodes are the codes S3 servers answer a wrong
// x-amz-checksum-sha256 with: AWS and versitygw say BadDigest, MinIO
// XAmzContentChecksumMismatch.
var checksumCodes = []string{"BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest"}

// checksumProbe remembers what the server answered a wrong checksum. Only a
// definite answer is kept; after a network error the next push asks again.
type checksumProbe struct {
	mu       sync.Mutex
	known    bool
	verifies bool
}

// verifiesChecksums puts a small scratch object with a wrong sha256 and
// reports whether the server refused it with a checksum error and stored
// nothing. A server that accepts it ignores checksums: PutVerified is then
// never used with it (its probe object is removed).
func (d *Driver) verifiesChecksums(ctx context.Context) bool {
	pr := &d.probe
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.known {
		return pr.verifies
	}
	key, err := d.key(checksumProbePath)
	if err != nil {
		return false
	}
	ctx = context.WithoutCancel(ctx)
	wrong := sha256.Sum256([]byte("not the body"))
	in := d.putInput(key, []byte("checksum probe"))
	in.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(wrong[:]))
	_, err = d.c.PutObject(ctx, in)
	switch {
	case err == nil:
		d.c.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: &d.bucket, Key: &key})
		pr.known, pr.verifies = true, false
	case hasCode(err, checksumCodes...):
		_, herr := d.c.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &d.bucket, Key: &key})
		if isNotFound(herr) {
			pr.known, pr.verifies = true, true
		}
	}
	return pr.verifies
}

// hexToBase64 turns a hex digest into the base64 S3's checksum headers use.
func hexToBase64(hexSum string) (string, error) {
	b, err := hex.DecodeString(hexSum)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("not a sha256 digest: %q", hexSum)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// hashingReader hashes and counts what the SDK reads of the body. The
// transport may still be reading when PutObject returns an error, hence
// the lock.
type hashingReader struct {
	mu    sync.Mutex
	r     io.Reader
	h     hash.Hash
	n     int64
	ended bool // r said io.EOF
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	hr.ended = hr.ended || err == io.EOF
	return n, err
}

// result is the count and digest of what was read so far, and whether
// that was all of r.
func (hr *hashingReader) result() (int64, digest.Digest, bool) {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	return hr.n, digest.NewDigest(digest.SHA256, hr.h), hr.ended
}
