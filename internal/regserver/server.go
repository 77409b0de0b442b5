// Package regserver is the registry's HTTP API: the OCI Distribution
// Specification v1.1 (the Docker Registry HTTP API V2) over pkg/storage, with
// registry:2's access controllers (none, htpasswd, token).
//
// Every API request goes the same way: parse the path (route.go), decide
// which repository and actions it needs (access.go), authenticate and
// authorize (auth.go), then run one handler per resource (blobs.go,
// uploads.go, manifests.go, tags.go, catalog.go, referrers.go). Handlers
// return errors; render (errors.go) is the only place error responses are
// written.
//
// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md
package regserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/regproxy"
	"github.com/wharf-registry/wharf/internal/ui"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// Server serves the registry API for one store.
type Server struct {
	cfg     *regconfig.Config
	store   *storage.Store
	logger  *slog.Logger
	auth    authenticator
	metrics *metrics
	handler http.Handler
	proxy   *regproxy.Proxy // nil unless some repositories mirror an upstream (proxy.go)

	prefix        string // http.prefix without its trailing slash, or ""
	base          string // absolute URL Locations start with, or "" for relative ones
	headers       http.Header
	deleteEnabled bool
	readOnly      bool
	// leaseHolder names this process in the garbage collection lease.
	leaseHolder string

	storage storageHealth // the periodic storage check's result (health.go)
}

// New builds a server from cfg over store. logger nil discards logs.
func New(cfg *regconfig.Config, store *storage.Store, logger *slog.Logger) (*Server, error) {
	return newServer(cfg, store, logger, nil)
}

// newServer is New with the clock bearer tokens are checked against (nil:
// time.Now), so tests can replay tokens recorded from other token servers
// (docker_auth) with the clock fixed at their iat.
func newServer(cfg *regconfig.Config, store *storage.Store, logger *slog.Logger, now func() time.Time) (*Server, error) {
	if cfg == nil || store == nil {
		return nil, errors.New("regserver: config and store are required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	auth, err := newAuthenticator(cfg, logger, now)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:           cfg,
		store:         store,
		logger:        logger,
		auth:          auth,
		metrics:       newMetrics(),
		prefix:        strings.TrimSuffix(cfg.HTTP.Prefix, "/"),
		headers:       exposeChallenge(cfg.HTTP.Headers.Clone()),
		deleteEnabled: cfg.Storage.Delete.Enabled,
		readOnly:      cfg.Storage.Maintenance.ReadOnly.Enabled,
		leaseHolder:   storage.LeaseHolder("registry serve"),
	}
	s.proxy = regproxy.New(cfg.Upstreams(), store, logger, s.metrics.reg)
	s.storage.threshold = max(cfg.Health.StorageDriver.Threshold, 1)
	s.storage.gateAPI = cfg.Health.StorageDriver.Enabled
	if b, ok := auth.(*basicAuth); ok {
		s.metrics.observeLogins(b.file.Checks)
	}
	if cfg.HTTP.Host != "" && !cfg.HTTP.RelativeURLs {
		s.base = strings.TrimSuffix(cfg.HTTP.Host, "/")
	}
	var webUI http.Handler
	if cfg.UI.Enabled {
		// The UI calls the API through s.handler, set just below.
		api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) })
		if webUI, err = ui.New(cfg, api, s.prefix+"/ui", logger); err != nil {
			return nil, err
		}
	}
	s.handler = s.routes(webUI)
	return s, nil
}

// Handler returns the HTTP handler for the whole server: the API under
// /v2/ (below http.prefix if set), /healthz, /metrics, and the web UI
// under /ui/ when ui.enabled is set.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics returns the server's own Prometheus registry.
func (s *Server) Metrics() *prometheus.Registry { return s.metrics.reg }

