package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// TestSeed002CatalogShowsEachAccountWhatItMayPull runs the filtered catalog
// (issue 13) through go-containerregistry against seed 002's deployment:
// first its auth_config.yml as written, then with the reader allowed a
// team namespace and an explicit deny of the catalog for the admin.
func TestSeed002CatalogShowsEachAccountWhatItMayPull(t *testing.T) {
	t.Parallel()
	seedConfig, err := os.ReadFile("testdata/seed002_auth_config.yml")
	if err != nil {
		t.Fatal(err)
	}
	repos := []string{"alpine", "centos", "nginx", "team/a", "team/b", "team/c", "team/sub/d", "zzz"}

	t.Run("as written", func(t *testing.T) {
		host, roots := startSeed002(t, seedConfig)
		admin, reader := newClient(t, seedAdmin, roots), newClient(t, seedReader, roots)
		pushAll(t, host, admin, repos)
		for _, c := range []struct {
			who    string
			client client
			want   []string
		}{
			{"admin sees every repository", admin, repos},
			{"reader sees only nginx", reader, []string{"nginx"}},
			{"anonymous sees nothing", newClient(t, account{}, roots), []string{}},
		} {
			got, err := remote.Catalog(context.Background(), registry(t, host), c.client.opts...)
			if err != nil || !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("%s: got %q, %v; want %q", c.who, got, err, c.want)
			}
		}
		if page, err := remote.CatalogPage(registry(t, host), "", 1, reader.opts...); err != nil || !slices.Equal(page, []string{"nginx"}) {
			t.Errorf("reader's first page of 1: %q, %v; want [nginx]", page, err)
		}
	})

	t.Run("reader's namespace and a deny of the catalog", func(t *testing.T) {
		edited := replaceExactlyOnce(t, string(seedConfig),
			`  - match: {account: "admin"}`,
			"  - match: {account: \"admin\", type: \"registry\", name: \"catalog\"}\n    actions: []\n  - match: {account: \"admin\"}",
			`    actions: ["pull"]`,
			"    actions: [\"pull\"]\n  - match: {account: \"reader\", name: \"team/*\"}\n    actions: [\"pull\"]\n")
		host, roots := startSeed002(t, []byte(edited))
		admin, reader := newClient(t, seedAdmin, roots), newClient(t, seedReader, roots)
		pushAll(t, host, admin, repos)
		allowed := []string{"nginx", "team/a", "team/b", "team/c"}

		// Pages of 2 and 3 across the filtered set: full pages, and a Link
		// exactly when another allowed name follows. (go-containerregistry's
		// own pager refuses a relative Link from an https registry on
		// localhost, which it takes for plain http: its token flow, then
		// plain requests.)
		rt, err := transport.NewWithContext(context.Background(), registry(t, host),
			&authn.Basic{Username: seedReader.name, Password: seedReader.password}, tlsTransport(t, roots), []string{"registry:catalog:*"})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{2, 3} {
			var all []string
			next := fmt.Sprintf("/v2/_catalog?n=%d", n)
			for next != "" {
				page, link := catalogPage(t, rt, "https://"+host+next)
				all = append(all, page...)
				if more := len(all) < len(allowed); (link != "") != more || more && len(page) != n {
					t.Fatalf("n=%d: page %q with Link %q after %q", n, page, link, all)
				}
				next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			}
			if !slices.Equal(all, allowed) {
				t.Errorf("n=%d: reader listed %q, want %q", n, all, allowed)
			}
		}
		if got, err := remote.Catalog(context.Background(), registry(t, host), reader.opts...); err != nil || !slices.Equal(got, allowed) {
			t.Errorf("reader's whole catalog: %q, %v; want %q", got, err, allowed)
		}
		for last, want := range map[string][]string{"nginx": {"team/a", "team/b"}, "team/b": {"team/c"}, "team/c": {}} {
			if page, err := remote.CatalogPage(registry(t, host), last, 2, reader.opts...); err != nil || !slices.Equal(page, want) && len(page)+len(want) > 0 {
				t.Errorf("reader's page of 2 after %q: %q, %v; want %q", last, page, err, want)
			}
		}
		_, err = remote.Catalog(context.Background(), registry(t, host), admin.opts...)
		wantHTTPError(t, "admin's catalog under an explicit deny", err, 401, transport.UnauthorizedErrorCode)
	})
}

