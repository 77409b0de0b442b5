package acl

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// FieldError locates a compile problem. Path, like "[2].match.ip", is
// relative to the acl list so the config layer can prefix "acl" and find the
// YAML line.
type FieldError struct {
	Index int    // index of the entry in the list
	Path  string // "[2].match.ip", "[0].actions", "[1].match.labels.team"
	Msg   string
}

// Error formats the problem as "path: msg".
func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// CompileErrors is every problem found by Compile, in list order.
type CompileErrors []*FieldError

// Error joins every problem, one per line.
func (e CompileErrors) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "\n")
}

// rule is one compiled entry.
type rule struct {
	conds    [numFields]*pattern // nil: condition absent
	hasIP    bool
	ip       netip.Prefix
	labels   []labelCond // sorted by label name
	captures []capture   // capture placeholders used anywhere in the rule
	all      bool        // actions: ["*"]
	actions  []string    // sorted, deduplicated; unused when all
	comment  string
	desc     string // Describe's text without the "#i " prefix
}

// labelCond requires one of the user's values of label to match p.
type labelCond struct {
	label string
	p     *pattern
}

// Compile checks every entry and compiles the list. It reports all problems
// at once as CompileErrors. Beyond what docker_auth checks, an entry needs
// both match (write `match: {}` to match every request) and actions (write
// `actions: []` to deny), and "*" must be the only action of its entry.
func Compile(entries []Entry) (*ACL, error) {
	a := &ACL{rules: make([]*rule, 0, len(entries))}
	var errs CompileErrors
	for i, e := range entries {
		r, es := compileEntry(i, e)
		errs = append(errs, es...)
		a.rules = append(a.rules, r)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return a, nil
}

func compileEntry(i int, e Entry) (*rule, CompileErrors) {
	var errs CompileErrors
	fail := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Index: i, Path: fmt.Sprintf("[%d].%s", i, path), Msg: fmt.Sprintf(format, args...)})
	}
	r := &rule{}
	if e.Comment != nil {
		r.comment = *e.Comment
	}
	if e.Match == nil {
		fail("match", "missing match (write `match: {}` to match every request)")
	} else {
		compileMatch(r, e.Match, fail)
	}
	if e.Actions == nil {
		fail("actions", "missing actions (write `actions: []` to deny)")
	} else {
		compileActions(r, *e.Actions, fail)
	}
	r.desc = describe(e)
	return r, errs
}

func compileMatch(r *rule, m *Match, fail func(path, format string, args ...any)) {
	type located struct {
		path string
		p    *pattern
	}
	var compiled []located
	written := [numFields]*string{m.Account, m.Type, m.Name, m.Service}
	for f, src := range written {
		if src == nil {
			continue
		}
		path := "match." + fieldNames[f]
		p, err := compilePattern(*src)
		if err != nil {
			fail(path, "%v", err)
			continue
		}
		r.conds[f] = p
		compiled = append(compiled, located{path, p})
	}
	if m.IP != nil {
		pfx, err := parseIPPattern(*m.IP)
		if err != nil {
			fail("match.ip", "%v", err)
		}
		r.hasIP, r.ip = true, pfx
	}
	for _, label := range sortedKeys(m.Labels) {
		path := "match.labels." + label
		p, err := compilePattern(m.Labels[label])
		if err != nil {
			fail(path, "%v", err)
			continue
		}
		r.labels = append(r.labels, labelCond{label, p})
		compiled = append(compiled, located{path, p})
	}
	// A capture placeholder needs its field to be a fixed /regex/ with that
	// many groups. docker_auth skipped the substitution otherwise and
	// matched the placeholder's own text.
	for _, c := range compiled {
		for _, ph := range c.p.placeholders() {
			if ph.kind != phCapture || slices.ContainsFunc(r.captures, func(k capture) bool { return k.ph == ph }) {
				continue
			}
			src := r.conds[ph.field]
			switch {
			case src == nil && written[ph.field] != nil:
				// Its own error is already reported.
			case src == nil:
				fail(c.path, "%s needs match.%s to be a /regex/", ph, fieldNames[ph.field])
			case !src.regex || src.re == nil:
				fail(c.path, "%s needs match.%s to be a /regex/ without placeholders", ph, fieldNames[ph.field])
			case ph.group > src.re.NumSubexp():
				fail(c.path, "%s: match.%s has only %d capture groups", ph, fieldNames[ph.field], src.re.NumSubexp())
			default:
				r.captures = append(r.captures, capture{ph: ph, re: src.re})
			}
		}
	}
}

func compileActions(r *rule, actions []string, fail func(path, format string, args ...any)) {
	for j, a := range actions {
		switch {
		case a == "":
			fail(fmt.Sprintf("actions[%d]", j), "empty action")
		case a == "*" && len(actions) > 1:
			// docker_auth would treat it as a literal action here, so a
			// client asking for "*" (which registries read as every
			// action) would get it from a rule meant to be narrow.
			fail(fmt.Sprintf("actions[%d]", j), `"*" grants every requested action and must be the only one`)
		}
	}
	if len(actions) == 1 && actions[0] == "*" {
		r.all = true
		return
	}
	r.actions = slices.Compact(slices.Sorted(slices.Values(actions)))
}

// parseIPPattern reads an address or a CIDR, as net.ParseIP and
// net.ParseCIDR did for docker_auth, including their view of IPv4-mapped
// IPv6 forms as IPv4.
func parseIPPattern(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q", s)
		}
		p = p.Masked()
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("bad IP address %q (want an address or a CIDR)", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
