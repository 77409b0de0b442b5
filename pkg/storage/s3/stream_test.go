package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/internal/testkit"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// putObject stores content at p with the raw client.
func putObject(t *testing.T, s *server, d *Driver, p string, content []byte) {
	t.Helper()
	key, _ := d.key(p)
	_, err := s.client().PutObject(context.Background(), &s3sdk.PutObjectInput{Bucket: aws.String(testBucket), Key: &key,
		Body: bytes.NewReader(content), ContentLength: aws.Int64(int64(len(content)))})
	if err != nil {
		t.Fatal(err)
	}
}

// spliceThroughTCP splices n bytes of sp into one end of a loopback TCP
// connection (a *net.TCPConn is a storage.SpliceDst, as an HTTP response
// over plain TCP is) and returns what the other end received.
func spliceThroughTCP(t *testing.T, sp storage.Splicer, n int64) ([]byte, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	written, err := sp.SpliceTo(c.(*net.TCPConn), n)
	c.Close()
	b := <-got
	if int64(len(b)) != written {
		t.Fatalf("SpliceTo reported %d bytes, the other end got %d", written, len(b))
	}
	return b, err
}

// A stream hands exactly the bytes of the object from its offset to a TCP
// connection, through its own presigned GET: whole, from an offset, after
// some bytes were read with Read (which the header read may have buffered).
func TestStreamReaderSplicesTheObject(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		f := testkit.NewS3Front(t, s.Endpoint)
		d := driverVia(t, s, f)
		ctx := context.Background()
		content := randomBytes(41, 3<<20+12345)
		putObject(t, s, d, "/blob", content)
		size := int64(len(content))
		for _, c := range []struct {
			name         string
			offset, read int64 // read: bytes taken with Read before splicing
		}{
			{"whole", 0, 0},
			{"from an offset", 1<<20 + 7, 0},
			{"the last byte", size - 1, 0},
			{"after a Read", 0, 1000},
			{"after a Read past the buffer", 5, 200 << 10},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := f.Presigned.Load()
				rc, err := d.StreamReader(ctx, "/blob", c.offset)
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				sp, ok := rc.(storage.Splicer)
				if !ok {
					t.Fatalf("StreamReader gave a %T over plain HTTP, want a Splicer", rc)
				}
				if got := f.Presigned.Load() - before; got != 1 {
					t.Fatalf("%d presigned GETs, want 1", got)
				}
				head := make([]byte, c.read)
				if _, err := io.ReadFull(rc, head); err != nil {
					t.Fatal(err)
				}
				rest, err := spliceThroughTCP(t, sp, size-c.offset-c.read)
				if err != nil {
					t.Fatal(err)
				}
				if got := append(head, rest...); !bytes.Equal(got, content[c.offset:]) {
					t.Fatalf("got %d bytes from %d, not the object's %d", len(got), c.offset, size-c.offset)
				}
				if n, err := rc.Read(make([]byte, 10)); n != 0 || err != io.EOF {
					t.Fatalf("after the end: %d bytes, %v; want io.EOF", n, err)
				}
			})
		}
		t.Run("more than is left", func(t *testing.T) {
			rc, err := d.StreamReader(ctx, "/blob", size-10)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if n, err := rc.(storage.Splicer).SpliceTo(nil, 11); err == nil || n != 0 {
				t.Fatalf("11 of 10 bytes: %d, %v; want an error and nothing copied", n, err)
			}
		})
	})
}

// Closing a stream read halfway closes its connection at once: the server's
// answer, blocked on a body nobody reads, ends.
func TestStreamCloseEndsTheRequest(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		f := testkit.NewS3Front(t, s.Endpoint)
		d := driverVia(t, s, f)
		putObject(t, s, d, "/big", randomBytes(44, 32<<20)) // more than the socket buffers hold
		rc, err := d.StreamReader(context.Background(), "/big", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the front is now blocked writing
		if f.PresignedDone.Load() != 0 {
			t.Fatal("the presigned GET ended before the stream was closed")
		}
		rc.Close()
		deadline := time.Now().Add(10 * time.Second)
		for f.PresignedDone.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if f.PresignedDone.Load() == 0 {
			t.Fatal("the presigned GET still runs 10 s after the stream was closed")
		}
		runtime.KeepAlive(rc)
	})
}

// What a stream does not understand goes to Reader, as it always did: a
// missing key, an offset at the end, a file whose upload is still a head,
// and a server that refuses presigned GETs (after which the driver stops
// asking).
func TestStreamReaderLeavesEverythingElseToReader(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		f := testkit.NewS3Front(t, s.Endpoint)
		d := driverVia(t, s, f)
		ctx := context.Background()
		if _, err := d.StreamReader(ctx, "/missing", 0); !errors.Is(err, storage.ErrPathNotFound) {
			t.Fatalf("missing key: %v, want ErrPathNotFound", err)
		}
		content := randomBytes(42, 2<<20)
		putObject(t, s, d, "/blob", content)
		rc, err := d.StreamReader(ctx, "/blob", int64(len(content)))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(rc); err != nil || len(b) != 0 {
			t.Fatalf("at the end: %d bytes, %v; want none", len(b), err)
		}
		rc.Close()

		// An upload not yet completed is a head until a reader finishes it.
		upload := randomBytes(43, 2*MinChunkSize+99)
		appendTo(t, d, "/upload", 0, upload, 1<<20, true)
		rc, err = d.StreamReader(ctx, "/upload", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rc.(*stream); ok {
			t.Fatal("a head was streamed as the file's content")
		}
		if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, upload) {
			t.Fatalf("the upload read back as %d bytes (%v), want its %d", len(b), err, len(upload))
		}
		rc.Close()

		f.RefusePresigned.Store(true)
		before := f.Presigned.Load()
		for range 3 {
			rc, err := d.StreamReader(ctx, "/blob", 0)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, content) {
				t.Fatalf("with presigned GETs refused: %d bytes, %v", len(b), err)
			}
			rc.Close()
		}
		if got := f.Presigned.Load() - before; got != 1 {
			t.Fatalf("%d presigned GETs after the server refused the first, want just that one", got)
		}
	})
}
