package yamlconf

import (
	"errors"
	"strings"
	"testing"
)

type match struct {
	Account string            `yaml:"account"`
	Labels  map[string]string `yaml:"labels"`
}

type entry struct {
	Match   *match   `yaml:"match"`
	Actions []string `yaml:"actions"`
}

type server struct {
	Addr string `yaml:"addr"`
}

type config struct {
	Server server           `yaml:"server"`
	ACL    []entry          `yaml:"acl"`
	Users  map[string]entry `yaml:"users"`
	Port   int              `yaml:"port"`
}

func TestStrictDecodeReportsEveryProblemWithLineAndField(t *testing.T) {
	src := `server:
  addr: ":5001"
  adr: ":5002"
acl:
  - match: {acount: "admin"}
    actions: ["*"]
  - match: {account: reader}
    action: [pull]
port: notanumber
`
	var c config
	doc, err := Decode("auth.yml", []byte(src), &c)
	// What did decode is kept, so callers validate it in the same pass.
	if doc == nil || c.Server.Addr != ":5001" || len(c.ACL) != 2 || c.ACL[1].Match.Account != "reader" {
		t.Fatalf("decoded doc=%v config=%+v; want the parts that decoded", doc, c)
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := []string{
		`auth.yml:3: server.adr: unknown field (did you mean "addr"?)`,
		`auth.yml:5: acl[0].match.acount: unknown field (did you mean "account"?)`,
		`auth.yml:8: acl[1].action: unknown field (did you mean "actions"?)`,
		"auth.yml:9: cannot unmarshal !!str `notanumber` into int",
	}
	got := strings.Split(ps.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", ps.Error(), strings.Join(want, "\n"))
	}
}

func TestDuplicateKeysAreReported(t *testing.T) {
	var c config
	_, err := Decode("c.yml", []byte("server:\n  addr: a\n  addr: b\n"), &c)
	if err == nil || !strings.Contains(err.Error(), "c.yml:3: server.addr: given more than once") {
		t.Fatalf("got %v", err)
	}
}

func TestLineLocatesFieldsForLaterValidation(t *testing.T) {
	src := "server:\n  addr: x\nacl:\n  - match:\n      account: a\n    actions: []\n"
	var c config
	doc, err := Decode("c.yml", []byte(src), &c)
	if err != nil {
		t.Fatal(err)
	}
	for path, line := range map[string]int{
		"server.addr":          2,
		"acl[0].match.account": 5,
		"acl[0].actions":       6,
		"acl[0].comment":       4, // absent: nearest parent, the item
		"users.bob":            1, // absent at the top level: the document
	} {
		if got := doc.Line(path); got != line {
			t.Errorf("Line(%q) = %d, want %d", path, got, line)
		}
	}
	p := doc.Problemf("acl[0].actions", "grants nothing")
	if p.Error() != "c.yml:6: acl[0].actions: grants nothing" {
		t.Errorf("Problemf = %q", p.Error())
	}
}

func TestSyntaxErrorNamesLine(t *testing.T) {
	var c config
	_, err := Decode("c.yml", []byte("server:\n  addr: [\n"), &c)
	if err == nil || !strings.HasPrefix(err.Error(), "c.yml:") {
		t.Fatalf("got %v", err)
	}
}

func TestEmptyFileDecodesToDefaults(t *testing.T) {
	c := config{Port: 7}
	if _, err := Decode("c.yml", nil, &c); err != nil || c.Port != 7 {
		t.Fatalf("err=%v port=%d", err, c.Port)
	}
}
