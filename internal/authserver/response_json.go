package authserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// The token response is the hottest thing this server writes: a CI fleet
// asks for the same token again and again, and encoding/json's reflection
// and per-byte escaping of a kilobyte JWT (twice) cost more than finding
// the cached token. appendTokenResponse writes exactly what
// json.NewEncoder(w).Encode(tokenResponse) writes (the tests compare them
// on every kind of string), from constant pieces and the strings as they
// are, falling back to encoding/json for a string that needs escaping.

// appendTokenResponse appends body as encoding/json's Encoder would: the
// fields in declaration order, omitempty honoured, HTML-safe escaping, a
// trailing newline.
func appendTokenResponse(dst []byte, body tokenResponse) []byte {
	dst = append(dst, `{"token":`...)
	start := len(dst)
	if body.quotedToken != "" {
		dst = append(dst, body.quotedToken...)
	} else {
		dst = appendJSONString(dst, body.Token)
	}
	end := len(dst)
	dst = append(dst, `,"access_token":`...)
	if body.AccessToken == body.Token { // the same JWT: copy its quoted form
		dst = append(dst, dst[start:end]...)
	} else {
		dst = appendJSONString(dst, body.AccessToken)
	}
	dst = append(dst, `,"expires_in":`...)
	dst = strconv.AppendInt(dst, body.ExpiresIn, 10)
	dst = append(dst, `,"issued_at":`...)
	dst = appendJSONString(dst, body.IssuedAt)
	if body.RefreshToken != "" {
		dst = append(dst, `,"refresh_token":`...)
		dst = appendJSONString(dst, body.RefreshToken)
	}
	if body.Scope != "" {
		dst = append(dst, `,"scope":`...)
		dst = appendJSONString(dst, body.Scope)
	}
	return append(dst, "}\n"...)
}

// appendJSONString quotes s. Tokens, times and scopes are ASCII with
// nothing to escape, and are copied as they are; anything else goes
// through encoding/json, so the bytes never differ from its output.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonVerbatim[s[i]] {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// responseBufs hold response bodies while they are written; a body is a
// few kilobytes, so the buffers stay small.
var responseBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 4<<10)
	return &b
}}

// jsonVerbatim marks the bytes encoding/json copies into a string as they
// are: ASCII from the space up (DEL included) but the quote, the backslash
// and the HTML-escaped <, > and &.
var jsonVerbatim = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// The response's fixed headers, already canonical: set by assignment, so
// no request pays for canonicalising them. net/http only reads them.
var (
	headerJSON    = []string{"application/json"}
	headerNoStore = []string{"no-store"}
	headerNoCache = []string{"no-cache"}
	headerNoSniff = []string{"nosniff"}
)

// respond writes a token response; tokens must never be cached. The body
// is built in one piece, so it goes out with a Content-Length in one
// write.
func respond(w http.ResponseWriter, body tokenResponse) error {
	bp := responseBufs.Get().(*[]byte)
	defer responseBufs.Put(bp)
	b := appendTokenResponse((*bp)[:0], body)
	*bp = b
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Cache-Control"] = headerNoStore
	h["Pragma"] = headerNoCache
	h["X-Content-Type-Options"] = headerNoSniff
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}