// routes builds the router; webUI, when not nil, is served under /ui/.
func (s *Server) routes(webUI http.Handler) http.Handler {
	mux := chi.NewRouter()
	mux.Use(s.observe, s.preflight)
	mux.Get("/healthz", s.healthz)
	mux.Head("/healthz", s.healthz)
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	// registry:2 and registry:3 answer their root with an empty 200, and
	// health probes written for them ask it.
	mux.Get(s.prefix+"/", root)
	mux.Head(s.prefix+"/", root)
	api := func(r chi.Router) {
		r.HandleFunc("/v2", s.serveAPI)
		r.HandleFunc("/v2/*", s.serveAPI)
	}
	if s.prefix != "" {
		mux.Route(s.prefix, api)
	} else {
		api(mux)
	}
	if webUI != nil {
		mux.Handle(s.prefix+"/ui/*", webUI)
		mux.Get(s.prefix+"/ui", http.RedirectHandler(s.prefix+"/ui/", http.StatusMovedPermanently).ServeHTTP)
	}
	mux.NotFound(func(w http.ResponseWriter, r *http.Request) { s.render(w, r, noRoute()) })
	mux.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, errorf(http.StatusMethodNotAllowed, codeUnsupported, "method not allowed"))
	})
	return mux
}

// apiRequest is what the dispatcher learned about a request, for handlers.
type apiRequest struct {
	route    route
	id       identity
	decision decision
}

type apiKey struct{}

// apiRequestFrom returns the request's route and identity.
func apiRequestFrom(ctx context.Context) *apiRequest {
	a, _ := ctx.Value(apiKey{}).(*apiRequest)
	return a
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if err := s.api(w, r); err != nil {
		s.render(w, r, err)
	}
}

// api parses, authorizes and dispatches one API request.
func (s *Server) api(w http.ResponseWriter, r *http.Request) error {
	info := requestInfoFrom(r.Context())
	rt, err := parseRoute(strings.TrimPrefix(r.URL.EscapedPath(), s.prefix+"/v2"))
	if err != nil {
		return err
	}
	info.route, info.repo = rt.kind.String(), rt.name
	if !rt.allows(r.Method) {
		return errorf(http.StatusMethodNotAllowed, codeUnsupported, "method %s is not allowed here", r.Method).
			withHeader("Allow", strings.Join(methods[rt.kind], ", "))
	}
	d := decide(rt, r)
	info.action = d.action()
	id, err := s.auth.authorize(r, d)
	info.user = id.user
	if err != nil {
		return err
	}
	if s.apiDown() {
		return errorf(http.StatusServiceUnavailable, codeUnavailable, "storage is failing its health check")
	}
	if s.readOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errorf(http.StatusMethodNotAllowed, codeUnsupported, "the registry is in read-only mode")
	}
	if err := s.refuseProxiedWrite(rt, r.Method); err != nil {
		return err
	}
	ctx := context.WithValue(r.Context(), apiKey{}, &apiRequest{route: rt, id: id, decision: d})
	return s.handlerFor(rt.kind, r.Method)(w, r.WithContext(ctx))
}

// handlerFunc is a handler that returns its error for render to write.
type handlerFunc func(http.ResponseWriter, *http.Request) error

func (s *Server) handlerFor(kind routeKind, method string) handlerFunc {
	switch kind {
	case routeBase:
		return s.base2
	case routeCatalog:
		return s.catalog
	case routeTags:
		return s.tags
	case routeReferrers:
		return s.referrers
	case routeManifest:
		switch method {
		case http.MethodPut:
			return s.putManifest
		case http.MethodDelete:
			return s.deleteManifest
		}
		return s.getManifest
	case routeBlob:
		if method == http.MethodDelete {
			return s.deleteBlob
		}
		return s.getBlob
	case routeUploadStart:
		return s.startUpload
	}
	switch method { // routeUpload
	case http.MethodPatch:
		return s.patchUpload
	case http.MethodPut:
		return s.finishUpload
	case http.MethodDelete:
		return s.cancelUpload
	}
	return s.uploadStatus
}

// base2 answers GET /v2/: the client is authorized for the API.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#determining-support
func (s *Server) base2(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, jsonContentType, struct{}{})
}

// writeJSON writes v as the response body with a Content-Length.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) error {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	// A failed write means the client is gone: nobody is left to tell.
	_, _ = w.Write(buf.Bytes())
	return nil
}

// itoa64 formats sizes for headers.
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// url returns the URL of an API path for Location and Link headers:
// relative, or absolute when http.host is set.
func (s *Server) url(path string) string {
	return s.base + s.prefix + path
}

// root answers the registry's root with an empty 200, as registry:2 does.
func root(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
