package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// The pull-through cache against local upstreams (no internet here): our
// registry behind our auth server, which the cache logs in to with a
// pull-only account through the token flow, and the stock registry:3,
// anonymous. Every upstream sits behind a counting reverse proxy.

// upstreams is the two upstreams of a test, behind their counters.
type upstreams struct {
	token, stock         *testkit.CountingProxy
	tokenHost, stockHost string // where the test pushes (not counted)
	pusher               client // may push to the token upstream
}

func startUpstreams(t *testing.T) upstreams {
	t.Helper()
	stack := startTokenStack(t, p256, "libtrust")
	stock := startStockRegistry(t, testkit.StockRegistryBinary(t, testkit.StockRegistryV3), t.TempDir())
	return upstreams{
		token: testkit.NewCountingProxy(t, stack.registry.URL("http")), stock: testkit.NewCountingProxy(t, stock.URL("http")),
		tokenHost: stack.registry.Host(), stockHost: stock.Host(),
		pusher: newClient(t, admin, nil),
	}
}

// Several upstreams in one registry, beside a writable repository: images
// and a multi-platform index come through identical by digest, a second
// pull asks no upstream anything, and proxied repositories refuse pushes
// and deletes with 405 UNSUPPORTED while the others take them.
func TestPullThroughCacheServesSeveralUpstreams(t *testing.T) {
	t.Parallel()
	ups := startUpstreams(t)
	img := pushImage(t, ups.pusher, ups.tokenHost+"/team/app:1.0")
	idx := pushIndex(t, newClient(t, account{}, nil), ups.stockHost+"/multi:1")
	cache := startCache(t, proxiesSection("1h",
		"private="+ups.token.URL()+" "+puller.name+":"+puller.password,
		"stock="+ups.stock.URL()))
	anon := newClient(t, account{}, nil)
	h := cache.Host()

	for round := 1; round <= 2; round++ {
		before := ups.token.Total() + ups.stock.Total()
		pullImage(t, anon, h+"/private/team/app:1.0", img)
		pullIndex(t, anon, h+"/stock/multi:1", idx)
		asked := ups.token.Total() + ups.stock.Total() - before
		switch {
		case round == 1 && asked == 0:
			t.Fatal("first pull: the upstreams saw no request")
		case round == 2 && asked != 0:
			t.Errorf("second pull asked the upstreams %d times, want 0 (token: %v, stock: %v)", asked, ups.token.Counts(), ups.stock.Counts())
		}
	}
	if hits := metric(t, cache, "registry_proxy_hits_total", `upstream="stock"`, `kind="blob"`); hits < 1 {
		t.Errorf("registry_proxy_hits_total{upstream=stock,kind=blob} = %v, want > 0", hits)
	}
	if n := metric(t, cache, "registry_proxy_upstream_bytes_total", `upstream="private"`); n < 2048 {
		t.Errorf("registry_proxy_upstream_bytes_total{upstream=private} = %v, want at least the layers' 2048", n)
	}

	tags, err := remote.List(ref(t, h+"/stock/multi:1").Context(), anon.opts...)
	if err != nil || len(tags) != 1 || tags[0] != "1" {
		t.Errorf("tags of stock/multi through the cache: %v, %v; want the upstream's [1]", tags, err)
	}
	pushImage(t, ups.pusher, ups.tokenHost+"/team/app:2.0")
	tags, err = remote.List(ref(t, h+"/private/team/app:1.0").Context(), anon.opts...)
	if err != nil || len(tags) != 2 {
		t.Errorf("tags of private/team/app through the cache: %v, %v; want the upstream's [1.0 2.0]", tags, err)
	}

	local := pushImage(t, anon, h+"/mine/app:1")
	pullImage(t, anon, h+"/mine/app:1", local)
	err = remote.Write(ref(t, h+"/private/team/app:2"), local, anon.opts...)
	wantHTTPError(t, "push into a proxied repository", err, http.StatusMethodNotAllowed, transport.ErrorCode("UNSUPPORTED"))
	d, _ := img.Digest()
	err = remote.Delete(digestRef(t, h, "private/team/app", d), anon.opts...)
	wantHTTPError(t, "delete in a proxied repository", err, http.StatusMethodNotAllowed, transport.ErrorCode("UNSUPPORTED"))
	_, err = remote.Image(ref(t, h+"/stock/absent:1"), anon.opts...)
	wantHTTPError(t, "an image the upstream lacks", err, http.StatusNotFound, transport.ManifestUnknownErrorCode)
}

