package scaleout

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// recordedRegistry is one registry on s whose S3 requests go through a
// recording proxy.
type recordedRegistry struct {
	*cluster
	front *testkit.S3Front
	base  string
}

func startRecorded(t *testing.T, s *s3Server) *recordedRegistry {
	f := testkit.NewS3Front(t, s.Endpoint)
	c := startCluster(t, s, clusterOptions{replicas: 1, endpoint: f.URL})
	return &recordedRegistry{cluster: c, front: f, base: c.regs[0].URL()}
}

// key is the bucket key of a path under the registry's root.
func (r *recordedRegistry) key(p string) string {
	return r.root[1:] + "/docker/registry/v2" + p
}

func blobKeyPath(d digest.Digest) string {
	return fmt.Sprintf("/blobs/%s/%s/%s/data", d.Algorithm(), d.Encoded()[:2], d.Encoded())
}

// objectExists asks the S3 server itself whether the registry stored p.
func (r *recordedRegistry) objectExists(t *testing.T, p string) bool {
	t.Helper()
	key := r.key(p)
	_, err := r.s3.Client().HeadObject(context.Background(), &s3sdk.HeadObjectInput{Bucket: aws.String(s3Bucket), Key: &key})
	if err == nil {
		return true
	}
	var nf interface{ ErrorCode() string }
	if errors.As(err, &nf) && (nf.ErrorCode() == "NotFound" || nf.ErrorCode() == "NoSuchKey") {
		return false
	}
	t.Fatalf("HEAD %s: %v", key, err)
	return false
}

// uploadsAt lists the multipart uploads in progress for p's key.
func (r *recordedRegistry) uploadsAt(t *testing.T, p string) int {
	t.Helper()
	key := r.key(p)
	out, err := r.s3.Client().ListMultipartUploads(context.Background(), &s3sdk.ListMultipartUploadsInput{Bucket: aws.String(s3Bucket), Prefix: &key})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) == key {
			n++
		}
	}
	return n
}

// checkNothingLeft checks that a push of d to repo left no multipart
// upload at the blob's key and nothing of its upload session.
func (r *recordedRegistry) checkNothingLeft(t *testing.T, repo string, d digest.Digest) {
	t.Helper()
	if n := r.uploadsAt(t, blobKeyPath(d)); n != 0 {
		t.Errorf("%d multipart uploads left at the blob's key", n)
	}
	prefix := r.key("/repositories/" + repo + "/_uploads/")
	out, err := r.s3.Client().ListObjectsV2(context.Background(), &s3sdk.ListObjectsV2Input{Bucket: aws.String(s3Bucket), Prefix: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Contents); n != 0 {
		t.Errorf("%d objects of upload sessions left", n)
	}
}

// A client that pushes containerd's way (oras-go: a POST with no body,
// then the whole blob in the PUT ?digest=) gets the blob stored as a POST
// with ?digest= would: one PutObject to the blob's key that the S3 server
// verifies, no multipart upload, no server-side copy, no session left.
func TestWholeBlobPutAfterEmptyPostGoesStraightToTheBlob(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		r := startRecorded(t, s)
		repo, err := orasremote.NewRepository(r.regs[0].Host() + "/put/whole")
		if err != nil {
			t.Fatal(err)
		}
		repo.PlainHTTP = true
		content := randomBytes(71, 12<<20+321)
		desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(content), Size: int64(len(content))}
		if err := repo.Blobs().Push(context.Background(), desc, bytes.NewReader(content)); err != nil {
			t.Fatalf("oras push: %v", err)
		}
		checkBlob(t, r.base, "put/whole", desc.Digest, content)
		if n := r.front.Copies.Load(); n != 0 {
			t.Errorf("%d server-side copies, want none", n)
		}
		if n := r.front.UploadParts.Load(); n != 0 {
			t.Errorf("%d UploadPart requests, want none (one PutObject)", n)
		}
		if n := r.front.ChecksumPuts.Load(); n < 2 {
			t.Errorf("%d checksummed PutObject requests, want the probe's and the blob's", n)
		}
		r.checkNothingLeft(t, "put/whole", desc.Digest)

		// The same digest again, other bytes: refused, the blob intact.
		other := append([]byte(nil), content...)
		other[5] ^= 1
		err = repo.Blobs().Push(context.Background(), desc, bytes.NewReader(other))
		var er *errcode.ErrorResponse
		if !errors.As(err, &er) || er.StatusCode != http.StatusBadRequest || len(er.Errors) == 0 || er.Errors[0].Code != "DIGEST_INVALID" {
			t.Fatalf("push of other bytes under an existing digest: %v, want 400 DIGEST_INVALID", err)
		}
		checkBlob(t, r.base, "put/whole", desc.Digest, content)
	})
}

