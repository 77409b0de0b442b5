package s3

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// List returns the sorted full paths of p's children: one delimited
// listing, whose common prefixes are the subdirectories. Keys that are not
// valid driver paths (directory markers left by other tools, odd names)
// are left out.
func (d *Driver) List(ctx context.Context, p string) ([]string, error) {
	prefix, err := d.dirPrefix(p)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	in := &s3sdk.ListObjectsV2Input{Bucket: &d.bucket, Prefix: &prefix, Delimiter: aws.String("/"), MaxKeys: &d.pageSize}
	for {
		out, err := d.c.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, wrap(p, err)
		}
		for _, cp := range out.CommonPrefixes {
			if n := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"); validName(n) {
				names[n] = true
			}
		}
		for _, o := range out.Contents {
			if n := strings.TrimPrefix(aws.ToString(o.Key), prefix); validName(n) {
				names[n] = true
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	if len(names) == 0 && p != "/" {
		return nil, fmt.Errorf("%w: %s", storage.ErrPathNotFound, p)
	}
	paths := make([]string, 0, len(names))
	for n := range names {
		paths = append(paths, path.Join(p, n))
	}
	sort.Strings(paths)
	return paths, nil
}

// Walk visits everything under p depth first in lexical order, from a flat
// listing (one request per 1000 keys) rather than one listing per
// directory. Directories are synthesised from the keys, dated by the first
// object found in them. Two things make this more than a loop:
//
//   - ErrSkipDir restarts the listing after the directory, so skipping a
//     large subtree does not page through it;
//   - S3 sorts whole keys, so "a-b/x" comes before "a/x" ('-' and '.' sort
//     before '/'), while depth-first order visits directory "a" first.
//     Before emitting a name, the walk therefore checks each of its
//     prefixes that ends before a '-' or '.' for a directory, and walks
//     any it finds first. Names without those characters (digests) cost
//     nothing extra.
//
// Files report their listed size: for a file with an upload in progress
// that is the size of its head, not of its content (see head.go).
func (d *Driver) Walk(ctx context.Context, p string, fn storage.WalkFunc) error {
	prefix, err := d.dirPrefix(p)
	if err != nil {
		return err
	}
	w := &walker{d: d, fn: fn, dirs: map[string]dirProbe{}}
	found, err := w.walk(ctx, prefix, p)
	if err != nil || found || p == "/" {
		return err
	}
	// Nothing under p: a file has no children, else p does not exist.
	if _, err := d.Stat(ctx, p); err != nil {
		return err
	}
	return nil
}

type walker struct {
	d    *Driver
	fn   storage.WalkFunc
	dirs map[string]dirProbe // prefix → whether it holds anything
}

type dirProbe struct {
	exists bool
	info   types.Object
}

// skipTarget is where a listing resumes to leave the directory prefix
// dir: after every key of valid names below it.
func skipTarget(dir string) string { return dir + "/\x7f" }

// walk emits everything under prefix, whose driver path is base, and
// reports whether it found anything.
func (w *walker) walk(ctx context.Context, prefix, base string) (bool, error) {
	it := &objectIter{d: w.d, prefix: prefix}
	var open []string         // directories (relative) emitted and containing the current key
	done := map[string]bool{} // directories walked out of order or skipped
	found := false
	for {
		o, ok, err := it.next(ctx)
		if err != nil {
			return found, wrap(base, err)
		}
		if !ok {
			return found, nil
		}
		if err := ctx.Err(); err != nil {
			return found, err
		}
		key := aws.ToString(o.Key)
		rel := strings.TrimPrefix(key, prefix)
		comps := strings.Split(rel, "/")
		if !allValid(comps) {
			continue
		}
		found = true
		if dir, ok := doneAncestor(comps, done); ok {
			if t := prefix + skipTarget(dir); key < t {
				it.seek(t)
			}
			continue
		}
		for len(open) > 0 && !strings.HasPrefix(rel, open[len(open)-1]+"/") {
			open = open[:len(open)-1]
		}
		for i := len(open); i < len(comps); i++ {
			parent := strings.Join(comps[:i], "/")
			if err := w.earlierSiblings(ctx, prefix, base, parent, comps[i], done); err != nil {
				return found, err
			}
			sub := path.Join(parent, comps[i])
			isDir := i < len(comps)-1
			fi := storage.FileInfo{Path: path.Join(base, sub), IsDir: isDir, ModTime: aws.ToTime(o.LastModified)}
			if !isDir {
				fi.Size = aws.ToInt64(o.Size)
			}
			err := w.fn(fi)
			if errors.Is(err, storage.ErrSkipDir) {
				if isDir {
					done[sub] = true
					it.seek(prefix + skipTarget(sub))
					break
				}
				err = nil // as filepath.WalkDir: skipping a file skips nothing
			}
			if err != nil {
				return found, err
			}
			if isDir {
				open = append(open, sub)
			}
		}
	}
}

// earlierSiblings walks, before name, every directory in parent whose name
// is a prefix of name cut before a character that sorts below '/'.
func (w *walker) earlierSiblings(ctx context.Context, prefix, base, parent, name string, done map[string]bool) error {
	for j := 1; j < len(name); j++ {
		if name[j] >= '/' {
			continue
		}
		rel := path.Join(parent, name[:j])
		if done[rel] {
			continue
		}
		probe, err := w.probe(ctx, prefix+rel+"/")
		if err != nil {
			return wrap(path.Join(base, rel), err)
		}
		if !probe.exists {
			continue
		}
		done[rel] = true
		err = w.fn(storage.FileInfo{Path: path.Join(base, rel), IsDir: true, ModTime: aws.ToTime(probe.info.LastModified)})
		if errors.Is(err, storage.ErrSkipDir) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := w.walk(ctx, prefix+rel+"/", path.Join(base, rel)); err != nil {
			return err
		}
	}
	return nil
}

// probe reports whether anything lies under a prefix, once per prefix.
func (w *walker) probe(ctx context.Context, prefix string) (dirProbe, error) {
	if p, ok := w.dirs[prefix]; ok {
		return p, nil
	}
	out, err := w.d.c.ListObjectsV2(ctx, &s3sdk.ListObjectsV2Input{Bucket: &w.d.bucket, Prefix: &prefix, MaxKeys: aws.Int32(1)})
	if err != nil {
		return dirProbe{}, err
	}
	var p dirProbe
	if len(out.Contents) > 0 {
		p = dirProbe{exists: true, info: out.Contents[0]}
	}
	w.dirs[prefix] = p
	return p, nil
}

func allValid(comps []string) bool {
	for _, c := range comps {
		if !validName(c) {
			return false
		}
	}
	return true
}

// doneAncestor returns the directory of done that contains the key.
func doneAncestor(comps []string, done map[string]bool) (string, bool) {
	if len(done) == 0 {
		return "", false
	}
	for k := 1; k < len(comps); k++ {
		if dir := strings.Join(comps[:k], "/"); done[dir] {
			return dir, true
		}
	}
	return "", false
}

// objectIter pages through a flat listing of a prefix in key order.
type objectIter struct {
	d          *Driver
	prefix     string
	startAfter string
	token      *string
	page       []types.Object
	last       bool
}

func (it *objectIter) next(ctx context.Context) (types.Object, bool, error) {
	for len(it.page) == 0 {
		if it.last {
			return types.Object{}, false, nil
		}
		in := &s3sdk.ListObjectsV2Input{Bucket: &it.d.bucket, Prefix: &it.prefix, ContinuationToken: it.token, MaxKeys: &it.d.pageSize}
		if it.token == nil && it.startAfter != "" {
			in.StartAfter = &it.startAfter
		}
		out, err := it.d.c.ListObjectsV2(ctx, in)
		if err != nil {
			return types.Object{}, false, err
		}
		it.page = out.Contents
		it.token = out.NextContinuationToken
		it.last = !aws.ToBool(out.IsTruncated) || it.token == nil
	}
	o := it.page[0]
	it.page = it.page[1:]
	return o, true, nil
}

// seek restarts the listing after key.
func (it *objectIter) seek(key string) {
	it.startAfter, it.token, it.page, it.last = key, nil, nil, false
}
