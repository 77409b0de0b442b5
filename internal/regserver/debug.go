package regserver

import (
	"expvar"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DebugHandler serves registry:2's debug listener (http.debug.addr), for
// operators only: /metrics (at http.debug.prometheus.path, unless
// http.debug.prometheus.enabled is false), /debug/health (the storage
// check, its error named), /debug/vars (expvar) and /debug/pprof/.
//
// Profiles reveal memory contents and cost CPU on demand: they are
// registered here, on a mux of their own, and never on the public one
// (Handler), nor on http.DefaultServeMux, which nothing serves.
func (s *Server) DebugHandler() http.Handler {
	mux := http.NewServeMux()
	if p := s.cfg.HTTP.Debug.Prometheus; p.Enabled == nil || *p.Enabled {
		path := p.Path
		if path == "" {
			path = "/metrics"
		}
		mux.Handle("GET "+path, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /debug/health", s.debugHealth)
	mux.Handle("GET /debug/vars", expvar.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
