package authserver

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
	"github.com/wharf-registry/wharf/internal/logtext"
)

// BenchmarkRepeatedBasicCredentials is the server's side of bench row 4: a
// CI fleet asking again and again with the same Basic credentials, the
// password check and the token both cached, the access log on as cmd/auth
// writes it (internal/logtext). Profile it with
//
//	go test -run '^$' -bench RepeatedBasic -cpuprofile cpu.out ./internal/authserver/
func BenchmarkRepeatedBasicCredentials(b *testing.B) {
	dir := b.TempDir()
	kp := authtest.WriteKeyPair(b, dir, "token", "p256")
	cfg := filepath.Join(dir, "auth_config.yml")
	authtest.WriteFile(b, cfg, strings.NewReplacer("\t", "  ", "CERT", kp.Cert, "KEY", kp.Key).Replace(strictConfig))
	srv, err := New(cfg, slog.New(logtext.NewHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	target := "/auth?" + url.Values{"service": {"registry.local"}, "scope": {"repository:app:pull"}}.Encode()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.SetBasicAuth("admin", "adminpassword")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
