package s3

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// A blob GET relayed through the registry crosses the registry's memory
// twice (read from S3, written to the client): on the machines measured
// that is about a third of the registry's CPU per MiB. Over plain HTTP
// both ends are TCP sockets, and splice(2) moves the bytes between them in
// the kernel. The SDK's transport never hands its socket over, so
// StreamReader sends the GET itself on a connection of its own, signed by
// the SDK (a presigned request), and reads only the status line and
// headers. Every answer but the plain success is left to the SDK: the
// connection is closed and Reader asks again, so errors, retries and heads
// mean what they always meant.

// streamHeaderTimeout bounds the wait for the status line and headers.
const streamHeaderTimeout = 30 * time.Second

var _ storage.StreamReader = (*Driver)(nil)

// StreamReader streams p from offset as Reader does (storage.StreamReader).
// Over plain HTTP, with no proxy for the endpoint, the stream has a TCP
// connection of its own and is a storage.Splicer; otherwise it is Reader's.
func (d *Driver) StreamReader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	if !d.noStreams.Load() {
		if s, ok := d.openStream(ctx, p, offset); ok {
			return s, nil
		}
	}
	return d.Reader(ctx, p, offset)
}

// openStream sends the GET on a connection of its own. It returns false
// for anything but a 200 (206 from an offset) with a length, no encoding
// and no head metadata, having closed the connection: Reader knows the rest.
func (d *Driver) openStream(ctx context.Context, p string, offset int64) (*stream, bool) {
	key, err := d.key(p)
	if err != nil || offset < 0 {
		return nil, false
	}
	in := &s3sdk.GetObjectInput{Bucket: &d.bucket, Key: &key}
	want := http.StatusOK
	if offset > 0 {
		in.Range, want = aws.String(fmt.Sprintf("bytes=%d-", offset)), http.StatusPartialContent
	}
	ps, err := s3sdk.NewPresignClient(d.c).PresignGetObject(ctx, in, s3sdk.WithPresignExpires(presignExpiry))
	if err != nil || ps.Method != http.MethodGet {
		return nil, false
	}
	u, err := url.Parse(ps.URL)
	if err != nil || u.Scheme != "http" || u.User != nil {
		return nil, false
	}
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}, Close: true}
	for k, vs := range ps.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = vs
		}
	}
	if in.Range != nil {
		req.Header.Set("Range", *in.Range)
	}
	if proxy, err := http.ProxyFromEnvironment(req); err != nil || proxy != nil {
		return nil, false
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	conn, err := (&net.Dialer{Timeout: streamHeaderTimeout, KeepAlive: 30 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false
	}
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		conn.Close()
		return nil, false
	}
	// A cancelled request (the client went away) closes the connection,
	// which ends a splice or read in progress.
	stop := context.AfterFunc(ctx, func() { tc.Close() })
	s := &stream{conn: tc, stop: stop}
	tc.SetDeadline(time.Now().Add(streamHeaderTimeout))
	s.br = bufio.NewReaderSize(tc, 64<<10)
	resp, err := sendRequest(tc, s.br, req)
	if err == nil && refusesPresigned(resp.StatusCode) {
		// A server that does not take presigned GETs would cost every
		// blob GET a second request: this driver stops asking.
		d.noStreams.Store(true)
	}
	if err != nil || resp.StatusCode != want || resp.ContentLength < 0 || len(resp.TransferEncoding) > 0 ||
		resp.Header.Get("Content-Encoding") != "" || hasHeadMeta(resp.Header) {
		s.Close()
		return nil, false
	}
	tc.SetDeadline(time.Time{})
	s.left = resp.ContentLength
	return s, true
}

// sendRequest writes req and reads the answer's status line and headers.
func sendRequest(c net.Conn, br *bufio.Reader, req *http.Request) (*http.Response, error) {
	bw := bufio.NewWriterSize(c, 4<<10)
	if err := req.Write(bw); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return http.ReadResponse(br, req)
}

// refusesPresigned reports whether an answer to a presigned GET says the
// server does not take them (rather than that the object is missing, busy
// or out of range).
func refusesPresigned(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return true
	}
	return false
}

// hasHeadMeta reports whether the object is a head (head.go) rather than
// the file's content: x-amz-meta-wharf-upload-id.
func hasHeadMeta(h http.Header) bool {
	return h.Get("X-Amz-Meta-"+metaUpload) != ""
}

// stream is an object's body read straight from its connection: first what
// the header read buffered, then the socket itself.
type stream struct {
	conn *net.TCPConn
	br   *bufio.Reader
	left int64 // body bytes not yet read
	stop func() bool
}

var _ storage.Splicer = (*stream)(nil)

func (s *stream) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	var n int
	var err error
	if s.br.Buffered() > 0 {
		n, err = s.br.Read(p)
	} else {
		n, err = s.conn.Read(p)
	}
	s.left -= int64(n)
	if err == io.EOF && s.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// SpliceTo copies n bytes to dst: the buffered ones with Write, the rest by
// handing dst's ReadFrom the socket itself, bounded by n.
func (s *stream) SpliceTo(dst storage.SpliceDst, n int64) (int64, error) {
	if n > s.left {
		return 0, fmt.Errorf("storage: %d bytes asked of a stream with %d left", n, s.left)
	}
	var written int64
	if b := s.br.Buffered(); b > 0 {
		head, _ := s.br.Peek(int(min(int64(b), n)))
		m, err := dst.Write(head)
		s.br.Discard(m)
		written += int64(m)
		s.left -= int64(m)
		if err != nil {
			return written, err
		}
	}
	if written == n {
		return written, nil
	}
	lr := &io.LimitedReader{R: s.conn, N: n - written}
	m, err := dst.ReadFrom(lr)
	written += m
	s.left -= m
	if err == nil && written < n {
		err = io.ErrUnexpectedEOF
	}
	return written, err
}

// Close closes the connection: it is never reused, so a body left half
// read costs nothing but the socket.
func (s *stream) Close() error {
	s.stop()
	return s.conn.Close()
}
