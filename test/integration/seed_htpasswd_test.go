package integration

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// seedTestUserLine is the line seed 002 §5.2 shows `htpasswd -Bbn testuser
// testpassword` printing; seeds 000, 003 and 004 create the same user.
const seedTestUserLine = "testuser:$2y$05$MO4iv425uurfqY2Y/X71TuNTUPu4Vrn.oNE4NxRTjsPTTU6QywiwG"

var seedTestUser = account{"testuser", "testpassword"}

// TestSeed003HtpasswdDeploymentWorksUnchanged starts the registry with seed
// 003's `docker run -e` variables (REGISTRY_AUTH=htpasswd, the realm
// "Registry Realm", the file path) over an htpasswd file as `htpasswd -Bbn`
// writes it, then does what seeds 000 and 003 do with it.
func TestSeed003HtpasswdDeploymentWorksUnchanged(t *testing.T) {
	t.Parallel()
	if err := bcrypt.CompareHashAndPassword([]byte(strings.TrimPrefix(seedTestUserLine, "testuser:")), []byte(seedTestUser.password)); err != nil {
		t.Fatalf("the seed's htpasswd line is not testuser:testpassword: %v", err)
	}
	zhang := account{"zhang", "westos"} // seed 003's second user, appended with >>
	authDir := t.TempDir()
	testkit.WriteFile(t, authDir, "htpasswd", []byte(seedTestUserLine+"\n"+htpasswdLine(t, zhang.name, zhang.password)+"\n"))
	data := t.TempDir()
	// Seed 003, as docker passes them: `-e "REGISTRY_AUTH=htpasswd"` etc.
	seedEnv := []string{
		"REGISTRY_HTTP_ADDR=0.0.0.0:443",
		"REGISTRY_AUTH=htpasswd",
		"REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
		"REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
	}
	reg := start(t, server{
		name: "registry (seed 003 htpasswd)",
		bin:  registryBin,
		args: func(int) []string { return nil },
		env: func(port int) []string {
			env := substituteEnv(seedEnv, "0.0.0.0:443", "127.0.0.1:"+strconv.Itoa(port), "=/auth/", "="+authDir+"/")
			// The image's volume /var/lib/registry, moved into the test.
			return append(env, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="+data)
		},
	})
	base := reg.URL("http")
	host := reg.Host()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	alpine := ref(t, host+"/alpine-sh:latest") // seed 000's `docker push 10.10.107.221:5000/alpine-sh`

	t.Run("testuser pushes with Basic and zhang pulls", func(t *testing.T) {
		if err := remote.Write(alpine, img, newClient(t, seedTestUser, nil).opts...); err != nil {
			t.Fatalf("push as testuser: %v", err)
		}
		got, err := remote.Image(alpine, newClient(t, zhang, nil).opts...)
		if err != nil {
			t.Fatalf("pull as zhang: %v", err)
		}
		assertSameImage(t, img, got)
	})

	t.Run("wrong password and no credentials get the Basic challenge", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			user, pass string
		}{
			{"wrong password", seedTestUser.name, "not-testpassword"},
			{"unknown user", "nobody", "testpassword"},
			{"no credentials", "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := httpGet(t, base+"/v2/", tc.user, tc.pass)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("GET /v2/: %s %s; want 401", resp.Status, body)
				}
				if got, want := resp.Header.Values("WWW-Authenticate"), []string{`Basic realm="Registry Realm"`}; !slices.Equal(got, want) {
					t.Errorf("WWW-Authenticate %q, want %q", got, want)
				}
				wantOCIError(t, resp, body, "UNAUTHORIZED")
			})
		}
		_, err := remote.Image(alpine, newClient(t, account{seedTestUser.name, "not-testpassword"}, nil).opts...)
		wantHTTPError(t, "pull with a wrong password", err, 401, "UNAUTHORIZED")
	})

	t.Run("curl -u testuser:testpassword lists the catalog and tags", func(t *testing.T) {
		resp, body := httpGet(t, base+"/v2/_catalog", seedTestUser.name, seedTestUser.password)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v2/_catalog: %s %s", resp.Status, body)
		}
		var catalog struct {
			Repositories []string `json:"repositories"`
		}
		decodeJSON(t, body, &catalog)
		if want := []string{"alpine-sh"}; !slices.Equal(catalog.Repositories, want) {
			t.Errorf("catalog %s; want repositories %q", body, want)
		}
		resp, body = httpGet(t, base+"/v2/alpine-sh/tags/list", seedTestUser.name, seedTestUser.password)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v2/alpine-sh/tags/list: %s %s", resp.Status, body)
		}
		var tags struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		decodeJSON(t, body, &tags)
		if tags.Name != "alpine-sh" || !slices.Equal(tags.Tags, []string{"latest"}) {
			t.Errorf("tags list %s; want {\"name\":\"alpine-sh\",\"tags\":[\"latest\"]}", body)
		}
	})
}