// The same push with a body of unknown length (chunked transfer encoding)
// cannot be one verified PutObject: it streams into a multipart upload to
// the blob's key, completed only once the digest is verified; still no
// copy and no session left.
func TestWholeBlobPutOfUnknownLengthGoesStraightToTheBlob(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		r := startRecorded(t, s)
		content := randomBytes(72, 12<<20+321)
		d := digest.FromBytes(content)
		loc := resolve(t, r.base, startUpload(t, r.base, "put/chunked"))
		resp, body := do(t, http.MethodPut, withDigest(loc, d), "",
			io.MultiReader(bytes.NewReader(content)), http.Header{"Content-Type": {"application/octet-stream"}})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT: %s %s", resp.Status, body)
		}
		checkCreated(t, resp, "put/chunked", d)
		checkBlob(t, r.base, "put/chunked", d, content)
		if n := r.front.Copies.Load(); n != 0 {
			t.Errorf("%d server-side copies, want none", n)
		}
		if n := r.front.UploadParts.Load(); n < 3 {
			t.Errorf("%d UploadPart requests, want the blob's 3 parts", n)
		}
		r.checkNothingLeft(t, "put/chunked", d)
	})
}

// checkCreated checks a 201's headers: where the blob is and its digest.
func checkCreated(t *testing.T, resp *http.Response, repo string, d digest.Digest) {
	t.Helper()
	if got := resp.Header.Get("Docker-Content-Digest"); got != d.String() {
		t.Errorf("Docker-Content-Digest %q, want %s", got, d)
	}
	if got, want := resp.Header.Get("Location"), "/v2/"+repo+"/blobs/"+d.String(); !strings.HasSuffix(got, want) {
		t.Errorf("Location %q, want …%s", got, want)
	}
}

// A whole-blob PUT that goes wrong answers as it always did, and nothing
// unverified is ever at a blob key: a wrong digest is 400 DIGEST_INVALID
// and ends the session; a body cut short is 400 BLOB_UPLOAD_INVALID with
// the session kept empty for the client to resume, which then succeeds.
func TestWholeBlobPutFailuresLeaveNothingAtTheBlobKey(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		r := startRecorded(t, s)
		const repo = "put/fail"
		content := randomBytes(73, 7<<20+5)
		d := digest.FromBytes(content)
		wrong := digest.FromString("something else")

		t.Run("wrong digest", func(t *testing.T) {
			loc := resolve(t, r.base, startUpload(t, r.base, repo))
			resp, body := do(t, http.MethodPut, withDigest(loc, wrong), "",
				bytes.NewReader(content), nil)
			if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte(`"DIGEST_INVALID"`)) {
				t.Fatalf("PUT with a wrong digest: %s %s, want 400 DIGEST_INVALID", resp.Status, body)
			}
			for _, dg := range []digest.Digest{wrong, d} {
				if r.objectExists(t, blobKeyPath(dg)) || r.uploadsAt(t, blobKeyPath(dg)) != 0 {
					t.Fatalf("something was stored at %s's key", dg)
				}
			}
			if resp, _ := do(t, http.MethodGet, loc, "", nil, nil); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("the session after a wrong digest: %s, want 404 (removed)", resp.Status)
			}
		})

		t.Run("body cut short", func(t *testing.T) {
			loc := resolve(t, r.base, startUpload(t, r.base, repo))
			status, header := putCutShort(t, withDigest(loc, d), content, len(content)/2)
			if status != http.StatusBadRequest || header.Get("Range") != "0-0" {
				t.Fatalf("PUT with half its body: %d, Range %q; want 400, Range 0-0", status, header.Get("Range"))
			}
			if r.objectExists(t, blobKeyPath(d)) || r.uploadsAt(t, blobKeyPath(d)) != 0 {
				t.Fatal("something was stored at the blob's key")
			}
			if got := uploadOffset(t, r.base, loc); got != 0 {
				t.Fatalf("the session holds %d bytes after a failed PUT, want 0", got)
			}
			resp, body := do(t, http.MethodPut, withDigest(loc, d), "", bytes.NewReader(content), nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT again: %s %s", resp.Status, body)
			}
			checkCreated(t, resp, repo, d)
			checkBlob(t, r.base, repo, d, content)
		})

		t.Run("Content-Range not at the start", func(t *testing.T) {
			loc := resolve(t, r.base, startUpload(t, r.base, repo))
			resp, body := do(t, http.MethodPut, withDigest(loc, d), "", bytes.NewReader(content),
				http.Header{"Content-Range": {fmt.Sprintf("5-%d", len(content)+4)}})
			if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Range") != "0-0" {
				t.Fatalf("PUT at byte 5 of an empty session: %s, Range %q %s; want 416, Range 0-0", resp.Status, resp.Header.Get("Range"), body)
			}
		})
		if n := r.front.Copies.Load(); n != 0 {
			t.Errorf("%d server-side copies, want none", n)
		}
	})
}

// putCutShort sends a PUT announcing all of content but sending only its
// first n bytes, then closes its side of the connection, as a client that
// breaks off does; it returns the registry's answer.
func putCutShort(t *testing.T, u string, content []byte, n int) (int, http.Header) {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n", pu.RequestURI(), pu.Host, len(content))
	conn.Write(content[:n])
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to a PUT cut short: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}
