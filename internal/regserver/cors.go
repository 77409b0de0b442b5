package regserver

import "net/http"

// preflight answers CORS preflight requests (OPTIONS) with 200 and the
// configured http.headers (set by observe), before any authentication:
// browsers never send credentials on a preflight, so a registry that
// challenges it, as registry:2 does, cannot be used from a web UI.
func (s *Server) preflight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if info := requestInfoFrom(r.Context()); info != nil {
			info.route = "preflight"
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	})
}
