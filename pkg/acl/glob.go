package acl

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// translateGlob turns a glob into regexp source (without anchors) split
// around its placeholders.
//
// Single `*`, `?`, `[...]` classes and `\` escapes mean exactly what they
// mean to path.Match, as in docker_auth: `*` and `?` never match `/`, a class
// matches any one character (even `/`), a malformed pattern is
// path.ErrBadPattern. Our addition: a run of two or more unescaped stars
// matches any sequence including `/`, for nested repositories.
//
// Placeholders are holes in the translated source rather than text pasted
// into the glob, so no request value is ever read as glob syntax: an account
// named `*` or `[a-z]*` matches only itself, and an empty value between two
// stars cannot fuse them into `**`.
func translateGlob(s string) ([]piece, error) {
	var t template
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '*':
			j := i
			for j < len(s) && s[j] == '*' {
				j++
			}
			if j-i >= 2 {
				t.text(".*")
			} else {
				t.text("[^/]*")
			}
			i = j
		case c == '?':
			t.text("[^/]")
			i++
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%w: trailing backslash", path.ErrBadPattern)
			}
			_, n := utf8.DecodeRuneInString(s[i+1:])
			t.text(regexp.QuoteMeta(s[i+1 : i+1+n]))
			i += 1 + n
		case c == '[':
			class, n, err := globClass(s[i:])
			if err != nil {
				return nil, err
			}
			t.text(class)
			i += n
		case c == '$' && strings.HasPrefix(s[i:], "${"):
			ph, n, err := parsePlaceholder(s[i:])
			if err != nil {
				return nil, err
			}
			t.hole(ph)
			i += n
		default:
			_, n := utf8.DecodeRuneInString(s[i:])
			t.text(regexp.QuoteMeta(s[i : i+n]))
			i += n
		}
	}
	return t.done(), nil
}

// globClass translates the character class at the start of s (s[0] == '[')
// and returns its length in s. The grammar and the errors are path.Match's:
// a class needs at least one range, `-` and `]` must be escaped where they
// would be ambiguous, and a reversed range such as `z-a` is allowed and
// matches nothing.
func globClass(s string) (string, int, error) {
	i := 1
	negated := false
	if i < len(s) && s[i] == '^' {
		negated = true
		i++
	}
	var b strings.Builder
	for nrange := 0; ; nrange++ {
		if i < len(s) && s[i] == ']' && nrange > 0 {
			i++
			break
		}
		if i < len(s) && s[i] == '$' && strings.HasPrefix(s[i:], "${") {
			// A value pasted into a class would widen it character by
			// character; refuse rather than guess.
			return "", 0, fmt.Errorf("placeholder inside a character class in %q", s)
		}
		lo, n, err := classChar(s[i:])
		if err != nil {
			return "", 0, err
		}
		i += n
		hi := lo
		if s[i] == '-' {
			if hi, n, err = classChar(s[i+1:]); err != nil {
				return "", 0, err
			}
			i += 1 + n
		}
		if lo <= hi {
			fmt.Fprintf(&b, `\x{%x}-\x{%x}`, lo, hi)
		}
	}
	switch {
	case b.Len() > 0 && negated:
		return "[^" + b.String() + "]", i, nil
	case b.Len() > 0:
		return "[" + b.String() + "]", i, nil
	case negated: // only reversed ranges, negated: any character
		return `[\x{0}-\x{10ffff}]`, i, nil
	default: // only reversed ranges: nothing
		return `[^\x{0}-\x{10ffff}]`, i, nil
	}
}

// classChar reads one possibly escaped character of a class range, like
// path.Match's getEsc, including its demand that something follow it.
func classChar(s string) (rune, int, error) {
	if s == "" || s[0] == '-' || s[0] == ']' {
		return 0, 0, fmt.Errorf("%w: malformed character class", path.ErrBadPattern)
	}
	i := 0
	if s[0] == '\\' {
		i++
		if i == len(s) {
			return 0, 0, fmt.Errorf("%w: trailing backslash", path.ErrBadPattern)
		}
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n == 1 {
		return 0, 0, fmt.Errorf("%w: invalid UTF-8", path.ErrBadPattern)
	}
	i += n
	if i == len(s) {
		return 0, 0, fmt.Errorf("%w: unterminated character class", path.ErrBadPattern)
	}
	return r, i, nil
}

// splitRegex splits the body of a /regex/ around its placeholders. It follows
// RE2's syntax far enough to know where a `${` is an escaped or quoted
// literal (`\$`, `\Q...\E`) and to refuse placeholders inside a character
// class, where a pasted value would widen the class.
func splitRegex(s string) ([]piece, error) {
	var t template
	start := 0 // start of the text not yet added to t
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], `\Q`):
			end := strings.Index(s[i+2:], `\E`)
			if end < 0 {
				i = len(s)
			} else {
				i += 2 + end + 2
			}
		case s[i] == '\\':
			i += 2
		case s[i] == '[':
			n, err := skipRegexClass(s[i:])
			if err != nil {
				return nil, err
			}
			i += n
		case strings.HasPrefix(s[i:], "${"):
			ph, n, err := parsePlaceholder(s[i:])
			if err != nil {
				return nil, err
			}
			t.text(s[start:i])
			t.hole(ph)
			i += n
			start = i
		default:
			i++
		}
	}
	if start < len(s) {
		t.text(s[start:])
	}
	return t.done(), nil
}

// skipRegexClass returns the length of the RE2 character class at the start
// of s. An unterminated class is left to regexp.Compile to report.
func skipRegexClass(s string) (int, error) {
	i := 1
	if i < len(s) && s[i] == '^' {
		i++
	}
	if i < len(s) && s[i] == ']' { // a leading ] is a literal
		i++
	}
	for i < len(s) {
		switch {
		case s[i] == ']':
			return i + 1, nil
		case s[i] == '\\':
			i += 2
		case strings.HasPrefix(s[i:], "[:"):
			if end := strings.Index(s[i+2:], ":]"); end >= 0 {
				i += 2 + end + 2
			} else {
				i++
			}
		case strings.HasPrefix(s[i:], "${"):
			return 0, fmt.Errorf("placeholder inside a character class")
		default:
			i++
		}
	}
	return len(s), nil
}
