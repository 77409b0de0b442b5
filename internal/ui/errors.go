package ui

import (
	"context"
	"errors"
	"net/http"
)

// pageError is what an error page shows: a status, a title and a sentence
// saying what happened. Err is logged only; the browser never sees a stack
// trace, an internal error text or the registry's raw JSON.
type pageError struct {
	Status int
	Title  string
	Msg    string
	Login  bool // offer the login form
	Err    error
}

func (e *pageError) Error() string {
	if e.Err != nil {
		return e.Title + ": " + e.Err.Error()
	}
	return e.Title
}

func (e *pageError) Unwrap() error { return e.Err }

// explain turns any error of a page into what the user is told.
func explain(err error) *pageError {
	var pe *pageError
	if errors.As(err, &pe) {
		return pe
	}
	var ae *apiError
	var re *realmError
	switch {
	case errors.Is(err, errSessionExpired):
		return &pageError{Status: http.StatusUnauthorized, Title: "Session expired", Msg: err.Error(), Login: true, Err: err}
	case errors.Is(err, errNoRefresh), errors.Is(err, errNoRedeem):
		return &pageError{Status: http.StatusBadGateway, Title: "The token server cannot keep you logged in", Msg: err.Error(), Err: err}
	case errors.Is(err, errThrottled):
		return &pageError{Status: http.StatusTooManyRequests, Title: "Too many attempts", Msg: err.Error(), Err: err}
	case errors.As(err, &re):
		return &pageError{Status: http.StatusBadGateway, Title: "The token server is unavailable",
			Msg: "The registry could not get a token for you from its token server. Try again in a moment.", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &pageError{Status: http.StatusGatewayTimeout, Title: "Timed out", Msg: "The registry took too long to answer.", Err: err}
	case errors.As(err, &ae):
		return explainAPI(ae)
	}
	return &pageError{Status: http.StatusInternalServerError, Title: "Something went wrong",
		Msg: "The registry UI could not complete this request; the details are in the registry's log.", Err: err}
}

func explainAPI(ae *apiError) *pageError {
	pe := &pageError{Status: ae.status, Err: ae}
	switch {
	case ae.status == http.StatusUnauthorized && ae.scope, ae.status == http.StatusForbidden, ae.code == "DENIED":
		pe.Status, pe.Title = http.StatusForbidden, "Not allowed"
		pe.Msg = "Your account is not allowed to do this here."
	case ae.status == http.StatusUnauthorized:
		pe.Title, pe.Login = "Token refused", true
		pe.Msg = "The registry refused the credentials the UI presented for you. Log in again."
	case ae.code == "NAME_UNKNOWN":
		pe.Title, pe.Msg = "Repository not found", "This repository does not exist (any more)."
	case ae.code == "MANIFEST_UNKNOWN" || ae.status == http.StatusNotFound:
		pe.Status = http.StatusNotFound
		pe.Title, pe.Msg = "Not found", "This tag or manifest does not exist (any more)."
	case ae.status == http.StatusServiceUnavailable:
		pe.Title, pe.Msg = "Registry unavailable", "The registry's storage is failing its health check; try again later."
	case ae.code == "UNSUPPORTED" || ae.status == http.StatusMethodNotAllowed:
		pe.Title, pe.Msg = "Not supported", "The registry does not allow this (deletion disabled or read-only mode)."
	case ae.code == "NAME_INVALID" || ae.code == "MANIFEST_INVALID" || ae.status == http.StatusBadRequest:
		pe.Status, pe.Title, pe.Msg = http.StatusBadRequest, "Invalid request", "That is not a valid repository name, tag or digest."
	default:
		pe.Status = http.StatusBadGateway
		pe.Title, pe.Msg = "Registry error", "The registry could not answer this request; the details are in its log."
	}
	return pe
}

// renderError logs err and shows its page.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, v *view, err error) {
	pe := explain(err)
	level := s.logger.Info
	if pe.Status >= 500 {
		level = s.logger.Warn
	}
	level("ui: request failed", "path", r.URL.Path, "status", pe.Status, "err", err)
	v.Title = pe.Title
	v.Data = pe
	s.render(w, pe.Status, "error.html", v)
}
