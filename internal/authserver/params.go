package authserver

import (
	"net/url"
	"strings"
)

// Every token request's parameters (GET's query, POST's form) were parsed
// into a url.Values: a map, a slice per key and a string per name, for the
// handful of short parameters a client sends. params reads them into an
// array instead, with exactly url.ParseQuery's rules, and decodes only what
// is escaped; the tests compare the two on every kind of input.

// maxFastParams is how many '&'-separated parts params keeps in place; a
// longer query goes through url.ParseQuery as it is.
const maxFastParams = 16

// fastParamsAllowed reports whether url.ParseQuery takes maxFastParams
// parameters. A GODEBUG urlmaxqueryparams setting (in the environment or
// the build) may set its limit lower; then every query goes through
// url.ParseQuery, so that limit holds.
var fastParamsAllowed = func() bool {
	_, err := url.ParseQuery(strings.Repeat("p=&", maxFastParams-1) + "p=")
	return err == nil
}()

// param is one decoded name=value pair.
type param struct{ name, value string }

// params is a query or form: the decoded pairs in order, or the Values
// url.ParseQuery returned for one params does not hold.
type params struct {
	pairs  [maxFastParams]param
	n      int
	values url.Values // when not nil, the parameters
}

// parseParams parses query as url.ParseQuery does: the same pairs in the
// same order, the same first error (the valid pairs are kept beside it).
func parseParams(p *params, query string) error {
	if !fastParamsAllowed || strings.Count(query, "&")+1 > maxFastParams {
		var err error
		p.values, err = url.ParseQuery(query)
		return err
	}
	var err error
	for query != "" {
		var part string
		part, query, _ = strings.Cut(query, "&")
		if strings.Contains(part, ";") {
			err = errSemicolon
			continue
		}
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		name, err1 := unescapeParam(name)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		value, err1 = unescapeParam(value)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		p.pairs[p.n] = param{name, value}
		p.n++
	}
	return err
}

// errSemicolon is url.ParseQuery's error for a ';' in a pair, the same
// text.
var errSemicolon = func() error {
	_, err := url.ParseQuery(";")
	return err
}()

// unescapeParam is url.QueryUnescape, without its work when s has nothing
// to decode.
func unescapeParam(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// Get returns the first value of name, or "", as url.Values.Get does.
func (p *params) Get(name string) string {
	if p.values != nil {
		return p.values.Get(name)
	}
	for _, x := range p.pairs[:p.n] {
		if x.name == name {
			return x.value
		}
	}
	return ""
}

// All returns every value of name in order, nil for none, as indexing a
// url.Values does.
func (p *params) All(name string) []string {
	if p.values != nil {
		return p.values[name]
	}
	var out []string
	for _, x := range p.pairs[:p.n] {
		if x.name == name {
			out = append(out, x.value)
		}
	}
	return out
}
