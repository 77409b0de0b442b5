package acl

import (
	"slices"
	"sync"
	"testing"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// compileYAML decodes an `acl:` list the way the auth server's config does
// and compiles it.
func compileYAML(t testing.TB, src string) *ACL {
	t.Helper()
	var cfg struct {
		ACL []Entry `yaml:"acl"`
	}
	if _, err := yamlconf.Decode("acl.yml", []byte(src), &cfg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	a, err := Compile(cfg.ACL)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return a
}

// check is one request and the decision it must get.
type check struct {
	name string
	req  Request
	want []string // granted actions; nil means none
	rule int      // deciding rule, -1 for none
}

func runChecks(t *testing.T, a *ACL, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			d := a.Authorize(c.req)
			if d.Actions == nil {
				t.Fatalf("Actions is nil, want a non-nil slice")
			}
			want := c.want
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(d.Actions, want) || d.Rule != c.rule {
				t.Errorf("Authorize(%+v) = %v by rule %d, want %v by rule %d", c.req, d.Actions, d.Rule, want, c.rule)
			}
		})
	}
}

var all = []string{"pull", "push", "delete", "*"}

func repo(account, name string, actions ...string) Request {
	return Request{Account: account, Type: "repository", Name: name, Actions: actions}
}

// The acl of section 7.4 of the user's blog post (seeds/002), blank lines
// with trailing spaces included.
const seedACL = `
acl:
 
  # Admin has full access to everything.
 
  - match: {account: "admin"}
 
    actions: ["*"]
 
  - match: {account: "reader", name: "nginx"}
 
    actions: ["pull"]
`

func TestSeedConfigBehavesAsWritten(t *testing.T) {
	a := compileYAML(t, seedACL)
	runChecks(t, a, []check{
		{"admin gets everything asked", repo("admin", "nginx", all...), []string{"*", "delete", "pull", "push"}, 0},
		{"admin pushes anywhere", repo("admin", "other/nginx", "pull", "push"), []string{"pull", "push"}, 0},
		{"admin gets the catalog", Request{Account: "admin", Type: "registry", Name: "catalog", Actions: []string{"*"}}, []string{"*"}, 0},
		{"reader pulls nginx", repo("reader", "nginx", "pull"), []string{"pull"}, 1},
		{"reader asking for everything on nginx gets pull", repo("reader", "nginx", all...), []string{"pull"}, 1},
		{"reader gets nothing on nginx2", repo("reader", "nginx2", "pull"), nil, -1},
		{"reader gets nothing on other/nginx", repo("reader", "other/nginx", "pull"), nil, -1},
		{"anonymous gets nothing", repo("", "nginx", "pull"), nil, -1},
		{"unknown account gets nothing", repo("admin2", "nginx", "pull"), nil, -1},
	})
}

func TestFirstMatchingRuleDecides(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {account: "test", name: "test-*"}
    actions: ["*"]
    comment: test images
  - match: {account: "test"}
    actions: []
    comment: nothing else for test
  - match: {}
    actions: ["pull"]
    comment: default
`)
	runChecks(t, a, []check{
		{"specific rule first", repo("test", "test-app", "pull", "push"), []string{"pull", "push"}, 0},
		{"deny rule stops the default", repo("test", "app", "pull"), nil, 1},
		{"empty match is the default", repo("other", "app", "pull", "push"), []string{"pull"}, 2},
	})
	if d := a.Authorize(repo("test", "app", "pull")); d.Comment != "nothing else for test" {
		t.Errorf("Comment = %q, want the deciding rule's", d.Comment)
	}
}

func TestPresentConditionsAreANDed(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {account: "ci", type: "repository", name: "builds/*", service: "registry.local"}
    actions: ["push"]
`)
	ok := Request{Account: "ci", Type: "repository", Name: "builds/x", Service: "registry.local", Actions: []string{"push"}}
	wrong := func(f func(*Request)) Request { r := ok; f(&r); return r }
	runChecks(t, a, []check{
		{"all hold", ok, []string{"push"}, 0},
		{"account differs", wrong(func(r *Request) { r.Account = "cd" }), nil, -1},
		{"type differs", wrong(func(r *Request) { r.Type = "registry" }), nil, -1},
		{"name differs", wrong(func(r *Request) { r.Name = "other/x" }), nil, -1},
		{"service differs", wrong(func(r *Request) { r.Service = "other" }), nil, -1},
	})
}

