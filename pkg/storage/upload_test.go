package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// reopen returns a second Store on the same root: nothing but the files on
// disk carries over, as after a restart or in another process.
func reopen(t *testing.T, root string) *Store {
	t.Helper()
	s, err := NewFilesystem(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestChunkedUploadResumesThroughAnotherStore(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 300_000) // 4.8 MB: several 1 MiB buffers
	chunks := [][]byte{content[:1_500_000], content[1_500_000:1_500_001], content[1_500_001:]}
	tests := []struct {
		name       string
		dropStates bool // hash states lost (crash)
		foreign    bool // hash states in another format (a session left by registry:2)
		sha512     bool
		torn       bool // hash states cut short (a crash: they are written without fsync)
	}{
		{"saved hash state", false, false, false, false},
		{"hash state rebuilt from data", true, false, false, false},
		{"hash state of another format", false, true, false, false},
		{"sha512 digest", false, false, true, false},
		{"hash state torn", false, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			u, err := reopen(t, root).NewUpload(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			id := u.ID()
			if !validUploadID(id) {
				t.Fatalf("upload id %q is not a UUID", id)
			}
			var off int64
			for i, c := range chunks {
				s := reopen(t, root)
				u, err := s.Upload(ctx, "app", id)
				if err != nil {
					t.Fatalf("chunk %d: reopen: %v", i, err)
				}
				if u.Size() != off {
					t.Fatalf("chunk %d: reopened size %d, want %d", i, u.Size(), off)
				}
				n, err := u.Append(ctx, off, bytes.NewReader(c))
				if err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
				off += int64(len(c))
				if n != off || u.Size() != off {
					t.Fatalf("chunk %d: size %d/%d, want %d", i, n, u.Size(), off)
				}
				state := v2(root, "repositories", "app", "_uploads", id, "hashstates", "sha256", strconv.FormatInt(off, 10))
				if !exists(state) {
					t.Fatalf("chunk %d: no hash state at %s", i, state)
				}
				if tt.dropStates {
					os.RemoveAll(filepath.Dir(state))
				}
				if tt.foreign {
					os.WriteFile(state, []byte("\x00\x01not a Go sha256 state"), 0o644)
				}
				if tt.torn {
					b, _ := os.ReadFile(state)
					os.WriteFile(state, b[:len(b)/2], 0o644)
				}
			}
			want := sha256Of(content)
			if tt.sha512 {
				want = sha512Of(content)
			}
			s := reopen(t, root)
			u, err = s.Upload(ctx, "app", id)
			if err != nil {
				t.Fatal(err)
			}
			got, err := u.Commit(ctx, want)
			if err != nil || got.Digest != want || got.Size != int64(len(content)) {
				t.Fatalf("Commit = %+v, %v", got, err)
			}
			b, err := os.ReadFile(blobFile(root, want))
			if err != nil || !bytes.Equal(b, content) {
				t.Fatalf("blob data wrong (%v)", err)
			}
			if _, err := s.Upload(ctx, "app", id); !errors.Is(err, ErrUploadUnknown) {
				t.Errorf("session still open after commit: %v", err)
			}
			assertNoUploads(t, root, "app")
		})
	}
}

func TestAppendAtAnyOffsetButTheEndIsRangeInvalid(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	u, err := s.NewUpload(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, 0, strings.NewReader("12345")); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 4, 6, 100, -1} {
		t.Run(strconv.FormatInt(off, 10), func(t *testing.T) {
			n, err := u.Append(ctx, off, strings.NewReader("xyz"))
			if !errors.Is(err, ErrRangeInvalid) {
				t.Fatalf("Append at %d = %v, want ErrRangeInvalid", off, err)
			}
			if n != 5 {
				t.Errorf("reported size %d, want 5", n)
			}
		})
	}
	got, err := u.Commit(ctx, sha256Of([]byte("12345")))
	if err != nil || got.Size != 5 {
		t.Fatalf("rejected chunks changed the upload: %+v, %v", got, err)
	}
}

func TestCommitWithWrongDigestLeavesNothingVisible(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t)
	u, err := s.NewUpload(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, 0, strings.NewReader("real content")); err != nil {
		t.Fatal(err)
	}
	claimed := sha256Of([]byte("claimed content"))
	if _, err := u.Commit(ctx, claimed); !errors.Is(err, ErrDigestInvalid) {
		t.Fatalf("Commit = %v, want ErrDigestInvalid", err)
	}
	for _, d := range []digest.Digest{claimed, sha256Of([]byte("real content"))} {
		if _, err := s.StatBlob(ctx, "app", d); !errors.Is(err, ErrBlobUnknown) {
			t.Errorf("%s visible after failed commit: %v", d, err)
		}
	}
	if exists(blobFile(root, claimed)) {
		t.Error("blob data written for a failed commit")
	}
	if _, err := s.Upload(ctx, "app", u.ID()); !errors.Is(err, ErrUploadUnknown) {
		t.Errorf("failed commit must end the session: %v", err)
	}
}

