package authserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/logtext"
	"github.com/wharf-registry/wharf/pkg/token"
)

// anyAttrs is the token request line as it was first written: plain
// slices handed to slog as any. logRequest must print the same.
func anyAttrs(req *tokenRequest, method string, status int, latency time.Duration, reason string) []any {
	asked := make([]string, len(req.scopes))
	for i, sc := range req.scopes {
		asked[i] = sc.String()
	}
	granted := make([]string, len(req.granted))
	for i, ra := range req.granted {
		granted[i] = token.Scope{Type: ra.Type, Class: ra.Class, Name: ra.Name, Actions: ra.Actions}.String()
	}
	ip := "unknown"
	if req.ip.IsValid() {
		ip = req.ip.String()
	}
	attrs := []any{"method", method, "status", status, "grant", req.grantType, "account", req.account,
		"service", req.service, "client_id", req.clientID, "client_ip", ip, "scopes_asked", asked,
		"scopes_granted", granted, "rules", req.rules, "reused", req.reused}
	if req.catalog != "" {
		attrs = append(attrs, "catalog", req.catalog)
	}
	attrs = append(attrs, "latency_ms", float64(latency.Microseconds())/1000)
	if reason != "" {
		attrs = append(attrs, "reason", reason)
	}
	return attrs
}

// noTimeHandler drops the record's time, for handlers without ReplaceAttr.
type noTimeHandler struct{ slog.Handler }

func (h noTimeHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Time = time.Time{}
	return h.Handler.Handle(ctx, r)
}

// lineTime is a text line's time.
var lineTime = regexp.MustCompile(`^time=\S+ `)

// TestTokenRequestLineIsUnchanged prints token request lines through
// slog's text and JSON handlers both ways and compares the bytes: the
// cheaper line carries exactly the information of the plain one.
func TestTokenRequestLineIsUnchanged(t *testing.T) {
	pull := token.Scope{Type: "repository", Name: "app", Actions: []string{"pull"}}
	odd := token.Scope{Type: "repository", Class: "plugin", Name: "localhost:5000/a b=\"c\"", Actions: []string{"pull", "push"}}
	cases := []struct {
		name   string
		req    tokenRequest
		status int
		err    error
		reason string
	}{
		{"docker login: no scope, no rules", tokenRequest{grantType: "basic", account: "ci", service: "registry.local", clientID: "docker", offline: true, ip: netip.MustParseAddr("10.0.0.1")}, 200, nil, ""},
		{"empty but not nil", tokenRequest{grantType: "anonymous", scopes: []token.Scope{}, granted: []token.ResourceActions{}, rules: []int{}}, 200, nil, ""},
		{"granted", tokenRequest{grantType: "basic", account: "admin", service: "registry.local", scopes: []token.Scope{pull, odd},
			granted: []token.ResourceActions{{Type: "repository", Name: "app", Actions: []string{"pull"}}, {Type: "repository", Class: "plugin", Name: odd.Name, Actions: []string{}}},
			rules:   []int{12, -1}, reused: true, ip: netip.MustParseAddr("::1")}, 200, nil, ""},
		{"refused", tokenRequest{grantType: "basic", account: "eve", service: "registry.local", scopes: []token.Scope{pull}}, 401, errors.New("wrong password"), "wrong password"},
		{"bad request", tokenRequest{grantType: "basic"}, 400, badRequest("invalid_scope", "scope %q", "x"), `scope "x"`},
		{"server error", tokenRequest{}, 500, &httpError{Status: 500, Msg: "m", Err: errors.New("disk on fire")}, "disk on fire"},
		{"client gone", tokenRequest{}, statusClientClosed, &httpError{Status: statusClientClosed, Msg: "gone"}, "gone"},
	}
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{ReplaceAttr: noTime})
		},
		// cmd/auth's handler formats the line itself, the plain slices
		// through slog's: the same bytes.
		"logtext": func(b *bytes.Buffer) slog.Handler { return noTimeHandler{logtext.NewHandler(b, nil)} },
		// As cmd/auth has it: HandleAttrs, the lists appending themselves
		// (the times are cut off below).
		"logtext-attrs": func(b *bytes.Buffer) slog.Handler { return logtext.NewHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{ReplaceAttr: noTime})
		},
	}
	for hname, mk := range handlers {
		for _, tc := range cases {
			t.Run(hname+"/"+tc.name, func(t *testing.T) {
				var got, want bytes.Buffer
				s := &Server{log: slog.New(mk(&got))}
				r := httptest.NewRequest("GET", "/auth", nil)
				s.logRequest(r, &tc.req, tc.status, time.Now(), 1234*time.Microsecond, tc.err)
				level := slog.LevelInfo
				if tc.err != nil && tc.status != statusClientClosed {
					level = slog.LevelWarn
					if tc.status >= 500 {
						level = slog.LevelError
					}
				}
				slog.New(mk(&want)).Log(r.Context(), level, "token request", anyAttrs(&tc.req, "GET", tc.status, 1234*time.Microsecond, tc.reason)...)
				g, w := got.String(), want.String()
				if hname == "logtext-attrs" {
					g, w = lineTime.ReplaceAllString(g, ""), lineTime.ReplaceAllString(w, "")
				}
				if g != w {
					t.Errorf("\n got %s\nwant %s", g, w)
				}
			})
		}
	}
}

// recordingHandler keeps the records it is handed.
type recordingHandler struct {
	slog.Handler
	records *[]slog.Record
}

func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	*h.records = append(*h.records, r)
	return nil
}

// TestTokenRequestLineCarriesTheEndTimeAndLogRequestAsSource: the record
// logRequest builds itself has what Logger.LogAttrs would give it, a time
// (the request's end) and a source position in logRequest, every time.
func TestTokenRequestLineCarriesTheEndTimeAndLogRequestAsSource(t *testing.T) {
	var records []slog.Record
	s := &Server{log: slog.New(recordingHandler{slog.NewTextHandler(io.Discard, nil), &records})}
	r := httptest.NewRequest("GET", "/auth", nil)
	end := time.Date(2026, 12, 3, 14, 30, 0, 123456789, time.UTC)
	for range 3 { // the first finds the source position, the others reuse it
		s.logRequest(r, &tokenRequest{grantType: "anonymous"}, 200, end, time.Millisecond, nil)
	}
	if len(records) != 3 {
		t.Fatalf("%d records, want 3", len(records))
	}
	for _, rec := range records {
		if !rec.Time.Equal(end) {
			t.Errorf("record time %v, want the request's end %v", rec.Time, end)
		}
		f, _ := runtime.CallersFrames([]uintptr{rec.PC}).Next()
		if !strings.HasSuffix(f.Function, ".(*Server).logRequest") || !strings.HasSuffix(f.File, "/logline.go") {
			t.Errorf("record source %s (%s:%d), want logRequest in logline.go", f.Function, f.File, f.Line)
		}
	}
}
