package authserver

import (
	"net/http"
	"net/netip"

	"github.com/wharf-registry/wharf/pkg/token"
)

// tokenRequest is one token request as parsed from GET or POST, and what
// became of it: the handler fills it, the endpoint logs it in one line.
type tokenRequest struct {
	grantType string // basic, anonymous, password, refresh_token
	account   string
	service   string
	clientID  string
	offline   bool
	scopes    []token.Scope
	ip        netip.Addr

	// outcome
	granted []token.ResourceActions
	rules   []int
	catalog string // what catalogRules decided, "" when not asked
	reused  bool
}

// tokenEndpoint serves GET and POST on /auth and /auth/token, then logs
// one line and records metrics for the request, whatever its outcome.
func (s *Server) tokenEndpoint(snap *snapshot) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		req := &tokenRequest{ip: clientIP(snap, r)}
		err := safely(w, r, func(w http.ResponseWriter, r *http.Request) error {
			switch r.Method {
			case http.MethodGet:
				return s.handleGet(w, r, snap, req)
			case http.MethodPost:
				return s.handlePost(w, r, snap, req)
			}
			return methodNotAllowed("GET, POST, OPTIONS")
		})
		status := http.StatusOK
		if err != nil {
			e := asHTTPError(err)
			status = e.Status
			writeError(w, e)
		}
		end := s.now()
		latency := end.Sub(start)
		s.metrics.requestsFor(status).Observe(latency.Seconds())
		s.logRequest(r, req, status, end, latency, err)
	})
}

// issue authorizes req for id and writes the response, adding a refresh
// token when one is wanted (refresh, when not "", is handed back as is).
func (s *Server) issue(w http.ResponseWriter, snap *snapshot, req *tokenRequest, id identity, refresh string, oauth bool) error {
	g := authorize(snap, id, req.service, req.ip, req.scopes)
	req.granted, req.rules = g.access, g.rules
	g.pull, req.catalog = catalogRules(snap, id, req.service, req.ip, g)
	e, reused, err := s.accessToken(snap, id, req.service, g)
	if err != nil {
		return err
	}
	req.reused = reused
	body := newResponse(e)
	if oauth {
		body.Scope = grantedScope(g.access)
	}
	// Backend users (ext_auth, ldap_auth) have no stored hash and get no
	// refresh token: a refresh could not ask their backend again.
	if refresh == "" && req.offline && !id.anonymous && id.hash != nil && snap.cfg.RefreshLifetime > 0 {
		refresh, err = snap.refresh.mint(id.account, req.service, id.hash, s.now(), snap.cfg.RefreshLifetime)
		if err != nil {
			return err
		}
		s.metrics.refreshIssued.Inc()
	}
	body.RefreshToken = refresh
	if err := respond(w, body); err != nil {
		return nil // the client went away; the status is already sent
	}
	s.metrics.issuedFor(req.grantType).Inc()
	if reused {
		s.metrics.reused.Inc()
	}
	s.metrics.denials.Add(float64(g.denials))
	return nil
}

// checkService enforces token.services: a token's aud must be a service
// this server issues for, not whatever the client typed.
func checkService(snap *snapshot, service string) error {
	if !snap.serviceAllowed(service) {
		return badRequest("invalid_request", "tokens are not issued for service %q", service)
	}
	return nil
}
