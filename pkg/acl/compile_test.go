package acl

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// compileErrorsOf decodes and compiles src, which must fail to compile, and
// returns the problems.
func compileErrorsOf(t *testing.T, src string) CompileErrors {
	t.Helper()
	var cfg struct {
		ACL []Entry `yaml:"acl"`
	}
	if _, err := yamlconf.Decode("acl.yml", []byte(src), &cfg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	a, err := Compile(cfg.ACL)
	if err == nil {
		t.Fatalf("Compile succeeded with %d rules, want errors", a.Len())
	}
	var ce CompileErrors
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not CompileErrors: %v", err, err)
	}
	return ce
}

func TestCompileRejectsBadEntries(t *testing.T) {
	tests := []struct {
		name  string
		entry string   // one list item, placed at index 1 after a valid rule
		paths []string // every expected FieldError.Path
		msg   string   // substring of the first message
	}{
		{"missing match", `{actions: ["pull"]}`, []string{"[1].match"}, "missing match"},
		{"null match", `{match: null, actions: ["pull"]}`, []string{"[1].match"}, "missing match"},
		{"missing actions", `{match: {account: "a"}}`, []string{"[1].actions"}, "missing actions"},
		{"missing both", `{comment: "x"}`, []string{"[1].match", "[1].actions"}, "missing match"},
		{"bad regex", `{match: {name: "/(/"}, actions: []}`, []string{"[1].match.name"}, "bad regexp"},
		{"bad regex in account", `{match: {account: "/foo?*/"}, actions: []}`, []string{"[1].match.account"}, "bad regexp"},
		{"bad regex in type", `{match: {type: "/[z-a]/"}, actions: []}`, []string{"[1].match.type"}, "bad regexp"},
		{"bad regex in service", `{match: {service: "/a**/"}, actions: []}`, []string{"[1].match.service"}, "bad regexp"},
		{"bad regex in label", `{match: {labels: {team: "/(/"}}, actions: []}`, []string{"[1].match.labels.team"}, "bad regexp"},
		{"CIDR prefix too long", `{match: {ip: "192.168.0.1/100"}, actions: []}`, []string{"[1].match.ip"}, "bad CIDR"},
		{"v6 CIDR prefix too long", `{match: {ip: "2001:db8::/222"}, actions: []}`, []string{"[1].match.ip"}, "bad CIDR"},
		{"wildcard address", `{match: {ip: "192.168.0.*"}, actions: []}`, []string{"[1].match.ip"}, "bad IP"},
		{"not an address", `{match: {ip: "foo"}, actions: []}`, []string{"[1].match.ip"}, "bad IP"},
		{"address with zone", `{match: {ip: "fe80::1%eth0"}, actions: []}`, []string{"[1].match.ip"}, "bad IP"},
		{"empty address", `{match: {ip: ""}, actions: []}`, []string{"[1].match.ip"}, "bad IP"},
		{"unterminated class", `{match: {name: "app["}, actions: []}`, []string{"[1].match.name"}, "syntax error in pattern"},
		{"empty class", `{match: {name: "[]a]"}, actions: []}`, []string{"[1].match.name"}, "syntax error in pattern"},
		{"open range", `{match: {name: "[a-]"}, actions: []}`, []string{"[1].match.name"}, "syntax error in pattern"},
		{"trailing backslash", `{match: {name: "app\\"}, actions: []}`, []string{"[1].match.name"}, "trailing backslash"},
		{"unknown placeholder", `{match: {name: "${acount}/*"}, actions: []}`, []string{"[1].match.name"}, "unknown placeholder"},
		{"unknown placeholder in regex", `{match: {name: "/^${user}$/"}, actions: []}`, []string{"[1].match.name"}, "unknown placeholder"},
		{"unknown capture field", `{match: {name: "${ip:1}"}, actions: []}`, []string{"[1].match.name"}, "unknown placeholder"},
		{"unterminated placeholder", `{match: {name: "${account"}, actions: []}`, []string{"[1].match.name"}, "unterminated placeholder"},
		{"label placeholder without label", `{match: {name: "${labels:}"}, actions: []}`, []string{"[1].match.name"}, "names no label"},
		{"capture group zero", `{match: {account: "/(a)/", name: "${account:0}"}, actions: []}`, []string{"[1].match.name"}, "count from 1"},
		{"placeholder in glob class", `{match: {name: "[${account}]"}, actions: []}`, []string{"[1].match.name"}, "character class"},
		{"placeholder in regex class", `{match: {name: "/[${account}]/"}, actions: []}`, []string{"[1].match.name"}, "character class"},
		{"capture of absent field", `{match: {name: "${account:1}/*"}, actions: []}`, []string{"[1].match.name"}, "needs match.account"},
		{"capture of a glob", `{match: {account: "a*", name: "${account:1}/*"}, actions: []}`, []string{"[1].match.name"}, "needs match.account to be a /regex/"},
		{"capture of a regex with placeholders", `{match: {account: "/^${name}(.*)$/", name: "${account:1}"}, actions: []}`, []string{"[1].match.name"}, "without placeholders"},
		{"capture group out of range", `{match: {account: "/^(.+)@(.+)$/", name: "${account:3}/*"}, actions: []}`, []string{"[1].match.name"}, "only 2 capture groups"},
		{"capture of a bad regex is reported once", `{match: {account: "/((/", name: "${account:1}"}, actions: []}`, []string{"[1].match.account"}, "bad regexp"},
		{"capture in a label pattern", `{match: {labels: {team: "${name:1}"}}, actions: []}`, []string{"[1].match.labels.team"}, "needs match.name"},
		{"star among other actions", `{match: {}, actions: ["pull", "*"]}`, []string{"[1].actions[1]"}, "must be the only one"},
		{"empty action", `{match: {}, actions: ["pull", ""]}`, []string{"[1].actions[1]"}, "empty action"},
		{"several problems in one entry", `{match: {account: "/(/", ip: "x", name: "${nope}"}, actions: ["*", "*"]}`,
			[]string{"[1].match.account", "[1].match.name", "[1].match.ip", "[1].actions[0]", "[1].actions[1]"}, "bad regexp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := compileErrorsOf(t, "acl:\n  - {match: {account: admin}, actions: ['*']}\n  - "+tt.entry+"\n")
			var paths []string
			for _, e := range errs {
				paths = append(paths, e.Path)
				if e.Index != 1 {
					t.Errorf("%s: Index = %d, want 1", e.Path, e.Index)
				}
			}
			if !slices.Equal(paths, tt.paths) {
				t.Errorf("paths = %q, want %q\n%v", paths, tt.paths, errs)
			}
			if !strings.Contains(errs[0].Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", errs[0].Msg, tt.msg)
			}
			if want := errs[0].Path + ": " + errs[0].Msg; !strings.HasPrefix(errs.Error(), want) {
				t.Errorf("Error() = %q, want it to start with %q", errs.Error(), want)
			}
		})
	}
}

