package acl

import (
	"encoding/json"
	"net/netip"
	"slices"
	"testing"
)

// narrowACL is a rule list exercising everything NarrowPull decides ahead
// of the name: ip and service conditions, labels, placeholders (field,
// label and capture), regexes, deny rules shadowing later grants, rules
// for other types, and a catch-all at the end.
const narrowACL = `
acl:
  - match: {account: "admin"}
    actions: ["*"]
  - match: {ip: "10.0.0.0/8", name: "internal/**"}
    actions: ["pull"]
  - match: {name: "internal/**"}
    actions: []
  - match: {service: "other", name: "svc/*"}
    actions: ["pull"]
  - match: {account: "/^(.+)@corp$/", name: "${account:1}/*"}
    actions: ["pull", "push"]
  - match: {name: "${account}/**"}
    actions: ["*"]
  - match: {labels: {team: "/.+/"}, name: "team/${labels:team}/*"}
    actions: ["pull"]
  - match: {type: "registry"}
    actions: ["*"]
  - match: {account: "reader", name: "nginx"}
    actions: ["pull"]
  - match: {account: "reader", name: "/^lib-[0-9]+$/"}
    actions: ["push"]
  - match: {account: "reader", name: "/^lib-/"}
    actions: ["pull"]
  - match: {name: "public/*"}
    actions: ["pull"]
  - match: {}
    actions: []
  - match: {name: "never/*"}
    actions: ["pull"]
`

// The narrowed list must grant pull on exactly the names the full ACL
// grants pull on, for every account, address and service.
func TestNarrowPullDecidesNamesAsTheFullACL(t *testing.T) {
	a := compileYAML(t, narrowACL)
	requests := []Request{
		{Account: "admin"},
		{Account: "reader"},
		{Account: "reader", IP: netip.MustParseAddr("10.1.2.3")},
		{Account: "reader", Service: "other"},
		{Account: "bob@corp"},
		{Account: "a.b*"},
		{Account: "carol", Labels: map[string][]string{"team": {"red", "blue"}}},
		{Account: ""},
	}
	names := []string{
		"nginx", "centos", "internal/db", "internal/a/b", "svc/x", "bob/app", "bob/app/deep",
		"carol/x", "carol", "a.b*/x", "aab*/x", "a.b/x", "team/red/app", "team/blue/app", "team/green/app",
		"lib-1", "lib-x", "public/img", "public/a/b", "never/x", "reader/own",
	}
	for _, req := range requests {
		narrowed := a.NarrowPull(req)
		small, err := Compile(narrowed)
		if err != nil {
			t.Fatalf("%+v: narrowed list does not compile: %v\n%s", req, err, dump(narrowed))
		}
		for _, name := range names {
			full := req
			full.Type, full.Name, full.Actions = "repository", name, []string{"pull"}
			want := slices.Contains(a.Authorize(full).Actions, "pull")
			got := slices.Contains(small.Authorize(Request{Type: "repository", Name: name, Actions: []string{"pull"}}).Actions, "pull")
			if got != want {
				t.Errorf("account %q ip %v service %q, name %q: narrowed grants pull %v, full ACL %v\n%s",
					req.Account, req.IP, req.Service, name, got, want, dump(narrowed))
			}
		}
	}
}

func TestNarrowPullKeepsOnlyWhatDecidesThisAccount(t *testing.T) {
	a := compileYAML(t, seedACL)
	tests := []struct {
		account string
		want    string
	}{
		{"admin", `[{"Match":{"Name":null},"Actions":["pull"]}]`},
		{"reader", `[{"Match":{"Name":"nginx"},"Actions":["pull"]}]`},
		{"", `[]`},
	}
	for _, tt := range tests {
		if got := dump(a.NarrowPull(Request{Account: tt.account})); got != tt.want {
			t.Errorf("account %q: %s, want %s", tt.account, got, tt.want)
		}
	}

	// A deny that shadows a later grant stays; trailing denies go.
	a = compileYAML(t, `
acl:
  - match: {account: "u", name: "secret/*"}
    actions: []
  - match: {account: "u", name: "*/*"}
    actions: ["pull"]
  - match: {account: "u", name: "x"}
    actions: []
`)
	want := `[{"Match":{"Name":"secret/*"},"Actions":[]},{"Match":{"Name":"*/*"},"Actions":["pull"]}]`
	if got := dump(a.NarrowPull(Request{Account: "u"})); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestNarrowPullQuotesPlaceholderValues(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {name: "${account}/*"}
    actions: ["pull"]
`)
	narrowed := a.NarrowPull(Request{Account: "a.b*"})
	small, err := Compile(narrowed)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a.b*/x": true, "aab*/x": false, "a.bc/x": false, "a.b*/x/y": false} {
		if got := len(small.Authorize(Request{Name: name, Actions: []string{"pull"}}).Actions) > 0; got != want {
			t.Errorf("%q: %v, want %v (%s)", name, got, want, dump(narrowed))
		}
	}
}

// A condition that needs the name to be decided turns its rule into a deny:
// fewer names listed, never more.
func TestNarrowPullDeniesWhatItCannotDecide(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {account: "${name}"}
    actions: ["pull"]
  - match: {name: "app"}
    actions: ["pull"]
`)
	narrowed := a.NarrowPull(Request{Account: "app"})
	if got, want := dump(narrowed), `[]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestDeniesResource(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {type: "registry", name: "catalog"}
    actions: []
  - match: {account: "x"}
    actions: []
  - match: {}
    actions: []
  - match: {name: "catalog"}
    actions: ["pull"]
`)
	for i, want := range []bool{true, false, false, false} {
		if got := a.DeniesResource(i); got != want {
			t.Errorf("rule %d: %v, want %v", i, got, want)
		}
	}
	if a.DeniesResource(-1) || a.DeniesResource(9) {
		t.Error("no rule must not deny")
	}
}

func dump(entries []Entry) string {
	type m struct{ Name *string }
	type e struct {
		Match   m
		Actions []string
	}
	out := make([]e, len(entries))
	for i, en := range entries {
		out[i] = e{Match: m{Name: en.Match.Name}, Actions: *en.Actions}
		if en.Match.Account != nil || en.Match.Type != nil || en.Match.Service != nil || en.Match.IP != nil || en.Match.Labels != nil {
			return "entry with more than a name condition"
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}
