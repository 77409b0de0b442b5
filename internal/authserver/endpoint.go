package authserver

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

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
		latency := s.now().Sub(start)
		s.metrics.requests.WithLabelValues(strconv.Itoa(status)).Observe(latency.Seconds())
		s.logRequest(r, req, status, latency, err)
	})
}

// respond writes a token response; tokens must never be cached.
func respond(w http.ResponseWriter, body tokenResponse) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	return json.NewEncoder(w).Encode(body)
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
	s.metrics.issued.WithLabelValues(req.grantType).Inc()
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

// logRequest writes the one line per token request. Never a password or a
// token: only who, what was asked, what was granted and why.
func (s *Server) logRequest(r *http.Request, req *tokenRequest, status int, latency time.Duration, err error) {
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
	attrs := []any{
		"method", r.Method,
		"status", status,
		"grant", req.grantType,
		"account", req.account,
		"service", req.service,
		"client_id", req.clientID,
		"client_ip", ip,
		"scopes_asked", asked,
		"scopes_granted", granted,
		"rules", req.rules,
		"reused", req.reused,
	}
	if req.catalog != "" {
		attrs = append(attrs, "catalog", req.catalog)
	}
	attrs = append(attrs,
		"latency_ms", float64(latency.Microseconds())/1000,
	)
	level := slog.LevelInfo
	if err != nil {
		reason := err.Error()
		var he *httpError
		if errors.As(err, &he) {
			reason = he.Msg
			if he.Err != nil {
				reason = he.Err.Error()
			}
		}
		attrs = append(attrs, "reason", reason)
		switch {
		case status == statusClientClosed:
			level = slog.LevelInfo
		case status >= 500:
			level = slog.LevelError
		default:
			level = slog.LevelWarn
		}
	}
	s.log.Log(r.Context(), level, "token request", attrs...)
}
