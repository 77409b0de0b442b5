package testkit

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestTailKeepsTheLastLinesAndCountsTheRest(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"shorter than n", "a\nb\n", 3, "a\nb"},
		{"exactly n", "a\nb\nc", 3, "a\nb\nc"},
		{"longer than n", "a\nb\nc\nd\n", 2, "[... 2 earlier lines ...]\nc\nd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Tail(tt.in, tt.n); got != tt.want {
				t.Errorf("Tail(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestExitCodeReadsTheCommandsStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"exit 3", exec.Command("sh", "-c", "exit 3").Run(), 3},
		{"not an exit", errors.New("could not start"), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestFreePortCanBeBoundOnLoopback(t *testing.T) {
	port := FreePort(t)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("binding the free port %d: %v", port, err)
	}
	l.Close()
}

func TestWriteFileCreatesDirectories(t *testing.T) {
	dir := t.TempDir()
	path := WriteFile(t, dir, "a/b/c.txt", []byte("hello"))
	if path != filepath.Join(dir, "a", "b", "c.txt") {
		t.Errorf("path = %q", path)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "hello" {
		t.Errorf("read back %q, %v; want hello", got, err)
	}
}

func TestSyncBufferKeepsConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	done := make(chan struct{})
	for range 4 {
		go func() {
			for range 100 {
				b.Write([]byte("x"))
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	if got := b.String(); got != strings.Repeat("x", 400) {
		t.Errorf("got %d bytes, want 400", len(got))
	}
}
