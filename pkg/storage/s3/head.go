package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// A file being appended to (an upload's data) cannot be one S3 object: an
// object is written whole, and a multipart upload can neither be read nor
// take parts under 5 MiB except the last. So such a file is kept as
//
//   - a multipart upload for the file's key holding the parts so far, each
//     at least 5 MiB, and
//   - a "head": an ordinary object at the file's key whose metadata names
//     the upload and whose body is the list of parts (number, size, ETag)
//     followed by the tail, the bytes not yet making a whole part.
//
// The head is the single source of truth and is replaced in one PutObject,
// conditional on the ETag its writer started from: a writer in any process
// reads it, uploads more parts, and writes the next head; a crash before
// that leaves the previous head, which still describes parts that exist
// (part numbers past it are simply overwritten later). Small files never
// need a multipart upload: they are rewritten whole while under a chunk.
//
// Reading or moving a head first completes the upload (finalize): the tail
// goes in as the last part and S3 assembles the object in place of the
// head. Stat needs only the head's metadata.
//
// Why not find the upload with ListMultipartUploads, as registry:2 does?
// Listing by prefix is not portable (MinIO answers only for an exact key),
// a listing cannot tell which of two uploads left by racing writers is
// current, and the parts' ETags are needed anyway. The head answers all
// three in one GET and makes every change a single conditional write.

// Head metadata keys (sent as x-amz-meta-*; the SDK lowercases them).
const (
	metaUpload    = "wharf-upload-id"
	metaPartsSize = "wharf-parts-size"
	metaListLen   = "wharf-part-list-length"
)

// maxListLen bounds a head's part list: 10,000 lines of "n size etag".
const maxListLen = 1 << 20

// maxFinalizeTries bounds how often a reader retries completing a file that
// another process keeps changing.
const maxFinalizeTries = 3

// part is one uploaded part of a multipart upload.
type part struct {
	num  int32
	size int64
	etag string
}

// head is the decoded state of a file with an upload in progress.
type head struct {
	uploadID  string
	partsSize int64 // bytes in parts
	listLen   int64 // bytes of the part list at the start of the body
	bodyLen   int64 // the head object's size
	parts     []part
	tail      []byte
}

// size is the file's logical size: parts plus tail.
func (h head) size() int64 { return h.partsSize + h.bodyLen - h.listLen }

func isHead(meta map[string]string) bool {
	_, ok := meta[metaUpload]
	return ok
}

// parseHeadMeta decodes a head's metadata; bodyLen is its content length.
func parseHeadMeta(meta map[string]string, bodyLen int64) (head, error) {
	h := head{uploadID: meta[metaUpload], bodyLen: bodyLen}
	var err1, err2 error
	h.partsSize, err1 = strconv.ParseInt(meta[metaPartsSize], 10, 64)
	h.listLen, err2 = strconv.ParseInt(meta[metaListLen], 10, 64)
	if h.uploadID == "" || err1 != nil || err2 != nil || h.partsSize < 0 || h.listLen < 0 ||
		h.listLen > maxListLen || h.listLen > bodyLen || bodyLen-h.listLen > MaxChunkSize {
		return head{}, errors.New("damaged upload state (head metadata)")
	}
	return h, nil
}

func (h head) metadata() map[string]string {
	return map[string]string{
		metaUpload:    h.uploadID,
		metaPartsSize: strconv.FormatInt(h.partsSize, 10),
		metaListLen:   strconv.FormatInt(h.listLen, 10),
	}
}

// encodeParts writes the part list, one "number size etag" line each.
func encodeParts(parts []part) ([]byte, error) {
	var b bytes.Buffer
	for _, p := range parts {
		if p.etag == "" || strings.ContainsAny(p.etag, " \t\r\n") {
			return nil, fmt.Errorf("unusable ETag %q for part %d", p.etag, p.num)
		}
		fmt.Fprintf(&b, "%d %d %s\n", p.num, p.size, p.etag)
	}
	return b.Bytes(), nil
}

// decodeParts parses a part list strictly: ascending numbers below
// maxParts, sizes adding up to the head's partsSize.
func decodeParts(b []byte, partsSize int64) ([]part, error) {
	var parts []part
	var sum int64
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) != 3 || !strings.HasSuffix(line, "\n") {
			return nil, errors.New("damaged upload state (part list)")
		}
		num, err1 := strconv.ParseInt(f[0], 10, 32)
		size, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || num < 1 || num >= maxParts || size <= 0 ||
			(len(parts) > 0 && int32(num) <= parts[len(parts)-1].num) {
			return nil, errors.New("damaged upload state (part list)")
		}
		parts = append(parts, part{num: int32(num), size: size, etag: f[2]})
		sum += size
	}
	if sum != partsSize || len(parts) == 0 {
		return nil, errors.New("damaged upload state (part sizes)")
	}
	return parts, nil
}

