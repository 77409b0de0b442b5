package regproxy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/testkit"
)

// Concurrent pulls of one blob, in-process so the race detector watches
// the single flight: one upstream GET, and every client gets the bytes.
// The upstream sends slowly enough that the pulls overlap.
func TestConcurrentPullsOfABlobShareOneFetch(t *testing.T) {
	blob := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	sum := sha256.Sum256(blob)
	d := "sha256:" + hex.EncodeToString(sum[:])
	var gets atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/blobs/"+d) {
			http.NotFound(w, r)
			return
		}
		gets.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
		for i := 0; i < len(blob); i += 64 << 10 {
			_, _ = w.Write(blob[i : i+64<<10])
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond)
		}
	}))
	t.Cleanup(up.Close)
	ttl := regconfig.D(time.Hour)
	_, _, cache := newRegistry(t, func(cfg *regconfig.Config) {
		cfg.Proxies = []regconfig.ProxyEntry{{Prefix: "up", Proxy: regconfig.Proxy{RemoteURL: up.URL, TTL: &ttl}}}
	})
	errs := testkit.AtOnce(10, func(int) error {
		resp, err := http.Get("http://" + cache + "/v2/up/app/blobs/" + d)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, blob) {
			return fmt.Errorf("status %d, %d bytes, %v", resp.StatusCode, len(got), err)
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
	if n := gets.Load(); n != 1 {
		t.Errorf("upstream blob GETs = %d, want 1", n)
	}
}
