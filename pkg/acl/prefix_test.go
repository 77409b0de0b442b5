package acl

import (
	"slices"
	"testing"
)

// MayPullBelow must never say false where some name below the prefix is
// granted: checked against every name over a small alphabet.
func TestMayPullBelowNeverHidesAGrantedName(t *testing.T) {
	words := func(alphabet string, maxLen int) []string {
		out := []string{""}
		for last := []string{""}; maxLen > 0; maxLen-- {
			var grown []string
			for _, w := range last {
				for _, c := range alphabet {
					grown = append(grown, w+string(c))
				}
			}
			out, last = append(out, grown...), grown
		}
		return out
	}
	names := words("ab/", 6)
	prefixes := words("ab/", 4)
	acls := []string{
		`[{match: {name: "a/*"}, actions: [pull]}]`,
		`[{match: {name: "a/**"}, actions: [pull]}]`,
		`[{match: {name: "*/b"}, actions: [pull]}]`,
		`[{match: {name: "a?b"}, actions: [pull]}]`,
		`[{match: {name: "[ab]/a"}, actions: [pull]}]`,
		`[{match: {name: "/^ab/"}, actions: [pull]}]`,
		`[{match: {name: "/^(a|b/a)$/"}, actions: [pull]}]`,
		`[{match: {name: "/b\\/a$/"}, actions: [pull]}]`,
		`[{match: {name: "/^a\\b/"}, actions: [pull]}]`,
		`[{match: {name: "a/*"}, actions: []}, {match: {name: "a/**"}, actions: [pull]}]`,
		`[{match: {name: "a"}, actions: []}, {match: {}, actions: [pull]}]`,
		`[{match: {}, actions: []}, {match: {name: "a"}, actions: [pull]}]`,
		`[{match: {account: "x"}, actions: []}, {match: {name: "b/a"}, actions: [push]}, {match: {name: "b/${account}"}, actions: [pull]}]`,
	}
	for _, src := range acls {
		a := compileYAML(t, "acl: "+src)
		pruned := 0
		for _, prefix := range prefixes {
			granted := slices.ContainsFunc(names, func(n string) bool {
				return len(n) >= len(prefix) && n[:len(prefix)] == prefix &&
					len(a.Authorize(Request{Account: "a", Type: "repository", Name: n, Actions: []string{"pull"}}).Actions) > 0
			})
			may := a.MayPullBelow(prefix)
			if granted && !may {
				t.Errorf("%s: MayPullBelow(%q) = false, but a name below is granted", src, prefix)
			}
			if !may {
				pruned++
			}
		}
		t.Logf("%s: %d of %d prefixes pruned", src, pruned, len(prefixes))
	}
}

func TestMayPullBelowPrunesWhatCannotMatch(t *testing.T) {
	a := compileYAML(t, `acl: [{match: {name: "team-07/*"}, actions: [pull]}, {match: {name: "nginx"}, actions: [pull]}, {match: {name: "/^lib-[0-9]+/"}, actions: [pull]}]`)
	for prefix, want := range map[string]bool{
		"": true, "team-07/": true, "team-0": true, "team-08/": false, "team-07/x/": false,
		"nginx/": false, "nginx": true, "lib-1/": true, "lib-x/": false, "zzz/": false,
	} {
		if got := a.MayPullBelow(prefix); got != want {
			t.Errorf("MayPullBelow(%q) = %v, want %v", prefix, got, want)
		}
	}
	if (*ACL)(nil).MayPullBelow("") {
		t.Error("a nil ACL grants nothing")
	}
}