// state is a file as read from the bucket: absent, plain, or a head.
type state struct {
	exists bool
	etag   string
	size   int64
	head   *head  // set for a file with an upload in progress
	data   []byte // a plain file's content, when asked for and small enough
}

// readState reads key's state with one GET. A plain file's content is
// read when it is at most plainMax bytes.
func (d *Driver) readState(ctx context.Context, p, key string, plainMax int64) (state, error) {
	out, err := d.c.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: &d.bucket, Key: &key})
	if isNotFound(err) {
		return state{}, nil
	}
	if err != nil {
		return state{}, wrap(p, err)
	}
	defer out.Body.Close()
	st := state{exists: true, etag: aws.ToString(out.ETag), size: aws.ToInt64(out.ContentLength)}
	if !isHead(out.Metadata) {
		if st.size <= plainMax {
			if st.data, err = readFull(out.Body, st.size); err != nil {
				return state{}, wrap(p, err)
			}
		}
		return st, nil
	}
	h, err := parseHeadMeta(out.Metadata, st.size)
	if err != nil {
		return state{}, fmt.Errorf("storage %s: %w", p, err)
	}
	body, err := readFull(out.Body, st.size)
	if err != nil {
		return state{}, wrap(p, err)
	}
	if h.parts, err = decodeParts(body[:h.listLen], h.partsSize); err != nil {
		return state{}, fmt.Errorf("storage %s: %w", p, err)
	}
	h.tail = body[h.listLen:]
	st.head, st.size = &h, h.size()
	return st, nil
}

// readFull reads exactly n bytes, never more.
func readFull(r io.Reader, n int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// finalize completes key's upload in progress, if any, so that the key
// holds the whole file as an ordinary object. The tail goes in as part
// maxParts, a number writers never use, so finalizing cannot overwrite a
// part a concurrent writer is uploading; completion is conditional on the
// head being unchanged, so it cannot drop parts a writer has committed.
func (d *Driver) finalize(ctx context.Context, p, key string) error {
	for range maxFinalizeTries {
		st, err := d.readState(ctx, p, key, 0)
		if err != nil || st.head == nil {
			return err // a plain file (perhaps finalized by someone else) or none
		}
		h := st.head
		parts := h.parts
		if len(h.tail) > 0 {
			etag, err := d.uploadPart(ctx, key, h.uploadID, maxParts, h.tail)
			if err != nil {
				return d.finalizeErr(ctx, p, key, st, err)
			}
			parts = append(parts[:len(parts):len(parts)], part{num: maxParts, size: int64(len(h.tail)), etag: etag})
		}
		err = d.complete(ctx, key, h.uploadID, parts, &st.etag)
		if err == nil {
			return nil
		}
		if err := d.finalizeErr(ctx, p, key, st, err); err != nil {
			return err
		}
	}
	return errBusy(p)
}

// finalizeErr decides whether a failed completion is worth retrying: the
// head changed (a writer committed, or someone else completed it) means
// yes; an upload gone while its head stays means the file is lost.
func (d *Driver) finalizeErr(ctx context.Context, p, key string, st state, err error) error {
	switch {
	case isPreconditionFailed(err):
		return nil
	case hasCode(err, "NoSuchUpload"):
		now, serr := d.c.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &d.bucket, Key: &key})
		if serr == nil && aws.ToString(now.ETag) == st.etag {
			return fmt.Errorf("storage %s: its multipart upload %s is gone (aborted outside the registry?)", p, st.head.uploadID)
		}
		return nil
	case hasCode(err, "InvalidPart"):
		return fmt.Errorf("storage %s: %w: a part was overwritten", p, ErrConcurrentWrite)
	default:
		return wrap(p, err)
	}
}

func (d *Driver) uploadPart(ctx context.Context, key, uploadID string, num int32, data []byte) (string, error) {
	out, err := d.c.UploadPart(ctx, &s3sdk.UploadPartInput{
		Bucket: &d.bucket, Key: &key, UploadId: &uploadID, PartNumber: aws.Int32(num),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// complete assembles an upload; ifMatch, when set, makes it conditional on
// the object now at key.
func (d *Driver) complete(ctx context.Context, key, uploadID string, parts []part, ifMatch *string) error {
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(p.num), ETag: aws.String(p.etag)}
	}
	_, err := d.c.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{
		Bucket: &d.bucket, Key: &key, UploadId: &uploadID, IfMatch: ifMatch,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cp},
	})
	return err
}

// abort drops an upload; one already gone is fine.
func (d *Driver) abort(ctx context.Context, key, uploadID string) error {
	_, err := d.c.AbortMultipartUpload(ctx, &s3sdk.AbortMultipartUploadInput{Bucket: &d.bucket, Key: &key, UploadId: &uploadID})
	if hasCode(err, "NoSuchUpload") {
		return nil
	}
	return err
}
