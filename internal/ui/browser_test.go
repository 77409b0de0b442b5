//go:build systools

package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
	"github.com/wharf-registry/wharf/internal/testkit"
)

// programs is cmd/auth with the seed 002 auth_config.yml and cmd/registry
// with the UI turned on by REGISTRY_UI_ENABLED, both built and started as
// processes, plain http on loopback.
type programs struct {
	auth, registry *testkit.Process
}

func startPrograms(t *testing.T) programs {
	t.Helper()
	authBin, registryBin := binaries(t)
	dir := t.TempDir()
	kp := authtest.WriteKeyPair(t, dir, "token", "rsa")
	var p programs
	p.auth = testkit.Start(t, testkit.Spec{
		Name: "auth",
		Bin:  authBin,
		Args: func(port int) []string {
			// The seed's file; only the address changes, and the key pair
			// signs tokens (token.certificate/key) instead of also serving
			// TLS (server.certificate/key), so everything is plain http.
			yml := authtest.SeedConfig(t, "SERVER_CERT", "SERVER_KEY")
			yml = strings.NewReplacer(
				`addr: ":5001"`, `addr: "127.0.0.1:`+strconv.Itoa(port)+`"`,
				`certificate: "SERVER_CERT"`, ``,
				`key: "SERVER_KEY"`, ``,
				`expiration: 900`, `expiration: 900`+"\n  certificate: "+strconv.Quote(kp.Cert)+"\n  key: "+strconv.Quote(kp.Key),
			).Replace(yml)
			path := filepath.Join(dir, "auth_config.yml")
			authtest.WriteFile(t, path, yml)
			return []string{"serve", path}
		},
	})
	data := filepath.Join(dir, "data")
	p.registry = testkit.Start(t, testkit.Spec{
		Name: "registry",
		Bin:  registryBin,
		Args: func(port int) []string {
			cfg := fmt.Sprintf(`version: 0.1
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
http:
  addr: 127.0.0.1:%d
auth:
  token:
    realm: %s/auth
    service: Docker registry
    issuer: Auth Service
    rootcertbundle: %q
`, data, port, p.auth.URL("http"), kp.Cert)
			return []string{"serve", testkit.WriteFile(t, dir, "registry.yml", []byte(cfg))}
		},
		Env: func(int) []string { return []string{"REGISTRY_UI_ENABLED=true"} },
	})
	return p
}

// catalogFor is what the registry's catalog API lists for an account's
// token: the UI must show exactly that.
func catalogFor(t *testing.T, p programs, a account) (int, []string) {
	t.Helper()
	q := url.Values{"service": {"Docker registry"}, "scope": {"registry:catalog:*"}}
	req, _ := http.NewRequest(http.MethodGet, p.auth.URL("http")+"/auth?"+q.Encode(), nil)
	req.SetBasicAuth(a.user, a.password)
	var tok struct{ Token string }
	getJSON(t, req, &tok)
	req, _ = http.NewRequest(http.MethodGet, p.registry.URL("http")+"/v2/_catalog", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	var cat struct{ Repositories []string }
	return getJSON(t, req, &cat), cat.Repositories
}

func getJSON(t *testing.T, req *http.Request, v any) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", req.URL, err)
		}
	}
	return resp.StatusCode
}

// colorScheme makes the page see prefers-color-scheme: scheme.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// login fills in the login form as a user (or a password manager) does.
func login(t *testing.T, ctx context.Context, base string, a account) {
	t.Helper()
	step(t, ctx, "log in as "+a.user,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), a.user),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), a.password),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.ID("user")),
	)
	if got := eval[string](t, ctx, `document.getElementById("user").textContent`); got != a.user {
		t.Fatalf("logged in as %q, want %q", got, a.user)
	}
}

