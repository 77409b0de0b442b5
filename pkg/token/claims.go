package token

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// ResourceActions is one entry of a token's "access" claim: the actions
// granted on one resource.
type ResourceActions struct {
	Type    string   `json:"type"`
	Class   string   `json:"class,omitempty"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"` // never null in JSON: [] when nothing granted; sorted
}

// MarshalJSON writes Actions sorted and as [] rather than null: clients and
// registries index into the list and some choke on null.
func (r ResourceActions) MarshalJSON() ([]byte, error) {
	type plain ResourceActions // drops this method, so no recursion
	p := plain(r)
	p.Actions = slices.Clone(r.Actions)
	if p.Actions == nil {
		p.Actions = []string{}
	}
	slices.Sort(p.Actions)
	return json.Marshal(p)
}

// Claims are the claims of a Docker registry token: the registered JWT
// claims plus the granted access.
type Claims struct {
	jwt.RegisteredClaims                   // iss, sub, aud, exp, nbf, iat, jti
	Access               []ResourceActions `json:"access"` // never null in JSON ([] for docker login)
	// Pull, when present, is the bearer's narrowed pull rules (PullClaim):
	// the registry lists in its catalog only the names they grant. nil
	// (absent) for tokens of other token servers; an empty list grants
	// nothing.
	Pull *[]PullRule `json:"wharf_pull,omitempty"`
}

// MarshalJSON writes Access as [] rather than null: a "docker login" token
// grants nothing, and distribution reads a null access list as an error.
//
// A single audience is written as a JSON string, as docker_auth writes it:
// registry:2 (v2.8) decodes "aud" into a Go string and refuses a token whose
// "aud" is an array as "malformed token". Several audiences stay a list,
// which RFC 7519 allows and registry:3 reads. (jwt/v5 writes one audience as
// a list unless its package-wide MarshalSingleStringAsArray is turned off; a
// method of our own keeps that global untouched.)
//
// "sub" is always written, "" for an anonymous token, as docker_auth writes
// it and as both registry generations' claim sets declare it (jwt/v5 would
// omit it when empty).
func (c Claims) MarshalJSON() ([]byte, error) {
	type plain Claims // drops this method, so no recursion
	p := struct {
		plain
		Subject  string `json:"sub"`           // shadows RegisteredClaims.Subject
		Audience any    `json:"aud,omitempty"` // shadows RegisteredClaims.Audience
	}{plain: plain(c), Subject: c.Subject}
	if p.Access == nil {
		p.Access = []ResourceActions{}
	}
	if p.Pull != nil && *p.Pull == nil {
		// null would read as "no claim": a list, even empty, denies.
		p.Pull = &[]PullRule{}
	}
	switch len(c.Audience) {
	case 0:
	case 1:
		p.Audience = c.Audience[0]
	default:
		p.Audience = []string(c.Audience)
	}
	return json.Marshal(p)
}

// Allows reports whether the claims grant action on the resource (typ,
// name). A "*" among the granted actions matches any action. The resource
// class is not compared, as in distribution. A nil *Claims allows nothing.
func (c *Claims) Allows(typ, name, action string) bool {
	if c == nil {
		return false
	}
	for _, ra := range c.Access {
		if ra.Type != typ || ra.Name != name {
			continue
		}
		for _, a := range ra.Actions {
			if a == action || a == "*" {
				return true
			}
		}
	}
	return false
}

// clone returns a deep copy, so a cached result cannot be changed by a caller.
func (c *Claims) clone() *Claims {
	out := *c
	out.Audience = slices.Clone(c.Audience)
	out.Access = make([]ResourceActions, len(c.Access))
	for i, ra := range c.Access {
		ra.Actions = slices.Clone(ra.Actions)
		out.Access[i] = ra
	}
	if c.Access == nil {
		out.Access = nil
	}
	out.Pull = clonePull(c.Pull)
	return &out
}

// NewJTI returns a fresh token id: 128 bits from crypto/rand, base64url
// without padding. (docker_auth drew its jti from math/rand.)
func NewJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}
