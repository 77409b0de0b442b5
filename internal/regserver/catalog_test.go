package regserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/pkg/token"
)

func pullRule(name string, actions ...string) token.PullRule {
	r := token.PullRule{Actions: actions}
	if name != "" {
		r.Name = &name
	}
	return r
}

// catalogPages walks /v2/_catalog n at a time with header, checking that
// every page but the last is full and that Link is present exactly when
// another page follows, and returns every name listed.
func catalogPages(t *testing.T, tr *testRegistry, header map[string]string, n int) []string {
	t.Helper()
	var all []string
	path := fmt.Sprintf("/v2/_catalog?n=%d", n)
	for range 100 {
		resp, body := tr.do(t, request{method: "GET", path: path, header: header})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		var page catalogList
		if err := json.Unmarshal(body, &page); err != nil || page.Repositories == nil {
			t.Fatalf("GET %s: %s (%v)", path, body, err)
		}
		all = append(all, page.Repositories...)
		link := resp.Header.Get("Link")
		if link == "" {
			return all
		}
		if len(page.Repositories) != n {
			t.Fatalf("GET %s: page of %d with a Link, want %d", path, len(page.Repositories), n)
		}
		next, ok := strings.CutPrefix(link, "<")
		if path, ok = strings.CutSuffix(next, `>; rel="next"`); !ok {
			t.Fatalf("Link %q", link)
		}
	}
	t.Fatal("more than 100 pages")
	return nil
}

