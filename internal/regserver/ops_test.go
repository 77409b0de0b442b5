package regserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/pkg/storage"
)

var corsHeaders = map[string][]string{
	"Access-Control-Allow-Origin":      {"https://ui.example"},
	"Access-Control-Allow-Credentials": {"true"},
	"Access-Control-Allow-Methods":     {"HEAD", "GET", "OPTIONS", "DELETE"},
	"Access-Control-Allow-Headers":     {"Authorization", "Accept", "Cache-Control"},
	"Access-Control-Expose-Headers":    {"Docker-Content-Digest"},
}

func TestCORSPreflightIsAnsweredBeforeAuth(t *testing.T) {
	ca := newTokenCA(t)
	tr := newRegistry(t, func(c *regconfig.Config) {
		c.Auth.Token = &regconfig.TokenAuth{Realm: testRealm, Service: testService, Issuer: testIssuer, RootCertBundle: ca.bundle}
		for k, v := range corsHeaders {
			c.HTTP.Headers[k] = v
		}
	})
	tests := []struct {
		name   string
		req    request
		status int
	}{
		{"preflight of the catalog", request{method: "OPTIONS", path: "/v2/_catalog", header: map[string]string{"Origin": "https://ui.example", "Access-Control-Request-Method": "GET"}}, 200},
		{"preflight of a manifest delete", request{method: "OPTIONS", path: "/v2/app/manifests/sha256:" + strings.Repeat("0", 64)}, 200},
		{"preflight of a bad name", request{method: "OPTIONS", path: "/v2/BAD/tags/list"}, 200},
		{"challenge", request{method: "GET", path: "/v2/_catalog"}, 401},
		{"not found", request{method: "GET", path: "/nowhere"}, 404},
		{"health", request{method: "GET", path: "/healthz"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := tr.do(t, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			for k, want := range corsHeaders {
				if k == "Access-Control-Expose-Headers" {
					want = append(slices.Clone(want), "WWW-Authenticate") // exposeChallenge
				}
				if got := resp.Header.Values(k); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Docker-Distribution-Api-Version") != "registry/2.0" {
				t.Errorf("default headers missing: %v", resp.Header)
			}
		})
	}
}

// breakStorage replaces the store's root with a file, so writes fail, and
// returns a function undoing it.
func breakStorage(t *testing.T, root string) func() {
	t.Helper()
	aside := root + ".aside"
	if err := os.Rename(root, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Remove(root); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(aside, root); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHealthReflectsStorage(t *testing.T) {
	tr := newRegistry(t, func(c *regconfig.Config) { c.Health.StorageDriver.Threshold = 2 })
	if resp, b := tr.do(t, request{method: "GET", path: "/healthz"}); resp.StatusCode != 200 {
		t.Fatalf("healthy store: %d %s", resp.StatusCode, b)
	}
	restore := breakStorage(t, tr.root)
	ctx := context.Background()

	// The periodic check (run here by hand) decides; after threshold
	// failures in a row /healthz and the API answer 503.
	tr.srv.checkStorage(ctx)
	if resp, _ := tr.do(t, request{method: "GET", path: "/healthz"}); resp.StatusCode != 200 {
		t.Fatalf("one failure of two: /healthz %d", resp.StatusCode)
	}
	if resp, _ := tr.do(t, request{method: "GET", path: "/v2/"}); resp.StatusCode != 200 {
		t.Fatalf("one failure of two: /v2/ %d", resp.StatusCode)
	}
	tr.srv.checkStorage(ctx)
	resp, b := tr.do(t, request{method: "GET", path: "/healthz"})
	if resp.StatusCode != http.StatusServiceUnavailable || errorCode(b) != codeUnavailable {
		t.Errorf("two failures of two: /healthz %d %s", resp.StatusCode, b)
	}
	if strings.Contains(string(b), tr.root) {
		t.Errorf("health answer leaks the storage path: %s", b)
	}
	if resp, b := tr.do(t, request{method: "GET", path: "/v2/"}); resp.StatusCode != 503 || errorCode(b) != codeUnavailable {
		t.Fatalf("two failures of two: /v2/ %d %s", resp.StatusCode, b)
	}
	restore()
	if r := tr.srv.checkStorage(ctx); !r.healthy {
		t.Errorf("unhealthy after a good check: %v", r.err)
	}
	for _, path := range []string{"/healthz", "/v2/"} {
		if resp, _ := tr.do(t, request{method: "GET", path: path}); resp.StatusCode != 200 {
			t.Errorf("recovered store: %s %d", path, resp.StatusCode)
		}
	}
}

// counter returns the value of a counter in reg with the given labels.
func counter(t *testing.T, tr *testRegistry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := tr.srv.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				if labelValue(m, k) != v {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestMetricsCountRequestsBytesAndGC(t *testing.T) {
	tr := newRegistry(t, nil)
	data := []byte("twelve bytes")
	d := tr.pushBlob(t, "app", data)
	tr.do(t, request{method: "GET", path: "/v2/app/blobs/" + d.String()})
	tr.do(t, request{method: "GET", path: "/v2/app/manifests/nope"})
	tr.do(t, request{method: "GET", path: "/v2/app/manifests/nope"})
	tr.do(t, request{method: "BREW", path: "/v2/"})

	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"registry_http_requests_total", map[string]string{"route": "manifest", "method": "GET", "code": "404"}, 2},
		{"registry_http_requests_total", map[string]string{"route": "upload_start", "method": "POST", "code": "201"}, 1},
		{"registry_http_requests_total", map[string]string{"route": "other", "method": "other", "code": "405"}, 1},
		{"registry_http_request_bytes_total", map[string]string{"route": "upload_start"}, float64(len(data))},
		{"registry_http_response_bytes_total", map[string]string{"route": "blob"}, float64(len(data))},
	}
	for _, c := range checks {
		if got := counter(t, tr, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	// An unreferenced, old blob is collected and counted.
	if resp, _ := tr.do(t, request{method: "DELETE", path: "/v2/app/blobs/" + d.String()}); resp.StatusCode != 202 {
		t.Fatal("delete failed")
	}
	res, err := tr.srv.CollectGarbage(context.Background(), storage.GCOptions{GracePeriod: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobsDeleted != 1 {
		t.Errorf("GC deleted %d blobs, want 1", res.BlobsDeleted)
	}
	if got := counter(t, tr, "registry_gc_runs_total", map[string]string{"result": "ok"}); got != 1 {
		t.Errorf("gc runs = %v", got)
	}
	if got := counter(t, tr, "registry_gc_bytes_freed_total", nil); got != float64(len(data)) {
		t.Errorf("gc bytes freed = %v, want %d", got, len(data))
	}

	t.Run("served at /metrics", func(t *testing.T) {
		resp, b := tr.do(t, request{method: "GET", path: "/metrics"})
		if resp.StatusCode != 200 || !strings.Contains(string(b), `registry_http_requests_total{code="404",method="GET",route="manifest"} 2`) {
			t.Errorf("%d\n%s", resp.StatusCode, b)
		}
	})
}

func TestAccessLogNamesUserRepositoryAndAction(t *testing.T) {
	tr := newRegistry(t, nil)
	tr.pushBlob(t, "team/app", []byte("x"))
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(tr.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no access log line in:\n%s", tr.logs.String())
	}
	for k, want := range map[string]any{"repository": "team/app", "action": "pull,push", "route": "upload_start", "status": float64(201), "bytes_in": float64(1), "method": "POST"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
	if id, _ := line["id"].(string); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
		t.Errorf("request id %q", id)
	}
	if _, ok := line["user"]; !ok {
		t.Error("no user attribute")
	}

	t.Run("disabled", func(t *testing.T) {
		quiet := newRegistry(t, func(c *regconfig.Config) { c.Log.AccessLog.Disabled = true })
		quiet.do(t, request{method: "GET", path: "/v2/"})
		if strings.Contains(quiet.logs.String(), `"msg":"request"`) {
			t.Errorf("access log written while disabled:\n%s", quiet.logs.String())
		}
	})
}

func TestLocationsHonourHostAndPrefix(t *testing.T) {
	tests := []struct {
		name     string
		host     string
		prefix   string
		relative bool
		want     *regexp.Regexp
	}{
		{"relative by default", "", "", false, regexp.MustCompile(`^/v2/app/blobs/uploads/[0-9a-f-]{36}$`)},
		{"absolute with http.host", "https://r.example/", "", false, regexp.MustCompile(`^https://r\.example/v2/app/blobs/uploads/[0-9a-f-]{36}$`)},
		{"under a prefix", "https://r.example", "/registry/", false, regexp.MustCompile(`^https://r\.example/registry/v2/app/blobs/uploads/[0-9a-f-]{36}$`)},
		{"relativeurls wins", "https://r.example", "/registry", true, regexp.MustCompile(`^/registry/v2/app/blobs/uploads/[0-9a-f-]{36}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newRegistry(t, func(c *regconfig.Config) {
				c.HTTP.Host, c.HTTP.Prefix, c.HTTP.RelativeURLs = tt.host, tt.prefix, tt.relative
			})
			api := strings.TrimSuffix(tt.prefix, "/") + "/v2"
			resp, b := tr.do(t, request{method: "POST", path: api + "/app/blobs/uploads/"})
			if resp.StatusCode != 202 || !tt.want.MatchString(resp.Header.Get("Location")) {
				t.Fatalf("%d %s Location %q", resp.StatusCode, b, resp.Header.Get("Location"))
			}
			if tt.prefix != "" {
				if resp, _ := tr.do(t, request{method: "GET", path: "/v2/"}); resp.StatusCode != 404 {
					t.Errorf("API answers outside its prefix: %d", resp.StatusCode)
				}
			}
		})
	}
}

func TestPanicsBecomeOpaque500s(t *testing.T) {
	tr := newRegistry(t, nil)
	h := tr.srv.observe(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret internal detail")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v2/", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != jsonContentType || errorCode(rec.Body.Bytes()) != codeUnknown {
		t.Fatalf("%d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if strings.Contains(rec.Body.String(), "secret") {
		t.Error("panic value leaked to the client")
	}
	if !strings.Contains(tr.logs.String(), "secret internal detail") {
		t.Error("panic value not logged")
	}
}

func TestPurgingRemovesAbandonedUploads(t *testing.T) {
	tr := newRegistry(t, nil)
	old := tr.startSession(t, "app")
	fresh := tr.startSession(t, "app")
	id := old[strings.LastIndexByte(old, '/')+1:]
	startedAt := filepath.Join(tr.root, "docker/registry/v2/repositories/app/_uploads", id, "startedat")
	if err := os.WriteFile(startedAt, []byte(time.Now().Add(-200*time.Hour).UTC().Format(time.RFC3339)), 0o644); err != nil {
		t.Fatal(err)
	}
	tr.srv.purgeUploads(context.Background(), 168*time.Hour, false)
	if resp, _ := tr.do(t, request{method: "GET", path: old}); resp.StatusCode != 404 {
		t.Errorf("abandoned session survives: %d", resp.StatusCode)
	}
	if resp, _ := tr.do(t, request{method: "GET", path: fresh}); resp.StatusCode != 204 {
		t.Errorf("fresh session purged: %d", resp.StatusCode)
	}
	if got := counter(t, tr, "registry_uploads_purged_total", nil); got != 1 {
		t.Errorf("purged counter = %v", got)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	tr := newRegistry(t, func(c *regconfig.Config) {
		c.Storage.Maintenance.GC.Enabled = true
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tr.srv.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Background jobs wait their first delay: the upload purge walks the whole
// store, so it must not run the moment a registry (or every replica on a
// shared bucket) starts.
func TestJobsWaitTheirFirstDelay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan struct{})
	go func() {
		every(ctx, time.Hour, time.Hour, func(context.Context) { calls++ })
		close(done)
	}()
	cancel()
	<-done
	if calls != 0 {
		t.Fatalf("job ran %d times before its first delay", calls)
	}

	ctx, cancel = context.WithCancel(context.Background())
	ran := make(chan struct{})
	go every(ctx, 0, time.Hour, func(context.Context) { close(ran); cancel() })
	<-ran // a zero first delay runs at once
}
