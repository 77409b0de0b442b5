package acl

import "slices"

// Narrowing serves the filtered catalog. The token server knows who asks
// (account, labels, service, client address) but not which repositories
// exist; the registry knows the repositories but not the ACL. NarrowPull
// decides on the token server everything about a pull except the
// repository name, and leaves an ACL of name conditions only, small enough
// to travel in a signed token. The registry compiles it like any ACL and
// asks it, for each name it lists, whether the name may be pulled.
//
// The narrowed list keeps the original order and first-match-wins meaning:
//
//   - A rule whose ip, account, type ("repository"), service or labels
//     condition fails for this request is dropped: it can never match.
//   - The name pattern keeps its text when it has no placeholders. With
//     placeholders it becomes a /regex/ in which every value is quoted, so
//     values still match literally ("${account}/*" for the account "a.b*"
//     matches "a.b*/x" only); ${labels:X} gives one rule per combination of
//     the user's values, which first-match-wins reads as their union. A
//     placeholder without a value drops the rule, as it fails every match.
//   - A rule that would grant pull keeps actions ["pull"]; every other
//     matching rule becomes a deny (actions []), because it still shadows
//     the rules below it for the names it covers.
//   - A rule without a name condition decides every name: nothing after it
//     is kept. Trailing denies are dropped (no match already denies).
//   - A condition other than the name that uses ${name} (or a capture of
//     the name's regex) cannot be decided without the name. Such a rule
//     becomes a deny for the names it covers: the catalog may then list
//     fewer repositories than the account may pull, never more.

// NarrowPull returns the rules of a that decide whether req's account may
// pull a repository, with everything but the repository name decided for
// req's account, labels, service and address. req's Type, Name and Actions
// are ignored. Every returned entry has a match with at most a name
// condition and actions ["pull"] or []; Compile accepts the list, and its
// Authorize grants pull on a name exactly when a does for req (see above
// for the one conservative case). The result is never nil.
func (a *ACL) NarrowPull(req Request) []Entry {
	out := []Entry{}
	if a == nil {
		return out
	}
	req.Type, req.Name, req.Actions = "repository", "", []string{"pull"}
	b := newBindings(&req)
	for _, r := range a.rules {
		n, ok := r.narrow(&req, b)
		if !ok {
			continue
		}
		actions := []string{}
		if !n.unsure && (r.all || slices.Contains(r.actions, "pull")) {
			actions = []string{"pull"}
		}
		if n.names == nil {
			out = append(out, Entry{Match: &Match{}, Actions: &actions})
			break
		}
		for _, name := range n.names {
			out = append(out, Entry{Match: &Match{Name: &name}, Actions: &actions})
		}
	}
	for len(out) > 0 && len(*out[len(out)-1].Actions) == 0 {
		out = out[:len(out)-1]
	}
	return out
}

// narrowed is one rule with every condition but the name decided.
type narrowed struct {
	names  []string // patterns covering the names it matches; nil: every name
	unsure bool     // a condition besides the name depends on the name
}

// narrow decides r's conditions other than the name for req, whose Name is
// unknown. ok is false when r cannot match whatever the name.
func (r *rule) narrow(req *Request, b *bindings) (n narrowed, ok bool) {
	if r.hasIP {
		ip := req.IP.WithZone("").Unmap()
		if !ip.IsValid() || !r.ip.Contains(ip) {
			return n, false
		}
	}
	b.bindCaptures(r.captures)
	for _, c := range r.captures {
		if c.ph.field == fieldName { // bound from the empty name: meaningless
			delete(b.captures, c.ph)
		}
	}
	for f, p := range r.conds {
		switch {
		case p == nil || field(f) == fieldName:
		case p.usesName():
			n.unsure = true
		case !p.match(b.fields[f], b):
			return n, false
		}
	}
	for _, lc := range r.labels {
		switch {
		case lc.p.usesName():
			n.unsure = true
		case !slices.ContainsFunc(req.Labels[lc.label], func(v string) bool { return lc.p.match(v, b) }):
			return n, false
		}
	}
	switch p := r.conds[fieldName]; {
	case p == nil:
	case p.usesName(): // "${name}" in the name: leave it to the deny below
		n.unsure = true
	case p.re != nil:
		n.names = []string{p.src}
	default:
		n.names = []string{}
		p.eachSource(b, func(src string) bool {
			if re := "/" + src + "/"; !slices.Contains(n.names, re) {
				n.names = append(n.names, re)
			}
			return false
		})
		if len(n.names) == 0 {
			return n, false
		}
	}
	return n, true
}

// usesName reports whether p has a placeholder whose value comes from the
// request's name: ${name}, or a capture group of match.name's regex.
func (p *pattern) usesName() bool {
	return slices.ContainsFunc(p.placeholders(), func(ph placeholder) bool {
		return ph.kind != phLabel && ph.field == fieldName
	})
}

// DeniesResource reports whether rule i is a deny written for a resource:
// its actions are [] and its match has a type or a name condition. The
// token server refuses the filtered catalog only when such a rule decides
// the catalog request; a catch-all deny (`match: {}` or one naming only an
// account) does not, since the filtered list reveals only what the account
// may pull anyway.
func (a *ACL) DeniesResource(i int) bool {
	if i < 0 || i >= a.Len() {
		return false
	}
	r := a.rules[i]
	return !r.all && len(r.actions) == 0 && (r.conds[fieldType] != nil || r.conds[fieldName] != nil)
}
