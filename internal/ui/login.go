package ui

import (
	"errors"
	"net/http"
)

// loginData is the login page's own data.
type loginData struct {
	Username string
	Error    string
}

// loginForm shows the form; without auth there is nothing to log in to.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request, v *view) error {
	if s.mode == "none" || v.LoggedIn() {
		http.Redirect(w, r, s.base+"/", http.StatusSeeOther)
		return nil
	}
	v.Title, v.Data = "Log in", loginData{}
	s.render(w, http.StatusOK, "login.html", v)
	return nil
}

// maxCredentialBytes bounds the login form (and so what the cookie holds).
const maxCredentialBytes = 1024

// login checks the credentials the way the registry's auth needs them and
// starts a session. A wrong password shows the form again with a message.
func (s *Server) login(w http.ResponseWriter, r *http.Request, v *view) error {
	if s.mode == "none" {
		http.Redirect(w, r, s.base+"/", http.StatusSeeOther)
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	user, password := r.PostFormValue("username"), r.PostFormValue("password")
	if user == "" || password == "" || len(user)+len(password) > maxCredentialBytes {
		return s.loginFailed(w, v, user, http.StatusBadRequest, "Enter a username and a password.")
	}
	sess := newSession(user, s.now())
	switch s.mode {
	case "token":
		refresh, err := s.realm.login(r.Context(), user, password)
		switch {
		case errors.Is(err, errBadLogin):
			return s.loginFailed(w, v, user, http.StatusUnauthorized, "Wrong username or password.")
		case errors.Is(err, errThrottled):
			return s.loginFailed(w, v, user, http.StatusTooManyRequests, err.Error())
		case err != nil:
			return err
		}
		// Redeem it once now: a realm that hands out refresh tokens but
		// cannot redeem them (GET only) is better told at login than
		// on the first page.
		if _, _, err := (tokenCreds{realm: s.realm, refresh: refresh, cache: s.tokens}).authFor(r.Context(), nil); err != nil {
			return err
		}
		sess.Refresh = refresh
	case "htpasswd":
		call := &regCall{api: s.api, creds: basicCreds{user, password}, remoteAddr: r.RemoteAddr}
		if _, _, err := call.do(r.Context(), http.MethodGet, "/v2/", nil); err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.status == http.StatusUnauthorized {
				return s.loginFailed(w, v, user, http.StatusUnauthorized, "Wrong username or password.")
			}
			return err
		}
		sess.Password = password
	}
	if err := s.sealer.save(w, r, sess, s.base+"/"); err != nil {
		return err
	}
	s.logger.Info("ui: login", "user", user, "mode", s.mode)
	http.Redirect(w, r, s.base+"/", http.StatusSeeOther)
	return nil
}

func (s *Server) loginFailed(w http.ResponseWriter, v *view, user string, status int, msg string) error {
	v.Title, v.Data = "Log in", loginData{Username: user, Error: msg}
	s.render(w, status, "login.html", v)
	return nil
}

// logout clears the session. It is a POST with the CSRF token, so another
// site cannot log a user out either.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *view) error {
	if v.Session != nil && !checkCSRF(v.Session, r) {
		return csrfRefused()
	}
	s.sealer.clear(w, r, s.base+"/")
	http.Redirect(w, r, s.base+"/login", http.StatusSeeOther)
	return nil
}

func csrfRefused() error {
	return &pageError{Status: http.StatusForbidden, Title: "Request refused",
		Msg: "This form was not sent from a page of this session (missing or wrong CSRF token). Reload the page and try again."}
}