func TestCatalogListsWhatThePullClaimGrants(t *testing.T) {
	ca := newTokenCA(t)
	tr := newTokenRegistry(t, ca, testRealm)
	repos := []string{"centos", "lib-1", "lib-2", "lib-x", "nginx", "secret/a", "team/a", "team/b", "team/sub/c", "zed"}
	for _, repo := range repos {
		admin := bearerHeader(ca.sign(t, "admin", grant("repository", repo, "*")))
		tr.pushManifest(t, repo, "v1", tr.testImage(t, repo, repo, admin), admin)
	}
	exp := time.Now().Add(time.Minute)
	claim := func(rules ...token.PullRule) *[]token.PullRule { return &rules }
	tests := []struct {
		name  string
		pull  *[]token.PullRule
		grant []token.ResourceActions
		want  []string
	}{
		{"every pull, as for an admin", claim(pullRule("", "pull")), []token.ResourceActions{grant("registry", "catalog", "*")}, repos},
		{"only nginx, as for the seed's reader, without a catalog grant", claim(pullRule("nginx", "pull")), nil, []string{"nginx"}},
		{"nothing, as for anonymous", claim(), nil, []string{}},
		{"first match wins: a deny shadows a later grant", claim(pullRule("team/sub/*"), pullRule("team/**", "pull"), pullRule("/^lib-[0-9]$/", "pull")),
			nil, []string{"lib-1", "lib-2", "team/a", "team/b"}},
		{"the claim narrows even an explicit catalog grant", claim(pullRule("zed", "pull")), []token.ResourceActions{grant("registry", "catalog", "*")}, []string{"zed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := bearerHeader(ca.signPull(t, "u", exp, tt.pull, tt.grant...))
			for _, n := range []int{1, 2, 3, 1000} {
				if got := catalogPages(t, tr, h, n); !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
					t.Fatalf("n=%d: %q, want %q", n, got, tt.want)
				}
			}
		})
	}

	t.Run("without the claim the grant decides, strictly", func(t *testing.T) {
		full := bearerHeader(ca.sign(t, "ui", grant("registry", "catalog", "*")))
		if got := catalogPages(t, tr, full, 4); !slices.Equal(got, repos) {
			t.Errorf("catalog grant without the claim: %q, want everything", got)
		}
		resp, _ := tr.do(t, request{method: "GET", path: "/v2/_catalog", header: bearerHeader(ca.sign(t, "reader", grant("repository", "nginx", "pull")))})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("no grant, no claim: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("the claim opens the catalog, nothing else", func(t *testing.T) {
		h := bearerHeader(ca.signPull(t, "u", exp, claim(pullRule("", "pull"))))
		resp, _ := tr.do(t, request{method: "GET", path: "/v2/nginx/manifests/v1", header: h})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("pull with only the claim: %d, want 401", resp.StatusCode)
		}
	})
	t.Run("a claim that does not compile is an invalid token", func(t *testing.T) {
		h := bearerHeader(ca.signPull(t, "u", exp, claim(pullRule("/(/", "pull"))))
		resp, body := tr.do(t, request{method: "GET", path: "/v2/_catalog", header: h})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("got %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	})
}

// manyRepositories writes the store layout of count repositories straight
// to disk (a revision link each, all that makes a directory a repository
// for the catalog) and returns their names, sorted.
func manyRepositories(t testing.TB, root string, name func(i int) string, count int) []string {
	t.Helper()
	link := []byte("sha256:" + strings.Repeat("ab", 32))
	names := make([]string, count)
	for i := range count {
		names[i] = name(i)
		dir := filepath.Join(root, "docker/registry/v2/repositories", names[i], "_manifests/revisions/sha256", strings.Repeat("ab", 32))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "link"), link, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(names)
	return names
}

// The case: 10,000 repositories, a user allowed 100 of them, in
// pages of 100: both a namespace of their own and names spread over the
// whole store. The time is measured by BenchmarkFilteredCatalogPage.
func TestFilteredCatalogOf10000Repositories(t *testing.T) {
	for _, c := range catalogCases {
		t.Run(c.name, func(t *testing.T) {
			tr, h, allowed := c.setup(t)
			got := catalogPages(t, tr, h, 100)
			if len(allowed) != 100 || !slices.Equal(got, allowed) {
				t.Fatalf("listed %d names, want the %d allowed: %q...", len(got), len(allowed), got[:min(len(got), 5)])
			}
			resp, body := tr.do(t, request{method: "GET", path: "/v2/_catalog?n=100", header: h})
			if resp.StatusCode != 200 || resp.Header.Get("Link") != "" || !strings.Contains(string(body), allowed[99]) {
				t.Fatalf("the one page of 100: %d, Link %q", resp.StatusCode, resp.Header.Get("Link"))
			}
		})
	}
}

// catalogCases are the 10,000/100 stores: a team namespace (100 teams of
// 100), and every 100th of 10,000 flat names by a regexp.
var catalogCases = []struct {
	name  string
	setup func(t testing.TB) (*testRegistry, map[string]string, []string)
}{
	{"one namespace of 100 teams", func(t testing.TB) (*testRegistry, map[string]string, []string) {
		return catalogStore(t, func(i int) string { return fmt.Sprintf("team-%02d/app-%02d", i/100, i%100) },
			pullRule("team-42/*", "pull"), func(n string) bool { return strings.HasPrefix(n, "team-42/") })
	}},
	{"every 100th flat name", func(t testing.TB) (*testRegistry, map[string]string, []string) {
		return catalogStore(t, func(i int) string { return fmt.Sprintf("repo-%05d", i) },
			pullRule(`/^repo-[0-9]{3}00$/`, "pull"), func(n string) bool { return strings.HasSuffix(n, "00") })
	}},
}

func catalogStore(t testing.TB, name func(int) string, rule token.PullRule, allowed func(string) bool) (*testRegistry, map[string]string, []string) {
	ca := newTokenCA(t)
	root := memoryDir(t)
	tr := newRegistry(t, func(c *regconfig.Config) {
		c.Auth.Token = &regconfig.TokenAuth{Realm: testRealm, Service: testService, Issuer: testIssuer, RootCertBundle: ca.bundle}
		c.Storage.Filesystem.RootDirectory = root
	})
	names := manyRepositories(t, root, name, 10000)
	rules := []token.PullRule{pullRule("secret-*"), rule}
	h := bearerHeader(ca.signPull(t, "u", time.Now().Add(time.Hour), &rules))
	return tr, h, slices.DeleteFunc(names, func(n string) bool { return !allowed(n) })
}

// memoryDir is a temporary directory in /dev/shm when the machine has
// one: writing 10,000 repositories to a busy disk takes half a minute,
// to tmpfs a second. The listing reads the same files either way (from
// the page cache, once written).
func memoryDir(t testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "wharf-catalog-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// BenchmarkFilteredCatalogPage measures the server time of one page of 100
// from 10,000 repositories of which the bearer may pull 100 (issue 13:
// under 50 ms). It calls the handler directly: no network, no client.
func BenchmarkFilteredCatalogPage(b *testing.B) {
	for _, c := range catalogCases {
		b.Run(c.name, func(b *testing.B) {
			tr, h, _ := c.setup(b)
			handler := tr.srv.Handler()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/v2/_catalog?n=100", nil)
				req.Header.Set("Authorization", h["Authorization"])
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || rec.Header().Get("Link") != "" {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/page")
		})
	}
}

// A token of stock docker_auth has no pull claim: its registry:catalog:*
// grant lists everything, as it did before the filtered catalog.
func TestDockerAuthCatalogTokenListsEverything(t *testing.T) {
	dir, f := loadDockerAuthTokens(t)
	found := 0
	for _, tk := range f.Tokens {
		if filepath.Base(tk.File) != "admin-catalog.jwt" {
			continue
		}
		found++
		t.Run(tk.File, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, tk.File))
			if err != nil {
				t.Fatal(err)
			}
			iat := time.Unix(tk.IAT, 0)
			reg := newRegistryAt(t, func() time.Time { return iat }, func(c *regconfig.Config) {
				c.Auth.Token = &regconfig.TokenAuth{
					Realm: f.RegistrySettings.Realm[tk.Key], Service: f.RegistrySettings.Service,
					Issuer: f.RegistrySettings.Issuer, RootCertBundle: filepath.Join(dir, f.Keys[tk.Key].Certificate),
				}
			})
			names := manyRepositories(t, reg.root, func(i int) string { return []string{"nginx", "centos", "team/app", "zed", "a-b"}[i] }, 5)
			h := bearerHeader(strings.TrimSpace(string(raw)))
			for _, n := range []int{2, 100} {
				if got := catalogPages(t, reg, h, n); !slices.Equal(got, names) {
					t.Errorf("n=%d: %q, want every repository %q", n, got, names)
				}
			}
		})
	}
	if found != 2 {
		t.Fatalf("tokens.json lists %d admin-catalog.jwt, want one per key (rsa, ec)", found)
	}
}