func TestGlobStarStaysInOneSegmentAndDoubleStarCrosses(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {name: "one/*"}
    actions: ["pull"]
  - match: {name: "deep/**"}
    actions: ["push"]
  - match: {name: "mid/**/end"}
    actions: ["delete"]
  - match: {name: "q?/x"}
    actions: ["*"]
`)
	runChecks(t, a, []check{
		{"star matches a segment", repo("u", "one/app", all...), []string{"pull"}, 0},
		{"star does not cross slash", repo("u", "one/a/b", all...), nil, -1},
		{"star needs the slash before it", repo("u", "one", all...), nil, -1},
		{"double star matches one segment", repo("u", "deep/app", all...), []string{"push"}, 1},
		{"double star crosses slashes", repo("u", "deep/a/b/c", all...), []string{"push"}, 1},
		{"double star does not match the parent", repo("u", "deep", all...), nil, -1},
		{"double star inside", repo("u", "mid/a/b/end", all...), []string{"delete"}, 2},
		{"double star inside needs both slashes", repo("u", "mid/end", all...), nil, -1},
		{"question mark is one character", repo("u", "qa/x", "pull"), []string{"pull"}, 3},
		{"question mark is not a slash", repo("u", "q//x", "pull"), nil, -1},
	})
}

func TestRegexIsUnanchoredUnlessAnchored(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {name: "/^lib/(alpine|debian)$/"}
    actions: ["pull"]
  - match: {name: "/cache/"}
    actions: ["push"]
`)
	runChecks(t, a, []check{
		{"anchored matches exactly", repo("u", "lib/alpine", all...), []string{"pull"}, 0},
		{"anchored rejects a longer name", repo("u", "lib/alpine-x", all...), nil, -1},
		{"anchored rejects a prefix", repo("u", "x/lib/debian", all...), nil, -1},
		{"unanchored matches inside", repo("u", "team/cache/app", all...), []string{"push"}, 1},
		{"unanchored matches a suffix", repo("u", "buildcache", all...), []string{"push"}, 1},
	})
}

func TestPlaceholdersUseRequestValues(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {account: "/.+/", name: "${account}/*"}
    actions: ["*"]
    comment: own namespace
  - match: {name: "${labels:team}/*"}
    actions: ["pull", "push"]
    comment: team namespaces
  - match: {account: "/^(.+)@example\\.com$/", name: "${account:1}-mail/*"}
    actions: ["pull"]
    comment: capture group
  - match: {name: "svc/${service}"}
    actions: ["pull"]
  - match: {name: "${type}-catalog"}
    actions: ["*"]
  - match: {name: "/^shared/${account}$/"}
    actions: ["delete"]
`)
	teams := map[string][]string{"team": {"red", "blue"}}
	withLabels := func(r Request, l map[string][]string) Request { r.Labels = l; return r }
	withService := func(r Request, s string) Request { r.Service = s; return r }
	runChecks(t, a, []check{
		{"own namespace", repo("alice", "alice/app", "pull", "push"), []string{"pull", "push"}, 0},
		{"not another user's namespace", repo("alice", "bob/app", "pull"), nil, -1},
		{"anonymous has no namespace", repo("", "/app", "pull"), nil, -1},
		{"first team value", withLabels(repo("carol", "red/app", all...), teams), []string{"pull", "push"}, 1},
		{"second team value", withLabels(repo("carol", "blue/app", all...), teams), []string{"pull", "push"}, 1},
		{"not a team the user lacks", withLabels(repo("carol", "green/app", all...), teams), nil, -1},
		{"no label means no match", repo("carol", "red/app", all...), nil, -1},
		{"no label means the placeholder text matches nothing", repo("carol", "${labels:team}/app", all...), nil, -1},
		{"capture group", repo("dave@example.com", "dave-mail/app", "pull"), []string{"pull"}, 2},
		{"capture group of another user", repo("dave@example.com", "eve-mail/app", "pull"), nil, -1},
		{"unmatched capture is no match", repo("dave@example.org", "dave@example.org-mail/app", "pull"), nil, -1},
		{"unmatched capture text is no match", repo("dave@example.org", "${account:1}-mail/app", "pull"), nil, -1},
		{"service", withService(repo("u", "svc/reg.local", "pull"), "reg.local"), []string{"pull"}, 3},
		{"other service", withService(repo("u", "svc/reg.local", "pull"), "other"), nil, -1},
		{"type placeholder", Request{Type: "registry", Name: "registry-catalog", Actions: []string{"*"}}, []string{"*"}, 4},
		{"type placeholder, other type", Request{Type: "registry", Name: "repository-catalog", Actions: []string{"*"}}, nil, -1},
		{"placeholder in regex", repo("frank", "shared/frank", "delete"), []string{"delete"}, 5},
		{"placeholder in regex stays anchored", repo("frank", "shared/frankie", "delete"), nil, -1},
	})
}

func TestLabelPlaceholdersCombinePerLabel(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {name: "${labels:project}-${labels:tier}/*"}
    actions: ["push"]
  - match: {name: "${labels:project}/${labels:project}"}
    actions: ["pull"]
`)
	labels := map[string][]string{"project": {"web", "api"}, "tier": {"dev", "prod"}}
	req := func(name string, actions ...string) Request {
		r := repo("u", name, actions...)
		r.Labels = labels
		return r
	}
	runChecks(t, a, []check{
		{"web-dev", req("web-dev/x", "push"), []string{"push"}, 0},
		{"api-prod", req("api-prod/x", "push"), []string{"push"}, 0},
		{"unknown tier", req("api-qa/x", "push"), nil, -1},
		{"same value in both places", req("api/api", "pull"), []string{"pull"}, 1},
		{"one label takes one value per try", req("web/api", "pull"), nil, -1},
	})
}

