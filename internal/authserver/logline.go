package authserver

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wharf-registry/wharf/internal/logtext"
	"github.com/wharf-registry/wharf/pkg/token"
)

// logRequest writes the one line per token request. Never a password or a
// token: only who, what was asked, what was granted and why.
//
// The line is built as typed attributes (LogAttrs, no boxing of each value)
// and the lists as values that render themselves: with slog's text handler
// (cmd/auth) exactly as fmt would print the slices, [a b], and with a JSON
// handler as JSON arrays, so no handler sees different information.
//
// The record is built here rather than by Logger.LogAttrs, which would read
// the clock once more (the line's time is end, when the request was done)
// and unwind the stack for a source position that is the same every time.
func (s *Server) logRequest(r *http.Request, req *tokenRequest, status int, end time.Time, latency time.Duration, err error) {
	level := slog.LevelInfo
	reason := ""
	if err != nil {
		reason = err.Error()
		var he *httpError
		if errors.As(err, &he) {
			reason = he.Msg
			if he.Err != nil {
				reason = he.Err.Error()
			}
		}
		switch {
		case status == statusClientClosed:
			level = slog.LevelInfo
		case status >= 500:
			level = slog.LevelError
		default:
			level = slog.LevelWarn
		}
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	ip := "unknown"
	if req.ip.IsValid() {
		ip = req.ip.String()
	}
	var buf [15]slog.Attr
	attrs := append(buf[:0],
		slog.String("method", r.Method),
		slog.Int("status", status),
		slog.String("grant", req.grantType),
		slog.String("account", req.account),
		slog.String("service", req.service),
		slog.String("client_id", req.clientID),
		slog.String("client_ip", ip),
		// Pointers into req: a slice in an interface would be one more
		// allocation each.
		slog.Any("scopes_asked", (*askedList)(&req.scopes)),
		slog.Any("scopes_granted", (*grantedList)(&req.granted)),
		slog.Any("rules", (*intList)(&req.rules)),
		slog.Bool("reused", req.reused),
	)
	if req.catalog != "" {
		attrs = append(attrs, slog.String("catalog", req.catalog))
	}
	attrs = append(attrs, slog.Float64("latency_ms", float64(latency.Microseconds())/1000))
	if err != nil {
		attrs = append(attrs, slog.String("reason", reason))
	}
	// As Logger does, a failed write is not the client's problem.
	h := s.log.Handler()
	if ok, _ := logtext.HandleAttrs(ctx, h, end, level, "token request", requestLinePC(), attrs); ok {
		return // cmd/auth's handler: no Record to fill
	}
	rec := slog.NewRecord(end, level, "token request", requestLinePC())
	rec.AddAttrs(attrs...)
	_ = h.Handle(ctx, rec)
}

// linePC is the program counter of requestLinePC's call in logRequest,
// once found.
var linePC atomic.Uintptr

// requestLinePC is what Logger.LogAttrs would record as the line's source
// (a handler with AddSource prints it): a place in logRequest.
func requestLinePC() uintptr {
	if pc := linePC.Load(); pc != 0 {
		return pc
	}
	var pcs [1]uintptr
	runtime.Callers(2, pcs[:]) // 0 is Callers, 1 this function, 2 its caller
	linePC.Store(pcs[0])
	return pcs[0]
}

// askedList is the scopes asked for, rendered when the line is written.
type askedList []token.Scope

// MarshalText prints the scopes as fmt prints a []string of them.
func (l askedList) MarshalText() ([]byte, error) { return l.AppendLogText(nil), nil }

// AppendLogText appends MarshalText's bytes (logtext.TextAppender).
func (l askedList) AppendLogText(b []byte) []byte {
	return appendScopes(b, l, func(sc token.Scope) (string, string, string, []string) {
		return sc.Type, sc.Class, sc.Name, sc.Actions
	})
}

// appendScopes appends scopes (whatever holds their parts) as fmt prints
// a []string of them.
func appendScopes[T any](b []byte, l []T, parts func(T) (typ, class, name string, actions []string)) []byte {
	b = append(b, '[')
	for i, x := range l {
		if i > 0 {
			b = append(b, ' ')
		}
		typ, class, name, actions := parts(x)
		b = appendScope(b, typ, class, name, actions)
	}
	return append(b, ']')
}

// appendScope appends what token.Scope.String returns, without the
// allocations of building it.
func appendScope(b []byte, typ, class, name string, actions []string) []byte {
	b = append(b, typ...)
	if class != "" {
		b = append(b, '(')
		b = append(b, class...)
		b = append(b, ')')
	}
	b = append(b, ':')
	b = append(b, name...)
	b = append(b, ':')
	for i, a := range actions {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a...)
	}
	return b
}

// MarshalJSON writes the scopes as an array of strings.
func (l askedList) MarshalJSON() ([]byte, error) {
	out := make([]string, len(l))
	for i, sc := range l {
		out[i] = sc.String()
	}
	return json.Marshal(out)
}

// grantedList is what the token grants, rendered like askedList.
type grantedList []token.ResourceActions

func (l grantedList) scopes() askedList {
	out := make(askedList, len(l))
	for i, ra := range l {
		out[i] = token.Scope{Type: ra.Type, Class: ra.Class, Name: ra.Name, Actions: ra.Actions}
	}
	return out
}

// MarshalText prints the grants as fmt prints a []string of them.
func (l grantedList) MarshalText() ([]byte, error) { return l.AppendLogText(nil), nil }

// AppendLogText appends MarshalText's bytes (logtext.TextAppender).
func (l grantedList) AppendLogText(b []byte) []byte {
	return appendScopes(b, l, func(ra token.ResourceActions) (string, string, string, []string) {
		return ra.Type, ra.Class, ra.Name, ra.Actions
	})
}

// MarshalJSON writes the grants as an array of scope strings.
func (l grantedList) MarshalJSON() ([]byte, error) { return l.scopes().MarshalJSON() }

// intList is the deciding ACL rules.
type intList []int

// MarshalText prints the rules as fmt prints a []int.
func (l intList) MarshalText() ([]byte, error) { return l.AppendLogText(nil), nil }

// AppendLogText appends MarshalText's bytes (logtext.TextAppender).
func (l intList) AppendLogText(b []byte) []byte {
	b = append(b, '[')
	for i, n := range l {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return append(b, ']')
}

// MarshalJSON writes the rules as encoding/json writes a []int.
func (l intList) MarshalJSON() ([]byte, error) { return json.Marshal([]int(l)) }
