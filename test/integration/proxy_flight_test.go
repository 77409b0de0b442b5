package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// Concurrent first pulls through the cache share one upstream request:
// of a manifest (by tag, and its revalidation once the TTL has passed)
// and of a blob.

// 20 clients pulling a tag the cache has never seen make one upstream
// manifest GET; once its TTL has passed, 20 more make one HEAD.
func TestPullThroughCacheAsksForAManifestOnceForConcurrentPulls(t *testing.T) {
	t.Parallel()
	const clients, ttl = 20, 5 * time.Second
	ups := startUpstreams(t)
	anon := newClient(t, account{}, nil)
	img := pushImage(t, anon, ups.stockHost+"/app:new")
	cache := startCache(t, proxiesSection(ttl.String(), "stock="+ups.stock.URL()))
	tagRef := ref(t, cache.Host()+"/stock/app:new")
	want, _ := img.Digest()

	burst := func() {
		t.Helper()
		for i, err := range testkit.AtOnce(clients, func(int) error {
			got, err := remote.Image(tagRef, anon.opts...)
			if err != nil {
				return err
			}
			if d, err := got.Digest(); err != nil || d != want {
				return fmt.Errorf("manifest %s (%v), want %s", d, err, want)
			}
			return nil
		}) {
			if err != nil {
				t.Errorf("client %d: %v", i, err)
			}
		}
	}
	cachedFrom := time.Now()
	burst()
	if n := ups.stock.Counts()["GET manifests"]; n != 1 {
		t.Errorf("%d concurrent first pulls made %d upstream manifest GETs, want 1 (%v)", clients, n, ups.stock.Counts())
	}
	if took := time.Since(cachedFrom); took > ttl/2 {
		t.Fatalf("the first pulls took %v, too close to the TTL of %v to tell anything", took, ttl)
	}
	before := ups.stock.Counts()
	time.Sleep(time.Until(cachedFrom.Add(ttl + 3*time.Second)))
	burst()
	after := ups.stock.Counts()
	if n := after["HEAD manifests"] - before["HEAD manifests"]; n != 1 {
		t.Errorf("%d concurrent pulls past the TTL made %d upstream manifest HEADs, want 1 (%v)", clients, n, after)
	}
	if n := after["GET manifests"] - before["GET manifests"]; n != 0 {
		t.Errorf("revalidating an unchanged tag made %d manifest GETs, want 0", n)
	}
}

// 20 clients pulling one 256 MiB blob at once make one upstream fetch,
// and every client gets the right bytes.
func TestPullThroughCacheFetchesABlobOnceForConcurrentPulls(t *testing.T) {
	t.Parallel()
	const size, clients = 256 << 20, 20
	ups := startUpstreams(t)
	blob := make([]byte, size)
	for i := range blob {
		blob[i] = byte(i*7 + i>>13)
	}
	sum := sha256.Sum256(blob)
	d := "sha256:" + hex.EncodeToString(sum[:])
	putBlob(t, "http://"+ups.stockHost, "big", d, blob)
	cache := startCache(t, proxiesSection("1h", "stock="+ups.stock.URL()))

	url := cache.URL("http") + "/v2/stock/big/blobs/" + d
	pull := func(url string) error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		if err != nil {
			return err
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); n != size || got != d {
			return fmt.Errorf("got %d bytes, %s", n, got)
		}
		return nil
	}
	started := time.Now()
	errs := testkit.AtOnce(clients, func(int) error { return pull(url) })
	cold := time.Since(started)
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
	if n := ups.stock.Counts()["GET blobs"]; n != 1 {
		t.Errorf("upstream blob GETs = %d, want 1 (%v)", n, ups.stock.Counts())
	}
	// Figures for the notes, not assertions: this machine is shared.
	timed := func(url string) time.Duration {
		started := time.Now()
		if err := pull(url); err != nil {
			t.Errorf("pulling %s: %v", url, err)
		}
		return time.Since(started)
	}
	t.Logf("%d concurrent cold pulls of %d MiB: %v; one cached pull: %v; one pull straight from registry:3: %v",
		clients, size>>20, cold, timed(url), timed("http://"+ups.stockHost+"/v2/big/blobs/"+d))
}

// putBlob uploads a blob in one monolithic POST+PUT, as a plain client.
func putBlob(t *testing.T, base, repo, d string, data []byte) {
	t.Helper()
	resp, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting an upload: %d, %v", resp.StatusCode, err)
	}
	q := loc.Query()
	q.Set("digest", d)
	loc.RawQuery = q.Encode()
	req, _ := http.NewRequest(http.MethodPut, loc.String(), bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("finishing the upload: %d", resp.StatusCode)
	}
}
