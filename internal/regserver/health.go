package regserver

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// healthTimeout bounds one storage check: a hung disk must not hang probes.
const healthTimeout = 10 * time.Second

// storageHealth is the result of the periodic storage check
// (health.storagedriver). /healthz and /debug/health serve it; they never
// check storage themselves, so probes cost nothing however often they come:
// a check writes and removes an object, which on S3 is a billed request.
type storageHealth struct {
	threshold int  // failures in a row that make storage unhealthy
	gateAPI   bool // health.storagedriver.enabled: unhealthy storage turns the API off

	mu       sync.Mutex // one check at a time
	failures int        // failures in a row, under mu
	last     atomic.Pointer[healthResult]
}

// healthResult is what the last check found.
type healthResult struct {
	healthy bool  // fewer than threshold failures in a row (a full disk is none)
	full    bool  // the last check found the storage full
	err     error // the last check's error, nil when it passed
}

// ok reports whether probes get 200: storage is healthy and has room. A
// full disk fails probes at once, without turning the API off.
func (r healthResult) ok() bool { return r.healthy && !r.full }

// health returns the current result. Before the first periodic check has
// finished (a probe right at start-up), the caller runs it: the first
// result is computed once, at start, by whoever asks first.
func (s *Server) health(ctx context.Context) healthResult {
	if r := s.storage.last.Load(); r != nil {
		return *r
	}
	s.storage.mu.Lock()
	defer s.storage.mu.Unlock()
	if r := s.storage.last.Load(); r != nil {
		return *r
	}
	return s.checkLocked(context.WithoutCancel(ctx))
}

// healthz answers whether storage passed its last checks: 200 or 503.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if info := requestInfoFrom(r.Context()); info != nil {
		info.route = "healthz"
	}
	if h := s.health(r.Context()); !h.ok() {
		s.render(w, r, &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable,
			Message: "storage is unavailable", Err: h.err})
		return
	}
	_ = writeJSON(w, http.StatusOK, jsonContentType, map[string]string{"status": "ok"})
}

// debugHealth is registry:2's /debug/health, for the debug listener only:
// {} when healthy, else the check's error under "storagedriver_<driver>"
// with 503. Unlike /healthz it names the error: only operators reach it.
func (s *Server) debugHealth(w http.ResponseWriter, r *http.Request) {
	h := s.health(r.Context())
	body, status := map[string]string{}, http.StatusOK
	if !h.ok() {
		msg := "unhealthy"
		if h.err != nil {
			msg = h.err.Error()
		}
		body["storagedriver_"+s.cfg.Storage.Driver()] = msg
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// watchHealth checks storage at once, then every interval, while ctx lives.
// The first check is skipped when a probe arriving at start-up already ran
// it (health), so start-up costs one check, not two.
func (s *Server) watchHealth(ctx context.Context, interval time.Duration) {
	first := true // fn runs on one goroutine, one call at a time
	every(ctx, 0, interval, func(ctx context.Context) {
		if first {
			first = false
			s.health(ctx)
			return
		}
		s.checkStorage(ctx)
	})
}

// checkStorage runs one storage check and records its result.
func (s *Server) checkStorage(ctx context.Context) healthResult {
	s.storage.mu.Lock()
	defer s.storage.mu.Unlock()
	return s.checkLocked(ctx)
}

// checkLocked runs one check with s.storage.mu held. After threshold
// failures in a row storage is unhealthy (and, with
// health.storagedriver.enabled, the API answers 503, as in registry:2)
// until a check passes. A full disk is no such failure: pushes get 507 on
// their own, and turning the API off would stop the reads that still work
// and the deletes that would free space.
func (s *Server) checkLocked(ctx context.Context) healthResult {
	h := &s.storage
	cctx, cancel := context.WithTimeout(ctx, healthTimeout)
	err := s.store.Check(cctx)
	cancel()
	if ctx.Err() != nil { // shutting down: no verdict
		if r := h.last.Load(); r != nil {
			return *r
		}
		return healthResult{err: ctx.Err()}
	}
	full := err != nil && storageFull(err)
	was := h.last.Load()
	switch {
	case full:
		s.logger.Warn("storage is full: pushes fail until space is freed; reads are still served", "err", err)
		h.failures = 0
	case err == nil:
		h.failures = 0
	default:
		h.failures++
		s.logger.Warn("storage health check failed", "failures", h.failures, "threshold", h.threshold, "err", err)
	}
	r := healthResult{healthy: h.failures < h.threshold, full: full, err: err}
	h.last.Store(&r)
	switch {
	case !r.healthy && (was == nil || was.healthy):
		s.logger.Error("storage unhealthy", "api_off", h.gateAPI, "err", err)
	case r.healthy && was != nil && !was.healthy:
		s.logger.Info("storage healthy again")
	}
	return r
}

// apiDown reports whether the API must answer 503: storage is unhealthy
// and health.storagedriver.enabled asks for that.
func (s *Server) apiDown() bool {
	r := s.storage.last.Load()
	return s.storage.gateAPI && r != nil && !r.healthy
}
