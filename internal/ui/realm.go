package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// clientID names the UI to the token server (it shows in its log).
const clientID = "wharf-ui"

// The token flow, run by the UI on the server side so that no token ever
// reaches the browser. Login asks for a refresh token the OAuth2 way
// (POST grant_type=password, access_type=offline), as containerd does, and
// falls back to the Docker way (GET with Basic and offline_token=true) on
// 400, 401, 404 or 405, so a realm that only answers GET works too. Access
// tokens are then fetched per scope with grant_type=refresh_token.
var (
	errBadLogin       = errors.New("wrong username or password")
	errThrottled      = errors.New("too many failed logins; wait a minute and try again")
	errNoRefresh      = errors.New("the token server issues no refresh tokens, which the web UI needs to keep you logged in without keeping your password (wharf auth: token.refresh_expiration must not be 0)")
	errNoRedeem       = errors.New("the token server gave a refresh token but does not take it back (OAuth2 POST grant_type=refresh_token), which the web UI needs to fetch access tokens")
	errSessionExpired = errors.New("your session has expired or was revoked; log in again")
)

// realmError is a token server that could not be reached or answered
// something we do not understand: the operation stops.
type realmError struct{ err error }

func (e *realmError) Error() string { return "the token server failed: " + e.err.Error() }
func (e *realmError) Unwrap() error { return e.err }

// realm is the configured token endpoint.
type realm struct {
	url     string
	service string
	client  *http.Client
}

// tokenReply is what token servers answer (Docker's and OAuth2's names).
type tokenReply struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

// maxReplyBytes bounds a token server's answer.
const maxReplyBytes = 64 << 10

// login exchanges a username and password for a refresh token.
func (rl *realm) login(ctx context.Context, user, password string) (string, error) {
	form := url.Values{
		"grant_type": {"password"}, "username": {user}, "password": {password},
		"service": {rl.service}, "client_id": {clientID}, "access_type": {"offline"},
	}
	status, reply, err := rl.post(ctx, form)
	if err != nil {
		return "", err
	}
	switch {
	case status == http.StatusOK:
		return refreshOf(reply)
	case (status == http.StatusBadRequest || status == http.StatusUnauthorized) && reply.Error == "invalid_grant":
		// The server speaks OAuth2 and refused the password: asking
		// again with GET would only count a second failure.
		return "", errBadLogin
	case status == http.StatusTooManyRequests:
		return "", errThrottled
	case status != http.StatusBadRequest && status != http.StatusUnauthorized &&
		status != http.StatusNotFound && status != http.StatusMethodNotAllowed:
		return "", &realmError{fmt.Errorf("POST %s: status %d", rl.url, status)}
	}

	u, err := url.Parse(rl.url)
	if err != nil {
		return "", &realmError{err}
	}
	q := u.Query()
	q.Set("service", rl.service)
	q.Set("account", user)
	q.Set("client_id", clientID)
	q.Set("offline_token", "true")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", &realmError{err}
	}
	req.SetBasicAuth(user, password)
	status, reply, err = rl.do(req)
	if err != nil {
		return "", err
	}
	switch status {
	case http.StatusOK:
		return refreshOf(reply)
	case http.StatusUnauthorized, http.StatusForbidden:
		return "", errBadLogin
	case http.StatusTooManyRequests:
		return "", errThrottled
	}
	return "", &realmError{fmt.Errorf("GET %s: status %d", rl.url, status)}
}

func refreshOf(reply tokenReply) (string, error) {
	if reply.RefreshToken == "" {
		return "", errNoRefresh
	}
	return reply.RefreshToken, nil
}

// access returns an access token for scopes and how long it lives.
func (rl *realm) access(ctx context.Context, refresh string, scopes []string) (string, time.Duration, error) {
	form := url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refresh},
		"service": {rl.service}, "client_id": {clientID},
	}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	status, reply, err := rl.post(ctx, form)
	if err != nil {
		return "", 0, err
	}
	switch {
	case status == http.StatusOK:
	case status == http.StatusTooManyRequests:
		return "", 0, errThrottled
	case reply.Error == "invalid_grant" || status == http.StatusUnauthorized:
		return "", 0, errSessionExpired
	case reply.Error == "unsupported_grant_type":
		return "", 0, errNoRefresh // wharf auth with refresh tokens turned off since login
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return "", 0, errNoRedeem
	default:
		return "", 0, &realmError{fmt.Errorf("POST %s (refresh_token): status %d", rl.url, status)}
	}
	tok := reply.AccessToken
	if tok == "" {
		tok = reply.Token
	}
	if tok == "" {
		return "", 0, &realmError{errors.New("the answer holds no token")}
	}
	ttl := time.Duration(reply.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 60 * time.Second // the Docker token spec's default
	}
	return tok, ttl, nil
}

func (rl *realm) post(ctx context.Context, form url.Values) (int, tokenReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rl.url, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, tokenReply{}, &realmError{err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return rl.do(req)
}

// clientKey holds the browser's address in a request context.
type clientKey struct{}

// withClient records the browser's address (a RemoteAddr) for the token
// requests made on its behalf.
func withClient(ctx context.Context, remoteAddr string) context.Context {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	return context.WithValue(ctx, clientKey{}, host)
}

// do sends req and decodes a JSON answer when there is one. A 200 that is
// not a token reply is an error; other statuses are the caller's to read.
func (rl *realm) do(req *http.Request) (int, tokenReply, error) {
	var reply tokenReply
	// Every login through the UI reaches the token server from the
	// registry's address. Naming the browser's lets a token server that
	// trusts the registry as a proxy (wharf auth: server.real_ip_header
	// X-Forwarded-For, real_ip_pos -1, trusted_proxies) match `ip` rules
	// and throttle failed logins per browser rather than lock out every
	// UI user at once; any other server ignores the header.
	if ip, ok := req.Context().Value(clientKey{}).(string); ok && ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := rl.client.Do(req)
	if err != nil {
		return 0, reply, &realmError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return 0, reply, &realmError{err}
	}
	if err := json.Unmarshal(body, &reply); err != nil && resp.StatusCode == http.StatusOK {
		return 0, reply, &realmError{fmt.Errorf("%s %s: the answer is not JSON", req.Method, rl.url)}
	}
	return resp.StatusCode, reply, nil
}