// A tag moved upstream is seen once its TTL has passed (after a HEAD),
// not before.
func TestPullThroughCacheRevalidatesTagsAfterTheirTTL(t *testing.T) {
	t.Parallel()
	const ttl = 8 * time.Second
	ups := startUpstreams(t)
	first := pushImage(t, ups.pusher, ups.tokenHost+"/app:latest")
	cache := startCache(t, proxiesSection(ttl.String(), "private="+ups.token.URL()+" "+puller.name+":"+puller.password))
	anon := newClient(t, account{}, nil)
	tagRef := cache.Host() + "/private/app:latest"

	cachedFrom := time.Now()
	pullImage(t, anon, tagRef, first)
	second := pushImage(t, ups.pusher, ups.tokenHost+"/app:latest")
	pullImage(t, anon, tagRef, first)
	if took := time.Since(cachedFrom); took > ttl/2 {
		t.Fatalf("the pulls within the TTL took %v, too close to the TTL of %v to tell anything", took, ttl)
	}
	heads := ups.token.Counts()["HEAD manifests"]
	time.Sleep(time.Until(cachedFrom.Add(ttl + 3*time.Second)))
	pullImage(t, anon, tagRef, second)
	if n := ups.token.Counts()["HEAD manifests"]; n <= heads {
		t.Errorf("upstream saw %d manifest HEADs after the TTL, %d before: want a revalidation", n, heads)
	}
}

// With the upstream gone, whatever was cached is still served, a tag past
// its TTL included (stale, counted), and what was never cached is a quick
// 503 with an OCI error body.
func TestPullThroughCacheOutlivesItsUpstream(t *testing.T) {
	t.Parallel()
	ups := startUpstreams(t)
	anon := newClient(t, account{}, nil)
	img := pushImage(t, anon, ups.stockHost+"/app:1")
	pushImage(t, anon, ups.stockHost+"/other:1")
	cache := startCache(t, proxiesSection("2s", "stock="+ups.stock.URL()))
	h := cache.Host()
	pullImage(t, anon, h+"/stock/app:1", img)
	d, _ := img.Digest()

	ups.stock.Close()
	time.Sleep(5 * time.Second) // the tag's TTL of 2s has passed
	pullImage(t, anon, h+"/stock/app:1", img)
	pullImage(t, anon, fmt.Sprintf("%s/stock/app@%s", h, d), img)
	if tags, err := remote.List(ref(t, h+"/stock/app:1").Context(), anon.opts...); err != nil || len(tags) != 1 || tags[0] != "1" {
		t.Errorf("tags with the upstream down: %v, %v; want the cached [1]", tags, err)
	}
	if n := metric(t, cache, "registry_proxy_stale_total", `upstream="stock"`); n < 1 {
		t.Errorf("registry_proxy_stale_total{upstream=stock} = %v, want at least 1", n)
	}

	started := time.Now()
	resp, body := httpGet(t, cache.URL("http")+"/v2/stock/other/manifests/1", "", "")
	if took := time.Since(started); took > 10*time.Second {
		t.Errorf("an uncached manifest of a stopped upstream took %v to fail", took)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("uncached manifest of a stopped upstream: %d %s, want 503", resp.StatusCode, body)
	}
	wantOCIError(t, resp, body, "UNAVAILABLE")
	if n := metric(t, cache, "registry_proxy_upstream_errors_total", `upstream="stock"`, `code="503"`); n < 2 {
		t.Errorf("registry_proxy_upstream_errors_total{upstream=stock,code=503} = %v, want the stale revalidation and the uncached pull", n)
	}
	if n := metric(t, cache, "registry_proxy_misses_total", `upstream="stock"`, `kind="manifest"`); n < 2 {
		t.Errorf("registry_proxy_misses_total{upstream=stock,kind=manifest} = %v, want the first pull and the uncached one", n)
	}
}

// registry:2's mirror recipe: REGISTRY_PROXY_REMOTEURL makes the whole
// registry a cache of one upstream, and local auth (htpasswd here) still
// decides who may pull.
func TestRegistry2MirrorRecipeWithLocalAuth(t *testing.T) {
	t.Parallel()
	ups := startUpstreams(t)
	anon := newClient(t, account{}, nil)
	img := pushImage(t, anon, ups.stockHost+"/library/hello:latest")
	dir := t.TempDir()
	htpasswd := testkit.WriteFile(t, dir, "htpasswd", []byte(htpasswdLine(t, puller.name, puller.password)+"\n"))
	cache := startCache(t, "", "REGISTRY_PROXY_REMOTEURL="+ups.stock.URL(),
		"REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=mirror", "REGISTRY_AUTH_HTPASSWD_PATH="+htpasswd)
	h := cache.Host()

	_, err := remote.Image(ref(t, h+"/library/hello:latest"), anon.opts...)
	wantHTTPError(t, "anonymous pull", err, http.StatusUnauthorized, transport.UnauthorizedErrorCode)
	if n := ups.stock.Total(); n != 0 {
		t.Errorf("an unauthorized pull reached the upstream (%d requests)", n)
	}
	user := newClient(t, puller, nil)
	pullImage(t, user, h+"/library/hello:latest", img)
	err = remote.Write(ref(t, h+"/library/hello:2"), img, user.opts...)
	wantHTTPError(t, "push to the mirror", err, http.StatusMethodNotAllowed, transport.ErrorCode("UNSUPPORTED"))
}
