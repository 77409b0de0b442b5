package token

import (
	"regexp"
	"strings"
	"testing"
)

// The grammar as regular expressions, as distribution writes it: the
// reference the hand-written matchers must agree with.
var (
	typeRe   = regexp.MustCompile(`^[a-z0-9]+$`)
	actionRe = regexp.MustCompile(`^(?:[a-z]+|\*)$`)
	nameRe   = regexp.MustCompile(`^(?:` + domainExpr + `/)?` + pathExpr + `$`)
)

const (
	domainComponentExpr = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domainExpr          = `(?:` + domainComponentExpr + `(?:\.` + domainComponentExpr + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
	pathComponentExpr   = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	pathExpr            = pathComponentExpr + `(?:/` + pathComponentExpr + `)*`
)

// grammarCases are names, types and actions on both sides of every rule.
var grammarCases = []string{
	"", "a", "A", "0", "*", "**", "pull", "pull,push", "Pull", "pu ll", "app", "library/alpine",
	"a/b/c", "a//b", "/a", "a/", "a.b", "a..b", "a._b", "a_b", "a__b", "a___b", "a-b", "a--b", "a-_b",
	"-a", "a-", ".a", "a.", "_a", "a_", "Upper/app", "localhost/app", "localhost:5000/app",
	"localhost:/app", "localhost:5x/app", "localhost:5000", "local-host/a", "-local/a", "local-/a",
	"my.registry.example:443/team/app", "my..registry/app", "my.registry./app", ".registry/app",
	"[::1]/app", "[::1]:5000/app", "[::1]:/app", "[]/app", "[::g]/app", "[::1/app", "::1]/app",
	"[fe80::1%eth0]/app", "[::1]x/app", "10.0.0.1:5000/a-b/c_d/e.f", "A.B/c", "a/B", "ä/app",
	"app\n", "\napp", "a/b:c", "host:1:2/app", "Host_Name/app", "xn--bcher-kva.example/app",
	strings.Repeat("a/", 100) + "a", strings.Repeat("-", 50), "a" + strings.Repeat("-", 50) + "b",
}

func agree(t *testing.T, s string) {
	t.Helper()
	if got, want := validName(s), nameRe.MatchString(s); got != want {
		t.Errorf("validName(%q) = %v, the grammar says %v", s, got, want)
	}
	if got, want := validType(s), typeRe.MatchString(s); got != want {
		t.Errorf("validType(%q) = %v, the grammar says %v", s, got, want)
	}
	if got, want := validAction(s), actionRe.MatchString(s); got != want {
		t.Errorf("validAction(%q) = %v, the grammar says %v", s, got, want)
	}
}

func TestScopeGrammarAsDistributionsRegexps(t *testing.T) {
	for _, s := range grammarCases {
		agree(t, s)
	}
}

// FuzzScopeGrammarMatchesRegexps compares the hand-written matchers with
// the grammar's regular expressions on any string.
func FuzzScopeGrammarMatchesRegexps(f *testing.F) {
	for _, s := range grammarCases {
		f.Add(s)
	}
	f.Fuzz(agree)
}