// shownRepositories is what the repositories page lists, or nil with
// denied when it says the account may not list them.
func shownRepositories(t *testing.T, ctx context.Context, base string) (repos []string, denied bool) {
	t.Helper()
	step(t, ctx, "open the repositories", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	repos = eval[[]string](t, ctx, `[...document.querySelectorAll("tr[data-repo]")].map(e => e.dataset.repo)`)
	denied = eval[bool](t, ctx, `document.getElementById("catalog-denied") !== null`)
	return repos, denied
}

func TestInABrowser(t *testing.T) {
	p := startPrograms(t)
	f := pushImages(t, p.registry.Host())
	base := p.registry.URL("http") + "/ui"
	shots := artifacts(t)

	t.Run("admin", func(t *testing.T) {
		ctx := newBrowser(t)
		login(t, ctx, base, admin)

		_, want := catalogFor(t, p, admin)
		got, _ := shownRepositories(t, ctx, base)
		if !slices.Equal(got, want) || !slices.Contains(got, "centos") {
			t.Errorf("admin sees %q; the catalog API lists %q for admin", got, want)
		}
		screenshot(t, ctx, shots, "admin-repositories")

		// Keyboard: the first Tab lands on the skip link, Enter follows it.
		step(t, ctx, "tab to the skip link", chromedp.KeyEvent("\t"))
		if got := eval[string](t, ctx, `document.activeElement.className`); got != "skip" {
			t.Errorf("the first Tab focuses %q, want the skip link", got)
		}

		step(t, ctx, "open nginx and its multi-platform tag",
			chromedp.Click(chromedp.CSS(`tr[data-repo="nginx"] a`)),
			chromedp.WaitVisible(chromedp.ID("tags")),
			chromedp.Click(chromedp.CSS(`tr[data-tag="multi"] a`)),
			chromedp.WaitVisible(chromedp.ID("platforms")),
		)
		platforms := eval[[]string](t, ctx, `[...document.querySelectorAll("a.platform")].map(a => a.textContent)`)
		if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64/v8"}) {
			t.Errorf("platforms %q", platforms)
		}
		screenshot(t, ctx, shots, "admin-index")
		step(t, ctx, "open linux/amd64",
			chromedp.Click(chromedp.CSS(`a.platform`)),
			chromedp.WaitVisible(chromedp.ID("layers")),
		)
		if got := eval[string](t, ctx, `document.getElementById("digest").textContent`); got != f.amd64.String() {
			t.Errorf("the linux/amd64 link opened %s, want %s", got, f.amd64)
		}

		step(t, ctx, "open nginx:latest and its referrer",
			chromedp.Navigate(base+"/manifest?name=nginx&ref=latest"),
			chromedp.WaitVisible(chromedp.ID("referrers")),
		)
		if got := eval[string](t, ctx, `document.querySelector("a.referrer").textContent`); got != sbomType {
			t.Errorf("referrer artifact type %q, want %q", got, sbomType)
		}
		// The copy button is shown by the UI's script: it ran under the CSP.
		if !eval[bool](t, ctx, `!document.querySelector("button.copy").hidden`) {
			t.Error("the copy button is still hidden: copy.js did not run")
		}
		screenshot(t, ctx, shots, "admin-manifest")
		step(t, ctx, "follow the referrer", chromedp.Click(chromedp.CSS("a.referrer")), chromedp.WaitVisible(chromedp.ID("digest")))
		if got := eval[string](t, ctx, `document.getElementById("digest").textContent`); got != f.referrer.String() {
			t.Errorf("the referrer link opened %s, want %s", got, f.referrer)
		}

		// A page on another site posting to the delete endpoint: the
		// SameSite=Strict cookie stays home, and there is no CSRF token.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/delete"><input name="name" value="nginx"><input name="ref" value="latest"><button id="go">win a prize</button></form>`, base)
		}))
		defer evil.Close()
		step(t, ctx, "submit the other site's form",
			chromedp.Navigate(evil.URL), // 127.0.0.1: another site than localhost
			chromedp.Click(chromedp.ID("go")),
			chromedp.WaitVisible(chromedp.ID("error-message")),
		)
		if got := eval[string](t, ctx, `document.querySelector("h1").textContent`); got != "Not logged in" {
			t.Errorf("the cross-site post shows %q, want Not logged in (the SameSite=Strict cookie stayed home)", got)
		}
		screenshot(t, ctx, shots, "cross-site-delete-refused")
		if !tagExists(t, p.registry.Host(), "nginx:latest") {
			t.Fatal("a cross-site form deleted nginx:latest")
		}

		step(t, ctx, "delete nginx:1.9",
			chromedp.Navigate(base+"/repository?name=nginx"),
			chromedp.Click(chromedp.CSS(`tr[data-tag="1.9"] a.delete`)),
			chromedp.WaitVisible(chromedp.ID("confirm-delete")),
		)
		screenshot(t, ctx, shots, "admin-confirm-delete")
		if !tagExists(t, p.registry.Host(), "nginx:1.9") {
			t.Fatal("the confirmation page deleted the tag")
		}
		step(t, ctx, "confirm", chromedp.Click(chromedp.ID("confirm-delete")), chromedp.WaitVisible(chromedp.ID("tags")))
		if tagExists(t, p.registry.Host(), "nginx:1.9") {
			t.Error("nginx:1.9 is still there after the confirmed delete")
		}
		if tags := eval[[]string](t, ctx, `[...document.querySelectorAll("tr[data-tag]")].map(e => e.dataset.tag)`); slices.Contains(tags, "1.9") {
			t.Errorf("the repository page still lists 1.9: %q", tags)
		}
	})

	t.Run("reader", func(t *testing.T) {
		ctx := newBrowser(t)
		login(t, ctx, base, reader)
		// The catalog is filtered by the account's pull rules: reader
		// may pull nginx only, and the UI shows what the API lists.
		status, want := catalogFor(t, p, reader)
		got, denied := shownRepositories(t, ctx, base)
		if status != http.StatusOK || !slices.Equal(want, []string{"nginx"}) {
			t.Errorf("the catalog API answers reader %d %q, want 200 [nginx]", status, want)
		}
		if !slices.Equal(got, want) || denied {
			t.Errorf("reader sees %q (denied %v); the catalog API lists %q for reader", got, denied, want)
		}
		screenshot(t, ctx, shots, "reader-repositories")

		step(t, ctx, "open nginx",
			chromedp.Navigate(base+"/repository?name=nginx"),
			chromedp.WaitVisible(chromedp.ID("tags")),
		)
		if n := eval[int](t, ctx, `document.querySelectorAll("a.delete, button.danger").length`); n != 0 {
			t.Errorf("the reader is offered %d delete buttons", n)
		}
		screenshot(t, ctx, shots, "reader-tags")
		step(t, ctx, "open centos", chromedp.Navigate(base+"/repository?name=centos"), chromedp.WaitVisible(chromedp.ID("error-message")))
		if got := eval[string](t, ctx, `document.querySelector("h1").textContent`); got != "Not allowed" {
			t.Errorf("reader opening centos sees %q, want Not allowed", got)
		}

		// The reader forges the delete form with its own session's CSRF
		// token: the UI asks the token server, which grants no delete.
		step(t, ctx, "post a forged delete form",
			chromedp.Navigate(base+"/repository?name=nginx"),
			chromedp.WaitVisible(chromedp.ID("tags")),
		)
		eval[bool](t, ctx, `(() => {
			const f = document.createElement("form");
			f.method = "post"; f.action = "`+base+`/delete";
			for (const [k, v] of [["name", "nginx"], ["ref", "latest"], ["csrf", document.querySelector('input[name="csrf"]').value]]) {
				const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i);
			}
			document.body.appendChild(f); f.submit(); return true;
		})()`)
		step(t, ctx, "wait for the answer", chromedp.WaitVisible(chromedp.ID("error-message")))
		if got := eval[string](t, ctx, `document.querySelector("h1").textContent`); got != "Not allowed" {
			t.Errorf("the reader's forged delete shows %q, want Not allowed", got)
		}
		if !tagExists(t, p.registry.Host(), "nginx:latest") {
			t.Error("the reader's forged delete removed nginx:latest")
		}

		step(t, ctx, "a phone-sized window",
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile),
			chromedp.Navigate(base+"/manifest?name=nginx&ref=latest"),
			chromedp.WaitVisible(chromedp.ID("layers")),
		)
		if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("on a phone the page is %d px wide, wider than the 390 px screen", w)
		}
		screenshot(t, ctx, shots, "reader-manifest-phone")

		// Dark and light follow the system setting.
		for scheme, want := range map[string]string{"dark": "rgb(15, 20, 25)", "light": "rgb(255, 255, 255)"} {
			step(t, ctx, "prefers-color-scheme: "+scheme, colorScheme(scheme), chromedp.Navigate(base+"/repository?name=nginx"),
				chromedp.WaitVisible(chromedp.ID("tags")))
			if got := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); got != want {
				t.Errorf("%s: background %s, want %s", scheme, got, want)
			}
			screenshot(t, ctx, shots, "reader-tags-phone-"+scheme)
		}
	})
}