func TestActionsGrantedByRule(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {account: "admin"}
    actions: ["*"]
  - match: {account: "reader"}
    actions: ["pull"]
  - match: {account: "writer"}
    actions: ["push", "pull", "pull"]
  - match: {account: "blocked"}
    actions: []
`)
	runChecks(t, a, []check{
		{"star grants exactly what was asked", repo("admin", "x", "push", "pull"), []string{"pull", "push"}, 0},
		{"star grants a requested star", repo("admin", "x", "*"), []string{"*"}, 0},
		{"star grants nothing when nothing is asked", repo("admin", "x"), nil, 0},
		{"star output is sorted and deduplicated", repo("admin", "x", "push", "pull", "push"), []string{"pull", "push"}, 0},
		{"pull-only user asking for everything gets pull", repo("reader", "x", "pull", "push", "delete", "*"), []string{"pull"}, 1},
		{"pull-only user asking for star gets nothing", repo("reader", "x", "*"), nil, 1},
		{"list is intersected", repo("writer", "x", "delete", "push"), []string{"push"}, 2},
		{"list never adds unrequested actions", repo("writer", "x", "pull"), []string{"pull"}, 2},
		{"empty list denies", repo("blocked", "x", "pull"), nil, 3},
		{"no match denies", repo("nobody", "x", "pull"), nil, -1},
	})
}

func TestNilACLDeniesEverything(t *testing.T) {
	var a *ACL
	runChecks(t, a, []check{{"nil", repo("admin", "x", "pull"), nil, -1}})
	if a.Len() != 0 {
		t.Errorf("Len() = %d, want 0", a.Len())
	}
}

func TestDescribeNamesConditionsActionsAndComment(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {account: "admin"}
    actions: ["*"]
  - match: {account: "reader", name: "nginx"}
    actions: ["pull"]
    comment: read only
  - match: {account: "", type: "repository", ip: "10.0.0.0/8", labels: {team: "a b", group: x}}
    actions: []
  - match: {}
    actions: ["pull", "push"]
`)
	tests := []struct {
		i    int
		want string
	}{
		{0, "#0 {account: admin} -> [*]"},
		{1, "#1 {account: reader, name: nginx} -> [pull] (read only)"},
		{2, `#2 {account: "", type: repository, ip: 10.0.0.0/8, labels: {group: x, team: "a b"}} -> []`},
		{3, "#3 {} -> [pull, push]"},
		{4, "#4 (no such rule)"},
		{-1, "#-1 (no such rule)"},
	}
	if a.Len() != 4 {
		t.Fatalf("Len() = %d, want 4", a.Len())
	}
	for _, tt := range tests {
		if got := a.Describe(tt.i); got != tt.want {
			t.Errorf("Describe(%d) = %q, want %q", tt.i, got, tt.want)
		}
	}
}

func TestAuthorizeIsSafeForConcurrentUse(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {account: "/^(.+)@corp$/", name: "${account:1}/**"}
    actions: ["*"]
  - match: {name: "${labels:team}/*"}
    actions: ["pull"]
`)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				user := string(rune('a' + (g+i)%26))
				r := repo(user+"@corp", user+"/x/y", "push")
				if d := a.Authorize(r); !slices.Equal(d.Actions, []string{"push"}) {
					t.Errorf("own namespace: got %v", d.Actions)
					return
				}
				r = repo(user, "t"+user+"/x", "pull", "push")
				r.Labels = map[string][]string{"team": {"t" + user}}
				if d := a.Authorize(r); !slices.Equal(d.Actions, []string{"pull"}) {
					t.Errorf("team namespace: got %v", d.Actions)
					return
				}
			}
		})
	}
	wg.Wait()
}
