package s3

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// headProbes bounds the HEAD requests Delete runs at once.
const headProbes = 8

// Delete removes the file p, or everything under the directory p, a page
// of up to 1000 keys per DeleteObjects (S3's limit). A file with an upload in progress
// has its multipart upload aborted first, so deleting an abandoned upload
// session frees its parts instead of leaving them to a bucket lifecycle
// rule. Listings do not show metadata, so every key small enough to be a
// head is HEADed first.
func (d *Driver) Delete(ctx context.Context, p string) error {
	key, err := d.key(p)
	if err != nil {
		return err
	}
	found := false
	out, err := d.c.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &d.bucket, Key: &key})
	switch {
	case err == nil:
		found = true
		if err := d.deleteKeys(ctx, p, []types.Object{{Key: &key, Size: out.ContentLength}}, out.Metadata); err != nil {
			return err
		}
	case !isNotFound(err):
		return wrap(p, err)
	}
	it := &objectIter{d: d, prefix: key + "/"}
	var page []types.Object
	for {
		o, ok, err := it.next(ctx)
		if err != nil {
			return wrap(p, err)
		}
		if ok {
			page = append(page, o)
		}
		if len(page) == int(d.pageSize) || (!ok && len(page) > 0) {
			found = true
			if err := d.deleteKeys(ctx, p, page, nil); err != nil {
				return err
			}
			page = page[:0]
		}
		if !ok {
			break
		}
	}
	if !found {
		return fmt.Errorf("%w: %s", storage.ErrPathNotFound, p)
	}
	return nil
}

// deleteKeys aborts the uploads of heads among objs, then deletes objs.
// meta, when known (a single HEADed key), saves probing.
func (d *Driver) deleteKeys(ctx context.Context, p string, objs []types.Object, meta map[string]string) error {
	var uploads map[string]string // key → upload id
	if meta != nil {
		if isHead(meta) {
			uploads = map[string]string{aws.ToString(objs[0].Key): meta[metaUpload]}
		}
	} else {
		var err error
		if uploads, err = d.findHeads(ctx, objs); err != nil {
			return wrap(p, err)
		}
	}
	for k, id := range uploads {
		if err := d.abort(ctx, k, id); err != nil {
			return wrap(p, err)
		}
	}
	ids := make([]types.ObjectIdentifier, len(objs))
	for i, o := range objs {
		ids[i] = types.ObjectIdentifier{Key: o.Key}
	}
	out, err := d.c.DeleteObjects(ctx, &s3sdk.DeleteObjectsInput{
		Bucket: &d.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return wrap(p, err)
	}
	for _, e := range out.Errors {
		if aws.ToString(e.Code) != "NoSuchKey" {
			return fmt.Errorf("storage %s: deleting %s: %s: %s", p, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
}

// findHeads HEADs the objects small enough to be heads and returns the
// uploads of those that are.
func (d *Driver) findHeads(ctx context.Context, objs []types.Object) (map[string]string, error) {
	var mu sync.Mutex
	uploads := map[string]string{}
	var firstErr error
	sem := make(chan struct{}, headProbes)
	var wg sync.WaitGroup
	for _, o := range objs {
		if aws.ToInt64(o.Size) > d.cfg.ChunkSize+maxListLen {
			continue
		}
		key := aws.ToString(o.Key)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out, err := d.c.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &d.bucket, Key: &key})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && isHead(out.Metadata):
				uploads[key] = out.Metadata[metaUpload]
			case err != nil && !isNotFound(err) && firstErr == nil:
				firstErr = err
			}
		}()
	}
	wg.Wait()
	return uploads, firstErr
}
