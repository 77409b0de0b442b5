package token

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMalformedScope is wrapped by every scope parsing error. The token
// server answers it with 400 Bad Request.
var ErrMalformedScope = errors.New("malformed scope")

// MaxScopes bounds the number of scopes one token request may ask for, so a
// request cannot make the server evaluate its ACL an unbounded number of times.
const MaxScopes = 64

// maxScopeLen bounds one scope string. Names are capped at 255 characters by
// the reference grammar; the rest leaves room for type, class and actions.
const maxScopeLen = 512

// maxNameLen is distribution's reference.NameTotalLengthMax.
const maxNameLen = 255

// Scope is one access request of the Docker token protocol, written
// type[(class)]:name:actions, for example "repository:library/alpine:pull,push"
// or "registry:catalog:*".
//
// See https://distribution.github.io/distribution/spec/auth/scope/.
type Scope struct {
	// Type is the resource type, [a-z0-9]+ ("repository", "registry").
	Type string
	// Class is the optional resource class: "plugin" in
	// "repository(plugin):name:pull"; "" when absent.
	Class string
	// Name is the resource name. It may contain a host:port prefix
	// ("localhost:5000/app"), which is why the type is split at the first
	// ':' and the actions at the last.
	Name string
	// Actions are the requested actions in request order, without empty
	// entries or duplicates. "*" means every action.
	Actions []string
}

// ParseScope parses one scope string. Errors wrap ErrMalformedScope and say
// what is wrong.
func ParseScope(s string) (Scope, error) {
	if len(s) > maxScopeLen {
		return Scope{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedScope, maxScopeLen)
	}
	first := strings.IndexByte(s, ':')
	last := strings.LastIndexByte(s, ':')
	if first < 0 || first == last {
		return Scope{}, fmt.Errorf("%w: %q: want type:name:actions", ErrMalformedScope, s)
	}
	resType, name, actions := s[:first], s[first+1:last], s[last+1:]

	var sc Scope
	if open := strings.IndexByte(resType, '('); open >= 0 {
		if !strings.HasSuffix(resType, ")") {
			return Scope{}, fmt.Errorf("%w: %q: unterminated resource class", ErrMalformedScope, s)
		}
		sc.Class = resType[open+1 : len(resType)-1]
		resType = resType[:open]
		if !validType(sc.Class) {
			return Scope{}, fmt.Errorf("%w: %q: resource class must match [a-z0-9]+", ErrMalformedScope, s)
		}
	}
	if !validType(resType) {
		return Scope{}, fmt.Errorf("%w: %q: resource type must match [a-z0-9]+", ErrMalformedScope, s)
	}
	sc.Type = resType

	if name == "" {
		return Scope{}, fmt.Errorf("%w: %q: empty resource name", ErrMalformedScope, s)
	}
	if len(name) > maxNameLen || !validName(name) {
		return Scope{}, fmt.Errorf("%w: %q: invalid resource name %q", ErrMalformedScope, s, name)
	}
	sc.Name = name

	sc.Actions = []string{}
	for a := range strings.SplitSeq(actions, ",") {
		if a == "" {
			continue
		}
		if !validAction(a) {
			return Scope{}, fmt.Errorf("%w: %q: invalid action %q", ErrMalformedScope, s, a)
		}
		if !contains(sc.Actions, a) {
			sc.Actions = append(sc.Actions, a)
		}
	}
	return sc, nil
}

// ParseScopes parses the scope parameters of a token request. Clients send
// several scopes either as repeated parameters or space-separated in one
// parameter (OAuth2 style); both forms may be mixed. Blank entries are
// skipped. More than MaxScopes scopes in total is an error wrapping
// ErrMalformedScope.
func ParseScopes(params []string) ([]Scope, error) {
	var out []Scope
	for _, p := range params {
		for f := range strings.FieldsSeq(p) { // no slice of the fields
			if len(out) == MaxScopes {
				return nil, fmt.Errorf("%w: more than %d scopes", ErrMalformedScope, MaxScopes)
			}
			sc, err := ParseScope(f)
			if err != nil {
				return nil, err
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

// String returns the canonical form type[(class)]:name:actions, which
// ParseScope reads back to an equal Scope.
func (s Scope) String() string {
	var b strings.Builder
	b.WriteString(s.Type)
	if s.Class != "" {
		b.WriteByte('(')
		b.WriteString(s.Class)
		b.WriteByte(')')
	}
	b.WriteByte(':')
	b.WriteString(s.Name)
	b.WriteByte(':')
	b.WriteString(strings.Join(s.Actions, ","))
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
