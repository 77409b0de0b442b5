package ui

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// The session lives in the browser, sealed: one cookie holding
//
//	base64url(nonce || AES-256-GCM(key, JSON(session), aad=cookieName))
//
// so the registry keeps no state and any replica holding the same key
// reads it. The key is derived with HKDF from http.secret when it is set
// (replicas sharing it share sessions, and sessions survive a restart);
// without it, a random key per process (a restart logs everyone out, and
// behind a load balancer sessions need sticky routing). The browser can
// neither read nor alter what is inside: the refresh token (token auth) or
// the password (htpasswd, which has nothing else to present) never reach
// JavaScript, and the cookie is HttpOnly besides.
const cookieName = "wharf_ui"

// sessionLifetime bounds a session, whatever its refresh token says.
const sessionLifetime = 12 * time.Hour

// session is what the sealed cookie carries.
type session struct {
	User     string `json:"u,omitempty"`
	Refresh  string `json:"r,omitempty"` // token auth: the refresh token
	Password string `json:"p,omitempty"` // htpasswd auth: sent as Basic on each call
	CSRF     string `json:"c"`           // per session; hidden field of every form
	Expires  int64  `json:"e"`
}

// loggedIn reports whether the session carries credentials.
func (s *session) loggedIn() bool { return s != nil && s.User != "" }

// sealer seals and opens session cookies.
type sealer struct {
	aead   cipher.AEAD
	secure bool // cookies get Secure: the registry serves TLS (else: when the request came over TLS)
}

// newSealer derives the cookie key from secret, or draws a random one when
// secret is empty.
func newSealer(secret string, secure bool) (*sealer, error) {
	var key []byte
	if secret != "" {
		var err error
		key, err = hkdf.Key(sha256.New, []byte(secret), nil, "wharf ui session v1", 32)
		if err != nil {
			return nil, err
		}
	} else {
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand panics rather than returning short)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, secure: secure}, nil
}

var errNoSession = errors.New("no valid session cookie")

// open returns the request's session, or errNoSession when there is none,
// it does not verify, or it has expired.
func (s *sealer) open(r *http.Request, now time.Time) (*session, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, errNoSession
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	ns := s.aead.NonceSize()
	if err != nil || len(raw) < ns {
		return nil, errNoSession
	}
	plain, err := s.aead.Open(nil, raw[:ns], raw[ns:], []byte(cookieName))
	if err != nil {
		return nil, errNoSession
	}
	var sess session
	if json.Unmarshal(plain, &sess) != nil || sess.CSRF == "" || now.Unix() >= sess.Expires {
		return nil, errNoSession
	}
	return &sess, nil
}

// save seals sess into the response's cookie.
func (s *sealer) save(w http.ResponseWriter, r *http.Request, sess *session, path string) error {
	plain, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	sealed := s.aead.Seal(nonce, nonce, plain, []byte(cookieName))
	http.SetCookie(w, s.cookie(r, base64.RawURLEncoding.EncodeToString(sealed), path, time.Unix(sess.Expires, 0)))
	return nil
}

// clear expires the cookie.
func (s *sealer) clear(w http.ResponseWriter, r *http.Request, path string) {
	c := s.cookie(r, "", path, time.Unix(1, 0))
	c.MaxAge = -1
	http.SetCookie(w, c)
}

func (s *sealer) cookie(r *http.Request, value, path string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     cookieName,
		Value:    value,
		Path:     path,
		Expires:  expires,
		HttpOnly: true,
		Secure:   s.secure || r.TLS != nil,
		// Strict: no cross-site request carries the session, so a
		// forged form post from another site arrives logged out; the
		// CSRF field is the second, independent check.
		SameSite: http.SameSiteStrictMode,
	}
}

// newSession starts a session for user with a fresh CSRF token.
func newSession(user string, now time.Time) *session {
	b := make([]byte, 24)
	rand.Read(b)
	return &session{User: user, CSRF: base64.RawURLEncoding.EncodeToString(b), Expires: now.Add(sessionLifetime).Unix()}
}

// checkCSRF reports whether the form's csrf field is the session's token.
func checkCSRF(sess *session, r *http.Request) bool {
	if sess == nil {
		return false
	}
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}