// TestSeed004CORSHeadersFromEnvironment starts the registry with seed 004's
// compose environment for a browser UI: CORS headers given as
// REGISTRY_HTTP_HEADERS_<Name>=[YAML list], htpasswd, TLS, deletes. A
// browser's preflight must be answered without credentials, and every
// response, a 401 included, must carry the headers.
func TestSeed004CORSHeadersFromEnvironment(t *testing.T) {
	t.Parallel()
	const origin = "https://registry-ui.example.test"
	certs, authDir, data := t.TempDir(), t.TempDir(), t.TempDir()
	key := newKey(t, p256)
	cert := selfSigned(t, key, []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	testkit.WriteFile(t, certs, "docker.pem", certPEM(cert))
	testkit.WriteFile(t, certs, "docker.key", keyPEM(t, key, false))
	testkit.WriteFile(t, authDir, "htpasswd", []byte(seedTestUserLine+"\n"))
	// Verbatim from seed 004, typos and all: the misspelled header name and
	// the stray Access-Control-Max-Age variable (not REGISTRY_*) must not
	// stop the registry.
	seedEnv := []string{
		"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin=[<Docker Registry UI地址>]",
		"REGISTRY_HTTP_ADDR=0.0.0.0:443",
		"REGISTRY_HTTP_TLS_CERTIFICATE=/certs/docker.pem",
		"REGISTRY_HTTP_TLS_KEY=/certs/docker.key",
		"REGISTRY_AUTH=htpasswd",
		"REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
		"REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
		"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Methods=['HEAD', 'GET', 'OPTIONS', 'DELETE']",
		"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Credentials=['true']",
		"REGISTRY_HTTP_HEADERS_Access-Control-Expose-Headers=['Docker-Content-Digest']",
		"REGISTRY_STORAGE_DELETE_ENABLED=true",
		"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Headers-Control-Allow-Headers=['Authorization', 'Accept', 'Cache-Control']",
		"REGISTRY_HTTP_HEADERS_X-Content-Type-Options=[nosniff]",
		"Access-Control-Max-Age=[1728000]",
	}
	roots := clientTLS(cert)
	reg := start(t, server{
		name: "registry (seed 004 CORS)",
		bin:  registryBin,
		args: func(int) []string { return nil },
		env: func(port int) []string {
			env := substituteEnv(seedEnv,
				"<Docker Registry UI地址>", origin,
				"0.0.0.0:443", "127.0.0.1:"+strconv.Itoa(port),
				"=/certs/", "="+certs+"/",
				"=/auth/", "="+authDir+"/")
			return append(env, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="+data)
		},
		tls: roots,
	})
	httpsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: roots.Clone()}}
	wantHeaders := map[string][]string{
		"Access-Control-Allow-Origin":      {origin},
		"Access-Control-Allow-Methods":     {"HEAD", "GET", "OPTIONS", "DELETE"},
		"Access-Control-Allow-Credentials": {"true"},
		// The seed's line plus WWW-Authenticate, added whenever CORS is
		// configured: without it a UI on another origin never sees the
		// Bearer challenge.
		"Access-Control-Expose-Headers": {"Docker-Content-Digest", "WWW-Authenticate"},
		"X-Content-Type-Options":        {"nosniff"},
	}
	for _, tc := range []struct {
		name       string
		method     string
		user, pass string
		wantStatus []int
	}{
		{"preflight without credentials", http.MethodOptions, "", "", []int{http.StatusOK, http.StatusNoContent}},
		{"request without credentials", http.MethodGet, "", "", []int{http.StatusUnauthorized}},
		{"request with credentials", http.MethodGet, seedTestUser.name, seedTestUser.password, []int{http.StatusOK}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, reg.URL("https")+"/v2/_catalog", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", origin)
			if tc.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "GET")
				req.Header.Set("Access-Control-Request-Headers", "authorization")
			}
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := httpsClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if !slices.Contains(tc.wantStatus, resp.StatusCode) {
				t.Errorf("%s /v2/_catalog: %s; want one of %v", tc.method, resp.Status, tc.wantStatus)
			}
			for name, want := range wantHeaders {
				if got := headerList(resp.Header, name); !slices.Equal(got, want) {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
		})
	}
}

// headerList reads a header that may come as several lines or as one
// comma-separated line (the two are the same to a browser).
func headerList(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// wantOCIError checks an error response is JSON with the given OCI code.
func wantOCIError(t *testing.T, resp *http.Response, body []byte, code string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q on a %d; want application/json", ct, resp.StatusCode)
	}
	var doc struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Detail  any    `json:"detail"`
		} `json:"errors"`
	}
	decodeJSON(t, body, &doc)
	if len(doc.Errors) == 0 || doc.Errors[0].Code != code {
		t.Errorf("error body %s; want code %s", body, code)
	}
}
