package s3

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// touchRewriteMax is the size up to which Touch rewrites a file through
// us rather than copying it server-side: for links it is one GET and one PUT.
const touchRewriteMax = 1 << 20

// Move copies the file src to dst server-side and deletes src (S3 has no
// rename; directories are not moved, and the Store never asks to). The
// copy appears at dst whole or not at all; it is conditional on src's
// ETag, so a src replaced meanwhile fails the move instead of publishing a
// mix. A src with an upload in progress is completed first.
func (d *Driver) Move(ctx context.Context, src, dst string) error {
	srcKey, err := d.key(src)
	if err != nil {
		return err
	}
	dstKey, err := d.key(dst)
	if err != nil {
		return err
	}
	var out *s3sdk.HeadObjectOutput
	for i := 0; ; i++ {
		if i == maxFinalizeTries {
			return errBusy(src)
		}
		out, err = d.c.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &d.bucket, Key: &srcKey})
		if err != nil {
			return wrap(src, err)
		}
		if !isHead(out.Metadata) {
			break
		}
		if err := d.finalize(ctx, src, srcKey); err != nil {
			return err
		}
	}
	if srcKey == dstKey {
		return nil
	}
	size, etag := aws.ToInt64(out.ContentLength), aws.ToString(out.ETag)
	if err := d.copyObject(ctx, srcKey, etag, dstKey, size, nil); err != nil {
		return wrap(src, err)
	}
	_, err = d.c.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: &d.bucket, Key: &srcKey})
	return wrap(src, err)
}

// Touch makes p's modification time now. S3 has no such call and a
// CopyObject onto itself does not refresh the time everywhere (Versity
// keeps it), so a small file is rewritten and a large one copied onto
// itself as a multipart upload, which every server dates anew. Both are
// conditional on the ETag read: if p changed meanwhile, it is fresh anyway.
func (d *Driver) Touch(ctx context.Context, p string) error {
	key, err := d.key(p)
	if err != nil {
		return err
	}
	out, err := d.c.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: &d.bucket, Key: &key})
	if err != nil {
		return wrap(p, err)
	}
	size, etag := aws.ToInt64(out.ContentLength), aws.ToString(out.ETag)
	if size > touchRewriteMax {
		out.Body.Close()
		err = d.copyObject(ctx, key, etag, key, size, out.Metadata)
	} else {
		var body []byte
		body, err = readFull(out.Body, size)
		out.Body.Close()
		if err != nil {
			return wrap(p, err)
		}
		in := d.putInput(key, body)
		in.Metadata, in.IfMatch = out.Metadata, aws.String(etag)
		_, err = d.c.PutObject(ctx, in)
	}
	if isPreconditionFailed(err) {
		return nil
	}
	return wrap(p, err)
}

// copyObject copies srcKey (whose ETag is srcETag) to dstKey: one
// CopyObject up to the threshold, a parallel multipart copy above it, and
// always a multipart copy onto itself (see Touch). meta, when set,
// replaces the object's metadata.
func (d *Driver) copyObject(ctx context.Context, srcKey, srcETag, dstKey string, size int64, meta map[string]string) error {
	if srcKey != dstKey && (size <= d.cfg.MultipartCopyThresholdSize || size == 0) {
		in := &s3sdk.CopyObjectInput{
			Bucket: &d.bucket, Key: &dstKey, CopySource: d.copySource(srcKey),
			CopySourceIfMatch: aws.String(srcETag),
		}
		if meta != nil {
			in.Metadata, in.MetadataDirective = meta, types.MetadataDirectiveReplace
		}
		in.ServerSideEncryption, in.SSEKMSKeyId, in.StorageClass = d.objOpts.sse, d.objOpts.kmsKeyID, d.objOpts.storageClass
		_, err := d.c.CopyObject(ctx, in)
		return err
	}
	id, err := d.createUpload(ctx, dstKey, meta)
	if err != nil {
		return err
	}
	parts, err := d.copyParts(ctx, srcKey, srcETag, dstKey, id, size)
	if err == nil {
		var ifMatch *string
		if srcKey == dstKey {
			ifMatch = aws.String(srcETag)
		}
		err = d.complete(ctx, dstKey, id, parts, ifMatch)
	}
	if err != nil {
		d.abort(context.WithoutCancel(ctx), dstKey, id)
	}
	return err
}

// copyRanges splits size bytes into ranges of the copy chunk size, the last
// one merged into its predecessor when under S3's 5 MiB minimum.
func copyRanges(size, chunk int64) [][2]int64 {
	chunk = min(chunk, MaxChunkSize-MinChunkSize)
	var r [][2]int64
	for off := int64(0); off < size; off += chunk {
		r = append(r, [2]int64{off, min(off+chunk, size)})
	}
	if n := len(r); n > 1 && r[n-1][1]-r[n-1][0] < MinChunkSize {
		r[n-2][1] = r[n-1][1]
		r = r[:n-1]
	}
	return r
}

// copyParts copies [0, size) of srcKey into upload id of dstKey as parts
// 1..n, running up to MultipartCopyMaxConcurrency UploadPartCopy at once.
func (d *Driver) copyParts(ctx context.Context, srcKey, srcETag, dstKey, id string, size int64) ([]part, error) {
	ranges := copyRanges(size, d.cfg.MultipartCopyChunkSize)
	if len(ranges) >= maxParts {
		return nil, fmt.Errorf("%d bytes need more than %d copy parts: raise multipartcopychunksize", size, maxParts-1)
	}
	if size == 0 {
		return nil, errors.New("multipart copy of an empty object")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := make([]part, len(ranges))
	sem := make(chan struct{}, d.cfg.MultipartCopyMaxConcurrency)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for i, rg := range ranges {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out, err := d.c.UploadPartCopy(ctx, &s3sdk.UploadPartCopyInput{
				Bucket: &d.bucket, Key: &dstKey, UploadId: &id, PartNumber: aws.Int32(int32(i + 1)),
				CopySource: d.copySource(srcKey), CopySourceIfMatch: aws.String(srcETag),
				CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]-1)),
			})
			if err == nil && (out.CopyPartResult == nil || out.CopyPartResult.ETag == nil) {
				err = fmt.Errorf("part %d: no ETag in the copy result", i+1)
			}
			if err != nil {
				once.Do(func() { firstErr = err; cancel() })
				return
			}
			parts[i] = part{num: int32(i + 1), size: rg[1] - rg[0], etag: aws.ToString(out.CopyPartResult.ETag)}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err() // the caller's context, cancelled midway
	}
	return parts, firstErr
}