func TestUploadSessionsBelongToOneRepository(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	u, err := s.NewUpload(ctx, "alice/app")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, repo, id string }{
		{"another repository", "bob/app", u.ID()},
		{"parent repository", "alice", u.ID()},
		{"uppercase id", "alice/app", strings.ToUpper(u.ID())},
		{"traversal", "alice/app", "../../../bob"},
		{"empty", "alice/app", ""},
		{"unknown uuid", "alice/app", "00000000-0000-4000-8000-000000000000"},
		{"no dashes", "alice/app", strings.ReplaceAll(u.ID(), "-", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Upload(ctx, tt.repo, tt.id); !errors.Is(err, ErrUploadUnknown) {
				t.Fatalf("Upload(%q, %q) = %v, want ErrUploadUnknown", tt.repo, tt.id, err)
			}
		})
	}
	if _, err := s.Upload(ctx, "alice/app", u.ID()); err != nil {
		t.Fatalf("owner cannot reopen: %v", err)
	}
}

// failingReader delivers data then fails, like a client that disconnects.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestInterruptedAppendKeepsNothingOfItsChunk(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t)
	u, err := s.NewUpload(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, 0, strings.NewReader("first part ")); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("connection reset")
	for _, rerr := range []error{broken, io.ErrUnexpectedEOF} {
		n, err := u.Append(ctx, 11, &failingReader{data: []byte("half of the sec"), err: rerr})
		if !errors.Is(err, rerr) || n != 11 {
			t.Fatalf("Append = %d, %v; want the 11 bytes before it and the read error %v", n, err, rerr)
		}
	}
	u2, err := reopen(t, root).Upload(ctx, "app", u.ID())
	if err != nil || u2.Size() != 11 {
		t.Fatalf("reopened: %v, size %d", err, u2.Size())
	}
	if _, err := u2.Append(ctx, 11, strings.NewReader("second part")); err != nil {
		t.Fatal(err)
	}
	if _, err := u2.Commit(ctx, sha256Of([]byte("first part second part"))); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyBlobCanBeUploaded(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	u, err := s.NewUpload(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Commit(ctx, sha256Of(nil)); err != nil {
		t.Fatal(err)
	}
	if d, err := s.StatBlob(ctx, "app", sha256Of(nil)); err != nil || d.Size != 0 {
		t.Fatalf("StatBlob = %+v, %v", d, err)
	}
}

func TestCancelEndsTheSession(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t)
	u, err := s.NewUpload(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, 0, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	if err := u.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, 3, strings.NewReader("d")); !errors.Is(err, ErrUploadUnknown) {
		t.Errorf("Append after cancel = %v, want ErrUploadUnknown", err)
	}
	if err := u.Cancel(ctx); !errors.Is(err, ErrUploadUnknown) {
		t.Errorf("second Cancel = %v, want ErrUploadUnknown", err)
	}
	assertNoUploads(t, root, "app")
}

func TestPurgeUploadsRemovesOnlyStaleSessions(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t)
	stale, _ := s.NewUpload(ctx, "a/deep/repo")
	fresh, _ := s.NewUpload(ctx, "a/deep/repo")
	other, _ := s.NewUpload(ctx, "b")
	old := time.Now().Add(-200 * time.Hour).UTC().Format(time.RFC3339)
	for _, p := range []string{
		v2(root, "repositories", "a/deep/repo", "_uploads", stale.ID(), "startedat"),
		v2(root, "repositories", "b", "_uploads", other.ID(), "startedat"),
	} {
		if err := os.WriteFile(p, []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A session without startedat (crash in NewUpload) goes by its age.
	orphan := v2(root, "repositories", "b", "_uploads", "11111111-1111-4111-8111-111111111111")
	os.MkdirAll(orphan, 0o755)
	ageAll(t, orphan, 200*time.Hour)

	n, err := s.PurgeUploads(ctx, 0) // default: 168h
	if err != nil || n != 3 {
		t.Fatalf("PurgeUploads = %d, %v; want 3", n, err)
	}
	if _, err := s.Upload(ctx, "a/deep/repo", fresh.ID()); err != nil {
		t.Errorf("fresh session purged: %v", err)
	}
	for _, u := range []*Upload{stale, other} {
		if _, err := s.Upload(ctx, u.repo, u.ID()); !errors.Is(err, ErrUploadUnknown) {
			t.Errorf("stale session %s survived: %v", u.ID(), err)
		}
	}
	if exists(orphan) {
		t.Error("orphan session survived")
	}
}

func TestUploadStartedAtIsRecorded(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t)
	before := time.Now().Add(-time.Second)
	u, err := s.NewUpload(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(v2(root, "repositories", "app", "_uploads", u.ID(), "startedat"))
	at, err := time.Parse(time.RFC3339, string(b))
	if err != nil || at.Before(before.Truncate(time.Second)) {
		t.Fatalf("startedat %q: %v", b, err)
	}
	u2, _ := reopen(t, root).Upload(ctx, "app", u.ID())
	if !u2.StartedAt().Equal(at) || !u.StartedAt().Equal(at) {
		t.Errorf("StartedAt = %v / %v, want %v", u.StartedAt(), u2.StartedAt(), at)
	}
}
