// Package authserver is the HTTP side of the token server: the Docker
// token endpoint (GET, Basic credentials) and its OAuth2 form (POST), the
// JWKS, health and metrics, with hot reload of the configuration.
//
// A Server holds an immutable snapshot of its configuration (users,
// compiled ACL, keys and the caches that depend on them) behind an atomic
// pointer. Reload validates a fresh config and swaps the pointer; a bad
// config is logged and the old one keeps serving.
//
// See https://distribution.github.io/distribution/spec/auth/token/ and
// https://distribution.github.io/distribution/spec/auth/oauth/.
package authserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wharf-registry/wharf/internal/authconfig"
	"github.com/wharf-registry/wharf/internal/loginguard"
)

// Server is a token server. It is safe for concurrent use.
type Server struct {
	path    string
	log     *slog.Logger
	metrics *metrics
	snap    atomic.Pointer[snapshot]
	// slots let at most NumCPU password checks run at once, so a flood of
	// logins queues instead of starving every other request.
	slots    *loginguard.Slots
	reloadMu sync.Mutex
	now      func() time.Time
	// sleep holds back the failed logins of an account under attack.
	sleep func(context.Context, time.Duration) error
}

// New loads the configuration at cfgPath and returns a server for it.
// A nil logger discards logs.
func New(cfgPath string, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		path:  cfgPath,
		log:   logger,
		slots: loginguard.NewSlots(runtime.NumCPU()),
		now:   time.Now,
		sleep: loginguard.Sleep,
	}
	s.metrics = newMetrics(s.slots)
	cfg, err := authconfig.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	snap, err := s.build(cfg, nil)
	if err != nil {
		return nil, err
	}
	s.snap.Store(snap)
	s.logWarnings(cfg)
	return s, nil
}

// Reload loads the configuration file again. On any problem it logs why,
// keeps serving the previous configuration and returns the error.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := authconfig.Load(s.path)
	var snap *snapshot
	if err == nil {
		snap, err = s.build(cfg, s.snap.Load())
	}
	if err != nil {
		s.metrics.reloads.WithLabelValues("failure").Inc()
		s.log.Error("config reload failed; still serving the previous config", "file", s.path, "err", err)
		return err
	}
	old := s.snap.Swap(snap)
	old.backends.closeLater()
	s.metrics.reloads.WithLabelValues("success").Inc()
	s.log.Info("config reloaded", "file", s.path, "users", len(snap.users), "acl_rules", cfg.Rules.Len(), "keys", len(cfg.Keys))
	s.logWarnings(cfg)
	if old.cfg.Server.Addr != cfg.Server.Addr || old.cfg.Server.Net != cfg.Server.Net ||
		(old.cfg.TLS == nil) != (cfg.TLS == nil) {
		s.log.Warn("server.addr, server.net and turning TLS on or off take effect only after a restart")
	}
	return nil
}

func (s *Server) logWarnings(cfg *authconfig.Config) {
	for _, w := range cfg.Warnings {
		s.log.Warn(w, "file", cfg.File)
	}
}

// Config returns the configuration currently served.
func (s *Server) Config() *authconfig.Config { return s.snap.Load().cfg }

// Handler returns the HTTP handler. Each request is served by the
// snapshot current when it arrived.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.snap.Load().handler.ServeHTTP(w, r)
	})
}

// TLSConfig returns the TLS settings for serving, or nil when the config
// has no server certificate. The certificate is looked up per handshake,
// so a reload with a renewed certificate takes effect at once.
func (s *Server) TLSConfig() *tls.Config {
	cfg := s.Config()
	if cfg.TLS == nil {
		return nil
	}
	return &tls.Config{
		MinVersion:       cfg.TLSMinVersion,
		CurvePreferences: cfg.CurvePreferences,
		CipherSuites:     cfg.CipherSuites,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := s.Config().TLS; c != nil {
				return c, nil
			}
			return nil, errors.New("TLS certificate removed from the config; restart to serve plain HTTP")
		},
	}
}

