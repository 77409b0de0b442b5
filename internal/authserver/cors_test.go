package authserver

import (
	"net/http"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	corsConfig := func(origins string) string {
		return strings.Replace(strictConfig, `server: {addr: ":5001"}`,
			"server:\n\taddr: \":5001\"\n\tcors: {allowed_origins: "+origins+", max_age: 120}", 1)
	}
	exact := newFixture(t, corsConfig(`["https://ui.example.com"]`))
	star := newFixture(t, corsConfig(`["*"]`))
	none := newFixture(t, strictConfig)

	tests := []struct {
		name       string
		f          *fixture
		method     string
		origin     string
		preflight  bool
		wantStatus int
		wantOrigin string
	}{
		{"preflight from an allowed origin, no credentials needed", exact, "OPTIONS", "https://ui.example.com", true, 204, "https://ui.example.com"},
		{"preflight from another origin", exact, "OPTIONS", "https://evil.example.com", true, 204, ""},
		{"preflight with \"*\" echoes the origin", star, "OPTIONS", "https://whatever.example", true, 204, "https://whatever.example"},
		{"preflight without CORS configured", none, "OPTIONS", "https://ui.example.com", true, 204, ""},
		{"plain OPTIONS", exact, "OPTIONS", "", false, 204, ""},
		{"GET from an allowed origin", exact, "GET", "https://ui.example.com", false, 401, "https://ui.example.com"},
		{"GET from another origin", exact, "GET", "https://evil.example.com", false, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.f.ts.URL+"/auth?service=registry.local&scope=repository:app:pull", nil)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.preflight {
				req.Header.Set("Access-Control-Request-Method", "GET")
				req.Header.Set("Access-Control-Request-Headers", "authorization")
			}
			resp := do(t, req)
			h := resp.Header
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != tt.wantOrigin {
				t.Errorf("Allow-Origin %q, want %q", got, tt.wantOrigin)
			}
			if tt.wantOrigin == "" {
				if h.Get("Access-Control-Allow-Credentials") != "" || h.Get("Access-Control-Allow-Methods") != "" || h.Get("Access-Control-Expose-Headers") != "" {
					t.Errorf("CORS headers for a refused origin: %v", h)
				}
				return
			}
			if h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Vary"), "Origin") {
				t.Errorf("credentials/vary: %v", h)
			}
			if got := h.Values("Access-Control-Expose-Headers"); len(got) != 1 || got[0] != "WWW-Authenticate" {
				t.Errorf("Expose-Headers %q, want the challenge exposed", got)
			}
			if !tt.preflight && resp.StatusCode == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("a 401 without its Basic challenge: %v", h)
			}
			if tt.preflight {
				if h.Get("Access-Control-Allow-Methods") != "GET, POST, OPTIONS" ||
					h.Get("Access-Control-Allow-Headers") != "Authorization, Accept, Cache-Control, Content-Type" ||
					h.Get("Access-Control-Max-Age") != "120" {
					t.Errorf("preflight headers: %v", h)
				}
			}
		})
	}
}