// pushAll pushes one small image to every repository as c.
func pushAll(t *testing.T, host string, c client, repos []string) {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range repos {
		if err := remote.Write(ref(t, host+"/"+r+":v1"), img, c.opts...); err != nil {
			t.Fatalf("push %s: %v", r, err)
		}
	}
}

// catalogPage GETs one catalog page through rt and returns its names and
// its Link header.
func catalogPage(t *testing.T, rt http.RoundTripper, url string) ([]string, string) {
	t.Helper()
	resp, err := (&http.Client{Transport: rt}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	var page struct {
		Repositories []string `json:"repositories"`
	}
	decodeJSON(t, body, &page)
	return page.Repositories, resp.Header.Get("Link")
}

// tlsTransport is go-containerregistry's default transport trusting roots.
func tlsTransport(t *testing.T, roots *tls.Config) http.RoundTripper {
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = roots.Clone() // HTTP/2 set-up writes to it: one each
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func registry(t *testing.T, host string) name.Registry {
	t.Helper()
	reg, err := name.NewRegistry(host, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestStockRegistry3KeepsItsCatalogRuleWithOurCatalogTokens serves seed
// 002's store with the stock registry:3 trusting our auth server: it
// accepts catalog tokens carrying the pull claim (an unknown claim to it)
// and keeps its own rule, registry:catalog:* or nothing. The admin lists
// everything; the reader, whom our registry shows nginx, is refused there
// as before, so our tokens widen nothing on a stock registry.
func TestStockRegistry3KeepsItsCatalogRuleWithOurCatalogTokens(t *testing.T) {
	t.Parallel()
	stock := testkit.StockRegistryBinary(t, testkit.StockRegistryV3)
	seedConfig, err := os.ReadFile("testdata/seed002_auth_config.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := startSeed002Stack(t, seedConfig)
	admin, reader := newClient(t, seedAdmin, s.roots), newClient(t, seedReader, s.roots)
	repos := []string{"centos", "nginx", "team/a"}
	pushAll(t, s.host, admin, repos)

	dir := t.TempDir()
	v3 := testkit.Start(t, testkit.Spec{
		Name: "registry " + testkit.StockRegistryV3.Version,
		Bin:  stock,
		Args: func(port int) []string {
			auth := fmt.Sprintf("auth:\n  token:\n    realm: %q\n    service: \"Docker registry\"\n    issuer: \"Auth Service\"\n    rootcertbundle: %q\n", s.realm, s.cert)
			return []string{"serve", testkit.WriteFile(t, dir, "config.yml", []byte(registryConfig(s.storage, port, auth)))}
		},
		Env:       func(int) []string { return []string{"OTEL_TRACES_EXPORTER=none"} },
		AnyStatus: true, // registry:3 has no /healthz: its 404 means it is up
	})
	if got, err := remote.Catalog(context.Background(), registry(t, v3.Host()), admin.opts...); err != nil || !slices.Equal(got, repos) {
		t.Errorf("admin on registry:3: %q, %v; want %q", got, err, repos)
	}
	_, err = remote.Catalog(context.Background(), registry(t, v3.Host()), reader.opts...)
	wantHTTPError(t, "reader's catalog on registry:3", err, 401, transport.UnauthorizedErrorCode)
	if _, err := remote.Image(ref(t, v3.Host()+"/nginx:v1"), reader.opts...); err != nil {
		t.Errorf("reader pulls nginx from registry:3: %v", err)
	}
}
