package regserver

import (
	"net/http"
	"strings"
)

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

// exposeChallenge returns h, the configured http.headers, with
// WWW-Authenticate added once to Access-Control-Expose-Headers when h
// configures CORS (any Access-Control-* header). A browser UI on another
// origin sees only the response headers it is allowed to: without this one
// it never reads the Bearer challenge and cannot log in. (Seed 004's
// compose file lists only Docker-Content-Digest, which leaves joxit's
// docker-registry-ui stuck on UNAUTHORIZED with any token registry.)
func exposeChallenge(h http.Header) http.Header {
	cors := false
	for k := range h {
		cors = cors || strings.HasPrefix(k, "Access-Control-")
	}
	const expose = "Access-Control-Expose-Headers"
	if !cors {
		return h
	}
	for _, v := range h[expose] {
		for _, name := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(name), "WWW-Authenticate") {
				return h
			}
		}
	}
	h[expose] = append(h[expose], "WWW-Authenticate")
	return h
}
