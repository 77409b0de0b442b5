package regproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The upstream's authentication, as distribution's clients do it: ask
// without credentials, and on a 401 read the challenge. A Basic challenge
// gets the configured credentials on every later request; a Bearer
// challenge sends us to the realm for a token of the repository's pull
// scope (anonymously, or with Basic credentials), kept for its expires_in.

// defaultTokenLife is what a token without expires_in lives, as the
// token specification says (60 s).
const defaultTokenLife = 60 * time.Second

// challenge is one parsed WWW-Authenticate header.
type challenge struct {
	scheme string // "basic" or "bearer", lower-cased
	params map[string]string
}

// parseChallenge reads `Scheme k="v",k2="v2"`. Quoted values may hold
// commas; unquoted values end at a comma.
func parseChallenge(h string) challenge {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	c := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimLeft(strings.TrimSpace(rest), ",") {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		key = strings.ToLower(strings.TrimSpace(key))
		var val string
		if strings.HasPrefix(after, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				b.WriteByte(after[i])
			}
			val, rest = b.String(), after[min(i+1, len(after)):]
		} else {
			val, rest, _ = strings.Cut(after, ",")
			val = strings.TrimSpace(val)
		}
		c.params[key] = val
	}
	return c
}

// token is a bearer token and when to stop using it.
type token struct {
	value   string
	expires time.Time
}

// authorize adds what the upstream asked for last time to req.
func (u *upstream) authorize(req *http.Request, scope string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch u.scheme {
	case "basic":
		if u.username != "" {
			req.SetBasicAuth(u.username, u.password)
		}
	case "bearer":
		if t, ok := u.tokens[scope]; ok && u.now().Before(t.expires) {
			req.Header.Set("Authorization", "Bearer "+t.value)
		}
	}
}

// login answers the challenge of a 401 for scope.
func (u *upstream) login(ctx context.Context, h string, scope string) error {
	c := parseChallenge(h)
	switch c.scheme {
	case "basic":
		if u.username == "" {
			return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
				Message: fmt.Sprintf("upstream %s requires a username and password, and the proxy has none", u.base)}
		}
		u.mu.Lock()
		u.scheme = "basic"
		u.mu.Unlock()
		return nil
	case "bearer":
		t, err := u.fetchToken(ctx, c, scope)
		if err != nil {
			return err
		}
		u.mu.Lock()
		u.scheme = "bearer"
		u.tokens[scope] = t
		u.mu.Unlock()
		return nil
	}
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
		Message: fmt.Sprintf("upstream %s asks for an authentication scheme the proxy does not speak (%q)", u.base, c.scheme)}
}

// fetchToken asks the challenge's realm for a token of scope.
func (u *upstream) fetchToken(ctx context.Context, c challenge, scope string) (token, error) {
	realm, err := url.Parse(c.params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") || realm.Host == "" {
		return token{}, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: fmt.Sprintf("upstream %s sent a bearer challenge without a usable realm", u.base), Err: err}
	}
	q := realm.Query()
	if s := c.params["service"]; s != "" {
		q.Set("service", s)
	}
	q.Set("scope", scope)
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return token{}, err
	}
	if u.username != "" {
		req.SetBasicAuth(u.username, u.password)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return token{}, u.unavailable(fmt.Errorf("token realm %s: %w", realm.Host, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := u.statusError(resp, CodeUnauthorized)
		if resp.StatusCode == http.StatusNotFound {
			e.Status, e.Code = http.StatusServiceUnavailable, CodeUnavailable
		}
		e.Message = fmt.Sprintf("token server of upstream %s answered %s", u.base, resp.Status)
		return token{}, e
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return token{}, u.unavailable(fmt.Errorf("token realm %s: %w", realm.Host, err))
	}
	t := token{value: body.Token}
	if t.value == "" {
		t.value = body.AccessToken
	}
	if t.value == "" {
		return token{}, u.unavailable(fmt.Errorf("token realm %s sent no token", realm.Host))
	}
	life := defaultTokenLife
	if body.ExpiresIn > 0 {
		life = time.Duration(body.ExpiresIn) * time.Second
	}
	// A little early, so a token is never sent in its last seconds.
	t.expires = u.now().Add(life - min(life/10, 10*time.Second))
	return t, nil
}