func TestCompileReportsEveryBadEntry(t *testing.T) {
	errs := compileErrorsOf(t, `
acl:
  - match: {account: "ok"}
    actions: ["pull"]
  - match: {ip: "10.0.0.0/33"}
    actions: ["pull"]
  - match: {name: "fine/*"}
    actions: ["pull"]
  - match: {name: "/[/"}
`)
	type loc struct {
		index int
		path  string
	}
	var got []loc
	for _, e := range errs {
		got = append(got, loc{e.Index, e.Path})
	}
	want := []loc{{1, "[1].match.ip"}, {3, "[3].match.name"}, {3, "[3].actions"}}
	if !slices.Equal(got, want) {
		t.Errorf("errors at %v, want %v\n%v", got, want, errs)
	}
}

func TestCompileRejectsInvalidUTF8Patterns(t *testing.T) {
	bad := "app\xff"
	_, err := Compile([]Entry{{Match: &Match{Name: &bad}, Actions: &[]string{}}})
	var ce CompileErrors
	if !errors.As(err, &ce) || len(ce) != 1 || ce[0].Path != "[0].match.name" {
		t.Fatalf("Compile = %v, want one error at [0].match.name", err)
	}
}

// docker_auth's own validation cases and its reference ACL must compile.
func TestCompileAcceptsDockerAuthConfigs(t *testing.T) {
	a := compileYAML(t, `
acl:
  - match: {account: "foo"}
    actions: []
  - match: {account: "foo?*", type: "foo?*", name: "foo?*"}
    actions: []
  - match: {account: "/foo.*/", type: "/foo.*/", name: "/foo.*/"}
    actions: []
  - match: {ip: "192.168.0.1"}
    actions: []
  - match: {ip: "192.168.0.0/16"}
    actions: []
  - match: {ip: "2001:db8::1"}
    actions: []
  - match: {ip: "2001:db8::/48"}
    actions: []
  - match: {ip: "127.0.0.0/8"}
    actions: ["*"]
    comment: "Allow everything from localhost (IPv4)"
  - match: {ip: "::1"}
    actions: ["*"]
    comment: "Allow everything from localhost (IPv6)"
  - match: {ip: "172.17.0.1"}
    actions: ["*"]
    comment: "Allow everything from the local Docker bridge address"
  - match: {account: "admin"}
    actions: ["*"]
    comment: "Admin has full access to everything."
  - match: {account: "test", name: "test-*"}
    actions: ["*"]
    comment: "User \"test\" has full access to test-* images but nothing else. (1)"
  - match: {account: "test"}
    actions: []
    comment: "User \"test\" has full access to test-* images but nothing else. (2)"
  - match: {account: "/.+/", name: "${account}/*"}
    actions: ["*"]
    comment: "Logged in users have full access to images that are in their 'namespace'"
  - match: {account: "/.+/", type: "registry", name: "catalog"}
    actions: ["*"]
    comment: "Logged in users can query the catalog."
  - match: {account: "/.+/"}
    actions: ["pull"]
    comment: "Logged in users can pull all images."
  - match: {account: "", name: "hello-world"}
    actions: ["pull"]
    comment: "Anonymous users can pull \"hello-world\"."
  - match: {account: "/^(.+)@test.com$/", name: "${account:1}/*"}
    actions: []
    comment: "Emit domain part of account to make it a correct repo name"
  - match: {labels: {"group": "VIP"}}
    actions: ["push"]
    comment: "Users assigned to group 'VIP' is able to push"
  - match: {labels: {"group": "/trainee|dev/"}}
    actions: ["push", "pull"]
    comment: "Users assigned to group 'trainee' and 'dev' is able to push and pull"
  - match: {name: "${labels:group}-shared/*"}
    actions: ["push", "pull"]
    comment: "Users can push to the shared namespace of any group they are in"
  - match: {name: "${labels:project}/*"}
    actions: ["push", "pull"]
    comment: "Users can push to any project they are assigned to"
  - match: {name: "${labels:project}-{labels:tier}/*"}
    actions: ["push", "pull"]
    comment: "Users can push to a project-tier/* that they are assigned to"
`)
	if a.Len() != 23 {
		t.Fatalf("Len() = %d, want 23", a.Len())
	}
	runChecks(t, a, []check{
		{"anonymous pulls hello-world", repo("", "hello-world", "pull", "push"), []string{"pull"}, 16},
		{"anonymous gets nothing else", repo("", "busybox", "pull"), nil, -1},
		{"logged-in user in own namespace", repo("kim", "kim/app", "push"), []string{"push"}, 13},
		{"logged-in user pulls anything", repo("kim", "lee/app", "pull", "push"), []string{"pull"}, 15},
		{"test user outside test-*", repo("test", "app", "pull"), nil, 12},
	})
}
