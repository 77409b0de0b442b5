// Package ui is the registry's web UI, served under /ui/ when ui.enabled
// is true: server-rendered pages (html/template) over the registry's own
// HTTP API, called in process with the logged-in user's credentials, so a
// user sees in the browser exactly what `docker` would let them see.
//
// Nothing is fetched from the network at run time: templates, the style
// sheet and the one small script (the copy button) are embedded. Every
// page works without JavaScript. A strict Content-Security-Policy allows
// scripts and styles from the UI itself only, never inline.
//
// Login takes the same credentials as `docker login`. With token auth the
// UI runs the token flow against the realm on the server side (realm.go)
// and keeps only a refresh token, sealed in an HttpOnly, SameSite=Strict
// cookie (session.go); with htpasswd it keeps the password the same way;
// without auth there is no login.
package ui

import (
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/internal/regconfig"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// contentSecurityPolicy allows the UI's own script and style sheet and
// nothing else: no inline script or style, no framing, forms posting only
// back to the UI.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Server is the web UI.
type Server struct {
	api      *apiClient
	mode     string // "none", "htpasswd" or "token"
	realm    *realm
	sealer   *sealer
	tokens   *tokenCache
	base     string // the path the UI is served under, e.g. /ui
	deletion bool   // storage.delete.enabled
	host     string // http.host's host:port for docker pull lines, or "" for the request's Host
	logger   *slog.Logger
	pages    map[string]*template.Template
	now      func() time.Time
	handler  http.Handler
}

// New builds the UI for the registry configured by cfg. api is the
// registry's own handler (everything under http.prefix + /v2/); base is
// the path the UI is mounted at (http.prefix + "/ui"). logger nil discards.
func New(cfg *regconfig.Config, api http.Handler, base string, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sealer, err := newSealer(cfg.HTTP.Secret, cfg.HTTP.TLS.Enabled())
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	s := &Server{
		api:      &apiClient{h: api, prefix: strings.TrimSuffix(cfg.HTTP.Prefix, "/")},
		mode:     cfg.Auth.Mode(),
		sealer:   sealer,
		tokens:   newTokenCache(time.Now),
		base:     strings.TrimSuffix(base, "/"),
		deletion: cfg.Storage.Delete.Enabled && !cfg.Storage.Maintenance.ReadOnly.Enabled,
		logger:   logger,
		pages:    pages,
		now:      time.Now,
	}
	if u, err := url.Parse(cfg.HTTP.Host); err == nil && cfg.HTTP.Host != "" {
		s.host = u.Host
	}
	if t := cfg.Auth.Token; t != nil {
		s.realm = &realm{url: t.Realm, service: t.Service, client: &http.Client{Timeout: 30 * time.Second}}
	}
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP serves the UI; the request path still starts with base.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/{file}", files) // files only: no directory listing
	mux.Handle("GET /{$}", s.page(s.repositories))
	mux.Handle("GET /repository", s.page(s.repository))
	mux.Handle("GET /manifest", s.page(s.manifestPage))
	mux.Handle("GET /delete", s.page(s.confirmDelete))
	mux.Handle("POST /delete", s.page(s.doDelete))
	mux.Handle("GET /login", s.page(s.loginForm))
	mux.Handle("POST /login", s.page(s.login))
	mux.Handle("POST /logout", s.page(s.logout))
	mux.Handle("/", s.page(func(w http.ResponseWriter, r *http.Request, v *view) error {
		return &pageError{Status: http.StatusNotFound, Title: "Page not found", Msg: "There is no such page in the registry UI."}
	}))
	return http.StripPrefix(s.base, s.secure(mux))
}

// secure sets the headers every UI answer carries and turns a panic into
// an error page (the stack goes to the log, never to the browser).
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.logger.Error("ui: panic", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				s.renderError(w, r, &view{Base: s.base, Mode: s.mode}, &pageError{Status: http.StatusInternalServerError,
					Title: "Something went wrong", Msg: "The registry UI hit an internal error; it has been logged."})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// view is what every page template gets besides its own data.
type view struct {
	Base    string
	Mode    string
	Session *session
	Title   string
	Host    string // the registry's host:port as the browser sees it
	Data    any
	creds   credentials
	remote  string
}

// LoggedIn reports whether a user is logged in (templates).
func (v *view) LoggedIn() bool { return v.Session.loggedIn() }

// CSRF is the session's CSRF token (templates).
func (v *view) CSRF() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.CSRF
}

// pageFunc renders one page or returns the error to show instead.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view) error

// page opens the session, works out the user's credentials, and renders
// the error page when f fails. Pages other than login require a login
// when the registry has auth.
func (s *Server) page(f pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(withClient(r.Context(), r.RemoteAddr))
		v := &view{Base: s.base, Mode: s.mode, Host: cmp.Or(s.host, r.Host), remote: r.RemoteAddr}
		sess, err := s.sealer.open(r, s.now())
		if err == nil {
			v.Session = sess
		}
		v.creds = s.credentialsFor(sess)
		public := r.URL.Path == "/login" || r.URL.Path == "/logout"
		if s.mode != "none" && !sess.loggedIn() && !public {
			if r.Method == http.MethodGet && r.URL.Path == "/" {
				http.Redirect(w, r, s.base+"/login", http.StatusSeeOther)
				return
			}
			s.renderError(w, r, v, &pageError{Status: http.StatusUnauthorized, Title: "Not logged in",
				Msg: "Log in to see this page.", Login: true})
			return
		}
		if err := f(w, r, v); err != nil {
			s.renderError(w, r, v, err)
		}
	})
}

// credentialsFor returns how API calls authenticate for sess.
func (s *Server) credentialsFor(sess *session) credentials {
	switch {
	case s.mode == "token" && sess.loggedIn():
		return tokenCreds{realm: s.realm, refresh: sess.Refresh, cache: s.tokens}
	case s.mode == "htpasswd" && sess.loggedIn():
		return basicCreds{user: sess.User, password: sess.Password}
	}
	return noCreds{}
}

// call is the registry as the view's user sees it.
func (s *Server) call(v *view) *regCall {
	return &regCall{api: s.api, creds: v.creds, remoteAddr: v.remote}
}

// render writes a page with status.
func (s *Server) render(w http.ResponseWriter, status int, name string, v *view) {
	t, ok := s.pages[name]
	if !ok {
		panic("ui: no template " + name)
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.logger.Error("ui: template", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprint(w, buf.String()) // a failed write means the browser left
}
