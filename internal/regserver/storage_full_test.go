package regserver

import (
	"fmt"
	"net/http"
	"os"
	"syscall"
	"testing"
)

// TestFullStorageIsA507: a write refused for want of space or quota, as
// the filesystem driver wraps it, is 507 with a message that says so, not
// an opaque 500. (test/hardening fills a real tmpfs under the binary.)
func TestFullStorageIsA507(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		err := fmt.Errorf("storage /docker/registry/v2/x: %w", &os.PathError{Op: "write", Path: "/x", Err: errno})
		if e := asError(err); e.Status != http.StatusInsufficientStorage || e.Code != codeUnknown || e.Message != "storage is full" {
			t.Errorf("%v: %d %s %q, want 507 UNKNOWN \"storage is full\"", errno, e.Status, e.Code, e.Message)
		}
	}
	if e := asError(&os.PathError{Op: "write", Path: "/x", Err: syscall.EIO}); e.Status != http.StatusInternalServerError {
		t.Errorf("EIO: %d, want 500", e.Status)
	}
}