// build makes the snapshot for cfg, including its routes.
func (s *Server) build(cfg *authconfig.Config, prev *snapshot) (*snapshot, error) {
	snap, err := build(cfg, prev, loginguard.Options{
		Slots: s.slots,
		// Through s, so tests can replace the clock and the delays.
		Now:   func() time.Time { return s.now() },
		Sleep: func(ctx context.Context, d time.Duration) error { return s.sleep(ctx, d) },
	})
	if err != nil {
		return nil, err
	}
	if snap.backends, err = newBackends(cfg, s.log); err != nil {
		return nil, err
	}
	snap.handler = s.routes(snap)
	return snap, nil
}

// routes maps the endpoints under server.path_prefix. Methods are checked
// by each endpoint so that a wrong one is a JSON 405 with Allow.
func (s *Server) routes(snap *snapshot) http.Handler {
	p := snap.cfg.Server.PathPrefix
	mux := http.NewServeMux()
	token := s.tokenEndpoint(snap)
	mux.Handle(p+"/auth", token)
	mux.Handle(p+"/auth/token", token)
	mux.Handle(p+"/.well-known/jwks.json", s.serve(s.only(http.MethodGet, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, err := w.Write(snap.jwks)
		return err
	})))
	mux.Handle(p+"/healthz", s.serve(s.only(http.MethodGet, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, err := w.Write([]byte("ok\n"))
		return err
	})))
	mux.Handle(p+"/metrics", s.metrics.handler())
	mux.Handle("/", s.serve(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{Status: http.StatusNotFound, Code: "not_found", Msg: "no such endpoint"}
	}))
	return s.cors(snap, s.hsts(snap, mux))
}

// only refuses methods other than method (and HEAD for GET) with 405.
func (s *Server) only(method string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			return methodNotAllowed(method + ", OPTIONS")
		}
		return h(w, r)
	}
}

func methodNotAllowed(allow string) *httpError {
	return &httpError{
		Status: http.StatusMethodNotAllowed,
		Code:   "invalid_request",
		Msg:    "method not allowed",
		Header: http.Header{"Allow": {allow}},
	}
}

// hsts adds Strict-Transport-Security on TLS responses when server.hsts
// asks for it, as docker_auth does.
func (s *Server) hsts(snap *snapshot, next http.Handler) http.Handler {
	if !snap.cfg.Server.HSTS {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", "max-age="+strconv.Itoa(365*24*3600))
		}
		next.ServeHTTP(w, r)
	})
}

// What CORS preflights are told a browser may send.
const (
	corsMethods = "GET, POST, OPTIONS"
	corsHeaders = "Authorization, Accept, Cache-Control, Content-Type"
)

// cors lets a browser UI (e.g. Joxit docker-registry-ui) fetch tokens: the
// origins of server.cors.allowed_origins get Access-Control-Allow-Origin
// with credentials, and every OPTIONS request, preflight or not, is
// answered here without authentication (registry:2 answers it 401, which
// breaks such UIs).
func (s *Server) cors(snap *snapshot, next http.Handler) http.Handler {
	origins := map[string]bool{}
	for _, o := range snap.cfg.Server.CORS.AllowedOrigins {
		origins[o] = true
	}
	maxAge := strconv.Itoa(int(snap.cfg.CORSMaxAge.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (origins[origin] || origins["*"])
		if len(origins) > 0 {
			h.Add("Vary", "Origin")
		}
		if allowed {
			// With credentials the literal "*" is refused by browsers, so
			// a "*" configuration echoes the caller's origin.
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			// A UI reads the Basic challenge of a failed login from it,
			// as it reads the registry's Bearer challenge.
			h.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
		}
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if allowed && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", maxAge)
		}
		h.Set("Allow", corsMethods)
		w.WriteHeader(http.StatusNoContent)
	})
}
