package hardening

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// mountTmpfs mounts a tmpfs of size on a fresh directory and unmounts it
// when the test ends (after the processes using it are killed). Without
// the privilege to mount, the test is skipped saying so, except in CI, which
// runs as root: there it fails.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput()
	if err != nil && os.Getenv("CI") != "" {
		t.Fatalf("a full disk is simulated with a %s tmpfs, and `mount -t tmpfs` failed in CI: %v: %s", size, err, bytes.TrimSpace(out))
	}
	if err != nil {
		t.Skipf("a full disk is simulated with a %s tmpfs, and `mount -t tmpfs` failed (it needs root or CAP_SYS_ADMIN): %v: %s", size, err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestFullDiskFailsPushesCleanlyAndKeepsServingReads fills an 8 MiB
// tmpfs under the registry binary: every push that does not fit gets a
// 507 with an OCI error body, nothing half-written becomes visible, the
// storage health check does not turn the registry off (reads go on), and
// once space is freed pushes work again.
func TestFullDiskFailsPushesCleanlyAndKeepsServingReads(t *testing.T) {
	registryBinary(t)
	root := mountTmpfs(t, "8m")
	p := startBinary(t, root, "health:\n  storagedriver:\n    enabled: true\n    interval: 20ms\n    threshold: 2\n")

	const repo = "app"
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := randomData(64<<10, 1)
	pushBlobTo(t, p.URL, repo, config)
	pushBlobTo(t, p.URL, repo, layer)
	small := imageManifest(digest.FromBytes(config), len(config), digest.FromBytes(layer), len(layer))
	pushManifestTo(t, p.URL, repo, "small", small)

	big := randomData(16<<20, 2)
	bigDigest := digest.FromBytes(big)
	wantFull := func(t *testing.T, what string, resp *http.Response, body []byte) {
		t.Helper()
		if resp.StatusCode != http.StatusInsufficientStorage || errorCode(body) != "UNKNOWN" || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s on a full disk: %d %q %s, want 507 with one UNKNOWN error", what, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}

	t.Run("a monolithic blob push", func(t *testing.T) {
		resp, body := do(t, p.URL, request{method: "POST", path: "/v2/" + repo + "/blobs/uploads/?digest=" + bigDigest.String(), body: big})
		wantFull(t, "POST ?digest=", resp, body)
	})
	var session string
	t.Run("a chunk", func(t *testing.T) {
		session = openSession(t, p.URL, repo)
		resp, body := do(t, p.URL, request{method: "PATCH", path: session, body: big})
		wantFull(t, "PATCH", resp, body)
	})
	// A chunk that did not fit is discarded whole (nothing half-written is
	// kept), which frees its space again: fill what is left, outside the
	// registry's tree, so the disk stays full for the manifest.
	filler := fillDisk(t, root)
	t.Run("a manifest", func(t *testing.T) {
		other := append(small[:len(small)-1:len(small)-1], []byte(`,"annotations":{"x":"y"}}`)...)
		resp, body := do(t, p.URL, request{method: "PUT", path: "/v2/" + repo + "/manifests/other", body: other,
			header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}})
		wantFull(t, "PUT manifest", resp, body)
		if resp, _ := do(t, p.URL, request{method: "HEAD", path: "/v2/" + repo + "/manifests/other"}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("the refused manifest's tag answers %d", resp.StatusCode)
		}
	})
	if resp, _ := do(t, p.URL, request{method: "HEAD", path: "/v2/" + repo + "/blobs/" + bigDigest.String()}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the blob that did not fit answers %d", resp.StatusCode)
	}

	t.Run("reads go on after the health check has seen the full disk", func(t *testing.T) {
		if got := p.waitForLog(t, "storage is full", "storage unhealthy"); got != "storage is full" {
			t.Errorf("the health check turned the API off: it logged %q", got)
		}
		// /healthz serves the periodic check (every 20 ms): wait for one
		// that ran on the full disk, topping it up meanwhile. The deadline
		// only guards against a hang.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			resp, body := do(t, p.URL, request{method: "GET", path: "/healthz"})
			if resp.StatusCode == http.StatusServiceUnavailable && errorCode(body) == "UNAVAILABLE" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("/healthz on a full disk: %d %s, want 503 UNAVAILABLE", resp.StatusCode, body)
				break
			}
			fillDisk(t, root)
		}
		if resp, got := do(t, p.URL, request{method: "GET", path: "/v2/" + repo + "/manifests/small"}); resp.StatusCode != 200 || !bytes.Equal(got, small) {
			t.Errorf("GET manifest: %d %.200s", resp.StatusCode, got)
		}
		if resp, got := do(t, p.URL, request{method: "GET", path: "/v2/" + repo + "/blobs/" + digest.FromBytes(layer).String()}); resp.StatusCode != 200 || !bytes.Equal(got, layer) {
			t.Errorf("GET blob: %d, %d bytes", resp.StatusCode, len(got))
		}
		if resp, got := do(t, p.URL, request{method: "GET", path: "/v2/" + repo + "/tags/list"}); resp.StatusCode != 200 || string(got) != `{"name":"app","tags":["small"]}`+"\n" {
			t.Errorf("GET tags: %d %s", resp.StatusCode, got)
		}
	})

	t.Run("pushes work again once space is freed", func(t *testing.T) {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if resp, body := do(t, p.URL, request{method: "DELETE", path: session}); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("cancel the session: %d %s", resp.StatusCode, body)
		}
		pushBlobTo(t, p.URL, repo, big[:1<<20])
		pushManifestTo(t, p.URL, repo, "again", small)
		// /healthz serves the periodic check (every 20ms here): the next
		// one sees the space. The deadline only guards against a hang.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			resp, body := do(t, p.URL, request{method: "GET", path: "/healthz"})
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("/healthz after freeing space: %d %s", resp.StatusCode, body)
				break
			}
		}
	})
	fsck(t, p)
	checkBlobFiles(t, root)
}

// fillDisk appends to a file in dir until the file system is full and
// returns its path; called again, it tops the file up. The registry's health
// probe writes and removes a small file every 20 ms: a probe in flight while
// the disk filled gives its page back afterwards, and that one page would let
// every later probe and small write pass. So it tops up until two rounds a
// few probes apart find nothing more to take.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	topUp := func() (blocks int) {
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling %s: %v", dir, err)
				}
				return blocks
			}
			blocks++
		}
	}
	topUp()
	for quiet := 0; quiet < 2; {
		time.Sleep(50 * time.Millisecond)
		if topUp() == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return path
}
