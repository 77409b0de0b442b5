package ui_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// rowOrder returns the values of attr in page order (data-tag, data-repo).
func rowOrder(page, attr string) []string {
	var out []string
	for _, m := range regexp.MustCompile(attr+`="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// wantIn checks that the page's text (entities decoded) holds wants.
func wantIn(t *testing.T, what, page string, wants ...string) {
	t.Helper()
	page = html.UnescapeString(page)
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Errorf("%s: %q missing from the page", what, w)
		}
	}
}

// The pages are complete HTML without running any script: what a browser
// with JavaScript off, a screen reader or curl gets.
func TestBrowsingWorksWithoutJavaScript(t *testing.T) {
	s := newStack(t, stackOptions{})
	f := pushImages(t, s.host)
	b := s.browser(t)
	b.login(admin)

	_, page := b.get("/")
	if got := strings.Join(rowOrder(page, "data-repo"), " "); got != "alpine centos nginx" {
		t.Errorf("repositories %q, want alpine centos nginx", got)
	}
	wantIn(t, "repositories", page, `<td class="num">4</td>`) // nginx's tags
	_, page = b.get("/?q=ngi")
	if got := strings.Join(rowOrder(page, "data-repo"), " "); got != "nginx" {
		t.Errorf("search ngi: %q, want nginx", got)
	}
	_, page = b.get("/?n=1")
	if got := strings.Join(rowOrder(page, "data-repo"), " "); got != "alpine" || !strings.Contains(page, "last=alpine") {
		t.Errorf("page of 1: %q, and a next link after alpine wanted:\n%s", got, page)
	}
	_, page = b.get("/?n=1&last=alpine")
	if got := strings.Join(rowOrder(page, "data-repo"), " "); got != "centos" {
		t.Errorf("second page of 1: %q, want centos", got)
	}

	for sort, want := range map[string]string{
		"name":   "1.25 1.9 latest multi",
		"semver": "1.25 1.9 latest multi",
		"date":   "multi latest 1.25 1.9",
	} {
		_, page = b.get("/repository?name=nginx&sort=" + sort)
		if got := strings.Join(rowOrder(page, "data-tag"), " "); !strings.HasPrefix(got, want) {
			t.Errorf("sort by %s: %q, want %q", sort, got, want)
		}
	}
	_, page = b.get("/repository?name=nginx")
	wantIn(t, "tags", page, f.latest.Hex[:12], "2024-06-01 12:00 UTC", "linux/amd64, linux/arm64/v8", "Delete tag")

	_, page = b.get("/manifest?name=nginx&ref=latest")
	wantIn(t, "manifest", page, "docker pull "+s.host+"/nginx:latest", f.latest.String(),
		"application/vnd.oci.image.manifest.v1+json", "/docker-entrypoint.sh", "nginx -g daemon off;",
		"NGINX_VERSION=1.25.3", "org.opencontainers.image.title", "ui-fixture", "RUN make install",
		sbomType, "ref="+strings.Replace(f.referrer.String(), ":", "%3a", 1))
	_, page = b.get("/manifest?name=nginx&ref=multi")
	wantIn(t, "index", page, "application/vnd.oci.image.index.v1+json", "linux/arm64/v8",
		`class="platform" href="/ui/manifest?name=nginx&ref=`+strings.Replace(f.amd64.String(), ":", "%3a", 1))
	_, page = b.get("/manifest?name=nginx&ref=" + f.referrer.String())
	wantIn(t, "referrer", page, sbomType, "Subject", f.latest.String(), "application/spdx+json")
}

func TestDeletingNeedsTheGrantTheCSRFTokenAndAPost(t *testing.T) {
	s := newStack(t, stackOptions{})
	pushImages(t, s.host)
	adminB, readerB := s.browser(t), s.browser(t)
	adminB.login(admin)
	readerB.login(reader)

	_, confirm := adminB.get("/delete?name=nginx&ref=1.9")
	if !tagExists(t, s.host, "nginx:1.9") {
		t.Fatal("the confirmation page deleted the tag")
	}
	adminCSRF := csrfOf(t, confirm)
	wrongCSRF := "x" + adminCSRF[1:]
	if wrongCSRF == adminCSRF {
		wrongCSRF = "y" + adminCSRF[1:]
	}
	// The filtered catalog: reader may pull nginx only.
	_, readerPage := readerB.get("/")
	if got := strings.Join(rowOrder(readerPage, "data-repo"), " "); got != "nginx" {
		t.Errorf("reader's repositories %q, want nginx only", got)
	}
	_, readerPage = readerB.get("/repository?name=nginx")
	readerCSRF := csrfOf(t, readerPage) // the logout form's
	if strings.Contains(readerPage, "Delete") {
		t.Error("the reader, granted pull only, is offered a delete button")
	}
	if resp, body := readerB.get("/delete?name=nginx&ref=1.9"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("reader's confirmation page: status %d\n%s", resp.StatusCode, body)
	}

	forged := []struct {
		name string
		b    *browser
		csrf string
	}{
		{"no CSRF token", adminB, ""},
		{"a wrong CSRF token", adminB, wrongCSRF},
		{"another session's CSRF token", adminB, readerCSRF},
		{"the reader's own session", readerB, readerCSRF},
	}
	for _, tt := range forged {
		form := url.Values{"name": {"nginx"}, "ref": {"1.9"}}
		if tt.csrf != "" {
			form.Set("csrf", tt.csrf)
		}
		resp, body := tt.b.post("/delete", form)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, `"errors"`) {
			t.Errorf("%s: status %d, want a 403 page\n%s", tt.name, resp.StatusCode, body)
		}
		if !tagExists(t, s.host, "nginx:1.9") {
			t.Fatalf("%s: the tag was deleted", tt.name)
		}
	}

	resp, _ := adminB.post("/delete", url.Values{"name": {"nginx"}, "ref": {"1.9"}, "csrf": {adminCSRF}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin's delete: status %d", resp.StatusCode)
	}
	if tagExists(t, s.host, "nginx:1.9") {
		t.Error("admin's confirmed delete left nginx:1.9")
	}
	if !tagExists(t, s.host, "nginx:latest") {
		t.Error("deleting a tag removed another one")
	}
}

func TestErrorsArePagesThatSayWhatHappened(t *testing.T) {
	s := newStack(t, stackOptions{})
	pushImages(t, s.host)
	b := s.browser(t)
	b.login(admin)
	for _, tt := range []struct {
		path   string
		status int
		says   string
	}{
		{"/repository?name=gone", http.StatusNotFound, "Repository not found"},
		{"/manifest?name=nginx&ref=nosuchtag", http.StatusNotFound, "does not exist"},
		{"/manifest?name=nginx&ref=sha256:" + strings.Repeat("0", 64), http.StatusNotFound, "does not exist"},
		{"/repository?name=..%2Fv2", http.StatusBadRequest, "not a valid repository name"},
		{"/manifest?name=nginx&ref=a%2Fb", http.StatusBadRequest, "not a valid tag or digest"},
		{"/no/such/page", http.StatusNotFound, "no such page"},
	} {
		resp, body := b.get(tt.path)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.says) ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || strings.Contains(body, `"errors"`) || strings.Contains(body, "goroutine") {
			t.Errorf("GET %s: status %d (want %d), type %q, want a page saying %q:\n%s", tt.path, resp.StatusCode, tt.status,
				resp.Header.Get("Content-Type"), tt.says, body)
		}
	}

	// The token server goes away while the user is logged in (tokens
	// already cached are used up first; a new scope needs the server).
	s.auth.Close()
	resp, body := b.get("/repository?name=centos")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "token server is unavailable") {
		t.Errorf("token server down: status %d\n%s", resp.StatusCode, body)
	}
}

