// Package acl implements cesanta/docker_auth's static ACL with its meaning
// kept and its traps removed.
//
// An ACL is an ordered list of rules. The first rule whose match conditions
// all hold decides: `actions: ["*"]` grants exactly what was asked, another
// list grants its intersection with the request, `actions: []` denies. When
// no rule matches, nothing is granted. `match: {}` matches every request.
//
// The conditions are account, type, name and service (string patterns
// matched against the request), ip (an address or a CIDR containing the
// client address; an unknown address never matches) and labels (for each
// listed label, at least one of the user's values must match its pattern).
//
// A string pattern is a glob, or a Go regexp when written between slashes
// ("/^(foo|bar)$/"; unanchored, as in docker_auth). Globs mean what
// path.Match means: `*` and `?` never match `/`. In addition, `**` matches
// any sequence including `/`: "team/**" covers "team/app" and
// "team/sub/app", but not "team" itself.
//
// Patterns may use placeholders, replaced by the request's values:
// ${account}, ${type}, ${name}, ${service}; ${labels:X}, tried with each of
// the user's values of label X (the pattern matches if any does); and
// ${FIELD:N}, capture group N of the /regex/ written in match.FIELD, applied
// to the request's FIELD (for example account "/^(.+)@example.com$/" with
// name "${account:1}/*").
//
// Unlike docker_auth, values are always matched literally: an account named
// `*`, `.*` or `a|b` reaches only its own namespace. A placeholder without a
// value (a label the user lacks, a capture group whose regexp did not match)
// makes its pattern fail instead of matching its own text. Entries without
// match or actions, bad patterns, addresses and placeholders are compile
// errors rather than crashes or rules that match everybody.
//
// A requested "*" action is an action like any other: only a rule whose
// actions are exactly ["*"] grants it back, so a user limited to [pull] who
// asks for pull, push, delete and * gets [pull].
package acl

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Entry is one ACL rule as written in YAML (docker_auth's format).
// Pointers tell "absent" from "empty".
type Entry struct {
	Match   *Match    `yaml:"match"`
	Actions *[]string `yaml:"actions"`
	Comment *string   `yaml:"comment"`
}

// Match holds the conditions of a rule; every present one must hold.
type Match struct {
	Account *string           `yaml:"account"`
	Type    *string           `yaml:"type"`
	Name    *string           `yaml:"name"`
	IP      *string           `yaml:"ip"` // address or CIDR
	Service *string           `yaml:"service"`
	Labels  map[string]string `yaml:"labels"`
}

// Request is what one scope asks for.
type Request struct {
	Account string              // "" for anonymous
	Labels  map[string][]string // the user's labels
	Service string
	IP      netip.Addr // client address (invalid Addr = unknown; never matches an ip rule)
	Type    string     // scope type, e.g. "repository", "registry"
	Name    string     // scope name
	Actions []string   // requested actions
}

// Decision is the outcome for one Request.
type Decision struct {
	Actions []string // granted: sorted, deduplicated, subset of requested (never nil: [] when denied)
	Rule    int      // index of the deciding rule, -1 if none matched
	Comment string   // that rule's comment
}

// ACL is a compiled rule list. It is immutable and safe for concurrent use.
type ACL struct {
	rules []*rule
}

// Authorize decides req: the first rule that matches it grants its share of
// the requested actions. A nil ACL denies everything.
func (a *ACL) Authorize(req Request) Decision {
	if a != nil {
		b := newBindings(&req)
		for i, r := range a.rules {
			if r.matches(&req, b) {
				return Decision{Actions: r.grant(req.Actions), Rule: i, Comment: r.comment}
			}
		}
	}
	return Decision{Actions: []string{}, Rule: -1}
}

// Len returns the number of rules.
func (a *ACL) Len() int {
	if a == nil {
		return 0
	}
	return len(a.rules)
}

// Describe returns a one-line human description of rule i, such as
// `#2 {account: reader, name: nginx} -> [pull] (comment)`, for logs and
// `auth check`.
func (a *ACL) Describe(i int) string {
	if i < 0 || i >= a.Len() {
		return fmt.Sprintf("#%d (no such rule)", i)
	}
	return fmt.Sprintf("#%d %s", i, a.rules[i].desc)
}

func (r *rule) matches(req *Request, b *bindings) bool {
	if r.hasIP {
		ip := req.IP.WithZone("").Unmap()
		if !ip.IsValid() || !r.ip.Contains(ip) {
			return false
		}
	}
	b.bindCaptures(r.captures)
	for f, p := range r.conds {
		if p != nil && !p.match(b.fields[f], b) {
			return false
		}
	}
	for _, lc := range r.labels {
		if !slices.ContainsFunc(req.Labels[lc.label], func(v string) bool { return lc.p.match(v, b) }) {
			return false
		}
	}
	return true
}

// grant returns the rule's share of requested: sorted, without duplicates
// or empty names, never nil.
func (r *rule) grant(requested []string) []string {
	out := make([]string, 0, len(requested))
	for _, a := range requested {
		if a != "" && (r.all || slices.Contains(r.actions, a)) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// describe renders an entry as "{account: reader, name: nginx} -> [pull] (comment)".
func describe(e Entry) string {
	var conds []string
	add := func(key string, v *string) {
		if v != nil {
			conds = append(conds, key+": "+quoteIfNeeded(*v))
		}
	}
	if m := e.Match; m != nil {
		add("account", m.Account)
		add("type", m.Type)
		add("name", m.Name)
		add("service", m.Service)
		add("ip", m.IP)
		if len(m.Labels) > 0 {
			var ls []string
			for _, k := range sortedKeys(m.Labels) {
				ls = append(ls, quoteIfNeeded(k)+": "+quoteIfNeeded(m.Labels[k]))
			}
			conds = append(conds, "labels: {"+strings.Join(ls, ", ")+"}")
		}
	}
	var b strings.Builder
	if e.Match == nil {
		b.WriteString("(no match)")
	} else {
		b.WriteString("{" + strings.Join(conds, ", ") + "}")
	}
	b.WriteString(" -> ")
	if e.Actions == nil {
		b.WriteString("(no actions)")
	} else {
		as := make([]string, len(*e.Actions))
		for i, a := range *e.Actions {
			as[i] = quoteIfNeeded(a)
		}
		b.WriteString("[" + strings.Join(as, ", ") + "]")
	}
	if e.Comment != nil && *e.Comment != "" {
		b.WriteString(" (" + *e.Comment + ")")
	}
	return b.String()
}

// quoteIfNeeded quotes values that would be ambiguous unquoted, such as ""
// (the anonymous account) or text containing separators.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " ,:{}[]\"'#") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}
