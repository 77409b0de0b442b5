package acl

import (
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile values for accounts and labels: glob and regexp syntax, path
// tricks, and placeholder text.
var hostile = []string{
	"*", "**", "?", "[a-z]*", "[", ".*", ".+", "a|b", "(a|b)", "^", "$", "\\", "\\*",
	"../x", "..", "/", "x/*", "${name}", "${account}", "/.*/", "bob/*",
}

// victims are other users' namespaces none of the hostile accounts may reach.
var victims = []string{"bob/app", "a/app", "b/app", "x/app", "z/app", "app", "/app", "x/y/app", "ab/app"}

func TestInjectedValuesReachOnlyTheirOwnNamespace(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {account: "/.+/", name: "${account}/*"}
    actions: ["push"]
  - match: {name: "/^${account}-re/.*$/"}
    actions: ["pull"]
  - match: {name: "${labels:team}/*"}
    actions: ["delete"]
  - match: {name: "pre*${account}*post"}
    actions: ["*"]
`)
	for _, v := range hostile {
		t.Run(v, func(t *testing.T) {
			account := Request{Account: v, Type: "repository", Actions: []string{"push", "pull", "delete"}}
			label := Request{Account: "carol", Labels: map[string][]string{"team": {v}}, Type: "repository", Actions: []string{"delete"}}

			// Each user still reaches their own, literal namespace.
			own := []struct {
				req  Request
				name string
				want string
			}{
				{account, v + "/app", "push"},
				{account, v + "-re/app", "pull"},
				{label, v + "/app", "delete"},
			}
			for _, o := range own {
				o.req.Name = o.name
				if d := a.Authorize(o.req); len(d.Actions) != 1 || d.Actions[0] != o.want {
					t.Errorf("own name %q: got %v, want [%s]", o.name, d.Actions, o.want)
				}
			}
			// And nothing else.
			for _, name := range victims {
				for _, req := range []Request{account, label} {
					req.Name = name
					if d := a.Authorize(req); len(d.Actions) > 0 && !ownedBy(name, v) {
						t.Errorf("account %q labels %v reached %q: %v by rule %d", req.Account, req.Labels, name, d.Actions, d.Rule)
					}
					req.Name = strings.Replace(name, "app", "app-re/x", 1)
					if d := a.Authorize(req); len(d.Actions) > 0 && !ownedBy(req.Name, v) {
						t.Errorf("account %q reached %q: %v by rule %d", req.Account, req.Name, d.Actions, d.Rule)
					}
				}
			}
		})
	}
}

// ownedBy reports whether name is literally in the namespace of v.
func ownedBy(name, v string) bool {
	return strings.HasPrefix(name, v+"/") || strings.HasPrefix(name, v+"-re/")
}

// An empty value between two stars must not fuse them into `**`.
func TestEmptyValueDoesNotJoinStars(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {name: "pre*${account}*post"}
    actions: ["pull"]
`)
	runChecks(t, a, []check{
		{"anonymous within one segment", repo("", "pre-x-post", "pull"), []string{"pull"}, 0},
		{"anonymous across segments", repo("", "pre/x/post", "pull"), nil, -1},
		{"named within one segment", repo("u", "pre-u-post", "pull"), []string{"pull"}, 0},
	})
}

// A value that looks like a /regex/ does not turn a glob into one.
func TestValueDoesNotChangePatternKind(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {name: "${account}"}
    actions: ["pull"]
`)
	runChecks(t, a, []check{
		{"regex-looking account matches itself", repo("/.*/", "/.*/", "pull"), []string{"pull"}, 0},
		{"regex-looking account matches nothing else", repo("/.*/", "anything", "pull"), nil, -1},
		{"regex-looking account matches no substring", repo("/a/", "xay", "pull"), nil, -1},
	})
}

// FuzzMatchPattern checks that no pattern, name or account panics, that
// globs without our additions agree with path.Match, and that a
// substituted account matches only itself.
func FuzzMatchPattern(f *testing.F) {
	for _, v := range hostile {
		f.Add("${account}/*", v+"/app", v)
		f.Add("/^${account}$/", "bob", v)
		f.Add(v, "bob/app", "bob")
	}
	f.Add("a/**/b", "a/x/y/b", "")
	f.Add("[^a-c]?*", "d/e", "x")
	f.Add("${labels:x}-${account:1}", "a-b", "a")
	f.Add("[\\]]*", "]x", "")
	f.Fuzz(func(t *testing.T, pattern, value, account string) {
		req := Request{Account: account, Name: value, Type: "repository", Actions: []string{"pull"},
			Labels: map[string][]string{"x": {account}}}

		// Any pattern: compiles or not, never panics.
		if a, err := Compile([]Entry{{Match: &Match{Name: &pattern}, Actions: &[]string{"pull"}}}); err == nil {
			a.Authorize(req)
			if isPlainGlob(pattern) {
				want, _ := path.Match(pattern, value)
				if got := len(a.Authorize(req).Actions) == 1; got != want {
					t.Errorf("glob %q on %q: granted %v, path.Match says %v", pattern, value, got, want)
				}
			}
		} else if isPlainGlob(pattern) {
			if _, perr := path.Match(pattern, value); perr == nil {
				t.Errorf("glob %q: compile error %v, path.Match accepts it", pattern, err)
			}
		}

		// Escaped values match only themselves.
		exact := []struct {
			pattern string
			ok      func() bool
		}{
			{"${account}", func() bool { return value == account }},
			{"/^${account}$/", func() bool { return value == account }},
			{"${labels:x}", func() bool { return value == account }},
			{"${account}/*", func() bool {
				rest, ok := strings.CutPrefix(value, account+"/")
				return ok && !strings.Contains(rest, "/")
			}},
			{"${account}/**", func() bool { return strings.HasPrefix(value, account+"/") }},
		}
		for _, e := range exact {
			a, err := Compile([]Entry{{Match: &Match{Name: &e.pattern}, Actions: &[]string{"pull"}}})
			if err != nil {
				t.Fatalf("%q: %v", e.pattern, err)
			}
			granted := len(a.Authorize(req).Actions) > 0
			if granted && !e.ok() {
				t.Errorf("pattern %q with account %q granted name %q", e.pattern, account, value)
			}
			// Invalid UTF-8 cannot be quoted into a regexp, so such values
			// fail closed; valid ones must still match themselves.
			if !granted && e.ok() && utf8.ValidString(account) && utf8.ValidString(value) {
				t.Errorf("pattern %q with account %q denied name %q", e.pattern, account, value)
			}
		}
	})
}