func TestWithoutAuthThereIsNoLogin(t *testing.T) {
	s := newStack(t, stackOptions{mode: "none"})
	pushImages(t, s.host)
	b := s.browser(t)
	resp, page := b.get("/")
	if resp.StatusCode != http.StatusOK || strings.Join(rowOrder(page, "data-repo"), " ") != "alpine centos nginx" {
		t.Fatalf("GET /: status %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := b.get("/login"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /login: status %d, want a redirect to the repositories", resp.StatusCode)
	}
	// Deleting still needs the confirmation page's CSRF token.
	if resp, _ := b.post("/delete", url.Values{"name": {"nginx"}, "ref": {"1.9"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("delete without a CSRF token: status %d, want 403", resp.StatusCode)
	}
	_, confirm := b.get("/delete?name=nginx&ref=1.9")
	if resp, _ := b.post("/delete", url.Values{"name": {"nginx"}, "ref": {"1.9"}, "csrf": {csrfOf(t, confirm)}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("confirmed delete: status %d", resp.StatusCode)
	}
	if tagExists(t, s.host, "nginx:1.9") {
		t.Error("nginx:1.9 is still there")
	}
}

// htpasswd: the UI logs in with Basic, every user may do everything (as
// registry:2), and the pages work the same.
func TestHtpasswdLoginBrowsesAndDeletes(t *testing.T) {
	s := newStack(t, stackOptions{mode: "htpasswd"})
	pushImages(t, s.host)
	b := s.browser(t)
	if resp, body := b.post("/login", url.Values{"username": {reader.user}, "password": {"wrong"}}); resp.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(body, "Wrong username or password") {
		t.Errorf("wrong password: status %d\n%s", resp.StatusCode, body)
	}
	b.login(reader)
	_, page := b.get("/")
	if got := strings.Join(rowOrder(page, "data-repo"), " "); got != "alpine centos nginx" {
		t.Errorf("repositories %q", got)
	}
	_, page = b.get("/repository?name=centos")
	wantIn(t, "centos", page, `data-tag="7"`, "Delete tag")
	_, confirm := b.get("/delete?name=centos&ref=7")
	if resp, _ := b.post("/delete", url.Values{"name": {"centos"}, "ref": {"7"}, "csrf": {csrfOf(t, confirm)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: status %d", resp.StatusCode)
	}
	if tagExists(t, s.host, "centos:7") {
		t.Error("centos:7 is still there")
	}
}

// An ACL rule granting [] on the catalog still refuses it: the UI says so
// and offers to open a repository by name.
func TestARefusedCatalogIsSaidAndRepositoriesOpenByName(t *testing.T) {
	s := newStack(t, stackOptions{authYAML: func(y string) string {
		return strings.Replace(y, "acl:", "acl:\n  - match: {account: \"reader\", type: \"registry\", name: \"catalog\"}\n    actions: []", 1)
	}})
	pushImages(t, s.host)
	b := s.browser(t)
	b.login(reader)
	resp, page := b.get("/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="catalog-denied"`) || len(rowOrder(page, "data-repo")) != 0 {
		t.Fatalf("refused catalog: status %d\n%s", resp.StatusCode, page)
	}
	wantIn(t, "refused catalog", page, `action="/ui/repository"`, `name="name"`)
	if resp, page := b.get("/repository?name=nginx"); resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-tag="latest"`) {
		t.Errorf("nginx by name: status %d\n%s", resp.StatusCode, page)
	}
}
