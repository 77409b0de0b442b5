package acl

import (
	"errors"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// isPlainGlob reports whether s is a pattern path.Match alone decides: a
// glob (not /regex/) without `**` or placeholders. Patterns that are not
// UTF-8 are excluded too: YAML cannot hold them and Compile rejects them.
func isPlainGlob(s string) bool {
	return utf8.ValidString(s) && !isRegex(s) && !strings.Contains(s, "${") && !strings.Contains(s, "**")
}

// matchName compiles pattern as a name condition and reports whether name
// is granted by it.
func matchName(t *testing.T, pattern, name string) (bool, error) {
	t.Helper()
	a, err := Compile([]Entry{{Match: &Match{Name: &pattern}, Actions: &[]string{"pull"}}})
	if err != nil {
		return false, err
	}
	return len(a.Authorize(Request{Name: name, Actions: []string{"pull"}}).Actions) == 1, nil
}

func TestGlobsMeanWhatPathMatchMeans(t *testing.T) {
	patterns := []string{
		"", "abc", "*", "*c", "a*", "a*/b", "a*b*c*d*e*/f", "ab[c]", "ab[b-d]", "ab[^c]", "ab[^b-d]",
		"a?b", "a[^a]b", "a[/]b", "a[^x]b", "a[z-a]b", "a[^z-a]b", "[\\]a]", "[\\-]", "[x\\-]",
		"\\*", "a\\*b", "a\\", "[", "[^", "[^bc", "a[", "[a-", "[]a]", "[-]", "[x-]", "[-x]",
		"\\", "[a-b-c]", "*x", "[\\^]", "[^\\]]", "a/b", "日本*", "[日-本]", "?/?", "*/*",
		"$", "{a}", "a.b", "a+", "(x)", "a|b", "^a$", "[*]", "[*]*", "*[*]",
	}
	names := []string{
		"", "abc", "a/b", "ab/c", "a", "abd", "abe", "ab", "a/c", "axb", "a/b/c", "xxx/f",
		"abxbbxdbxebxczzx/f", "abxbbxdbxebxczzy/f", "]", "-", "*", "a*b", "x", "日本語", "本", "a.b",
		"a+", "(x)", "a|b", "^a$", "$", "{a}", "x/y", "*x",
	}
	for _, p := range patterns {
		for _, n := range names {
			want, werr := path.Match(p, n)
			got, gerr := matchName(t, p, n)
			if (werr != nil) != (gerr != nil) {
				t.Errorf("%q: compile error %v, path.Match error %v", p, gerr, werr)
				continue
			}
			if werr != nil {
				if !strings.Contains(gerr.Error(), path.ErrBadPattern.Error()) {
					t.Errorf("%q: error %v does not mention %v", p, gerr, path.ErrBadPattern)
				}
				continue
			}
			if got != want {
				t.Errorf("%q on %q: got %v, path.Match says %v", p, n, got, want)
			}
		}
	}
}

func TestBadGlobWrapsErrBadPattern(t *testing.T) {
	for _, p := range []string{"[", "a\\", "[a-"} {
		_, err := translateGlob(p)
		if !errors.Is(err, path.ErrBadPattern) {
			t.Errorf("translateGlob(%q) = %v, want path.ErrBadPattern", p, err)
		}
	}
}

func TestDoubleStar(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"**", "", true},
		{"**", "a/b/c", true},
		{"a/**", "a/b", true},
		{"a/**", "a/b/c", true},
		{"a/**", "a/", true},
		{"a/**", "a", false},
		{"a/**", "b/a/c", false},
		{"**/app", "x/y/app", true},
		{"**/app", "app", false},
		{"a**z", "a/b/z", true},
		{"a***z", "a/b/z", true},
		{"a\\**z", "a*/z", false},
		{"a\\**z", "a*yz", true},
		{"a*\\*z", "a/b*z", false},
		{"a[*][*]z", "a**z", true},
		{"a[*][*]z", "a/z", false},
		{"a/**/b/*", "a/x/y/b/c", true},
		{"a/**/b/*", "a/x/y/b/c/d", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.name, func(t *testing.T) {
			got, err := matchName(t, tt.pattern, tt.name)
			if err != nil || got != tt.want {
				t.Errorf("match(%q, %q) = %v, %v; want %v", tt.pattern, tt.name, got, err, tt.want)
			}
		})
	}
}
