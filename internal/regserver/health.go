package regserver

import (
	"context"
	"net/http"
	"time"
)

// healthTimeout bounds one storage check: a hung disk must not hang probes.
const healthTimeout = 10 * time.Second

// healthz answers whether storage is reachable and writable, checking it
// now (a probe file written and removed): 200 or 503.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if info := requestInfoFrom(r.Context()); info != nil {
		info.route = "healthz"
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := s.store.Check(ctx); err != nil {
		s.render(w, r, &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable,
			Message: "storage is unavailable", Err: err})
		return
	}
	_ = writeJSON(w, http.StatusOK, jsonContentType, map[string]string{"status": "ok"})
}

// watchHealth checks storage every interval while ctx lives. After
// threshold failures in a row the API answers 503 until a check succeeds,
// as registry:2 does with health.storagedriver. A full disk is no such
// failure: pushes get 507 on their own, and turning the API off would stop
// the reads that still work and the deletes that would free space.
func (s *Server) watchHealth(ctx context.Context, interval time.Duration, threshold int) {
	failures := 0
	every(ctx, interval, interval, func(ctx context.Context) { failures = s.checkHealth(ctx, failures, threshold) })
}

// checkHealth runs one storage check and returns the new count of
// failures in a row.
func (s *Server) checkHealth(ctx context.Context, failures, threshold int) int {
	cctx, cancel := context.WithTimeout(ctx, healthTimeout)
	err := s.store.Check(cctx)
	cancel()
	if ctx.Err() != nil {
		return failures
	}
	if err != nil && storageFull(err) {
		s.logger.Warn("storage is full: pushes fail until space is freed; reads are still served", "err", err)
		err = nil
	}
	if err == nil {
		if s.unhealthy.Swap(false) {
			s.logger.Info("storage healthy again")
		}
		return 0
	}
	failures++
	s.logger.Warn("storage health check failed", "failures", failures, "threshold", threshold, "err", err)
	if failures >= threshold && !s.unhealthy.Swap(true) {
		s.logger.Error("storage unhealthy: answering 503 until it recovers", "err", err)
	}
	return failures
}
