package acl

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode/utf8"
)

// pattern is one compiled string condition: a glob, or a /regex/.
type pattern struct {
	src   string // as written in the config
	regex bool
	// re is the compiled pattern when it has no placeholders; otherwise it
	// is rebuilt for every request from pieces.
	re     *regexp.Regexp
	pieces []piece
	labels []string // distinct label names of its ${labels:X}, in order

	// prog is re as a program, for mayMatchBelow (prefix.go); nil when re
	// is not anchored at the start. Built on first use.
	progOnce sync.Once
	prog     *syntax.Prog
}

// piece is regexp source text, or a hole for a placeholder's value.
type piece struct {
	text string
	ph   placeholder
	hole bool
}

// template accumulates pieces, merging adjacent text.
type template struct{ pieces []piece }

func (t *template) text(s string) {
	if n := len(t.pieces); n > 0 && !t.pieces[n-1].hole {
		t.pieces[n-1].text += s
		return
	}
	t.pieces = append(t.pieces, piece{text: s})
}

func (t *template) hole(ph placeholder) { t.pieces = append(t.pieces, piece{ph: ph, hole: true}) }

func (t *template) done() []piece { return t.pieces }

// isRegex reports docker_auth's rule: a pattern longer than two characters
// wrapped in slashes is a regexp, anything else a glob. The kind is decided
// on the pattern as written, never after substitution, so a request value
// cannot turn a glob into a regexp.
func isRegex(s string) bool { return len(s) > 2 && s[0] == '/' && s[len(s)-1] == '/' }

// errBadRegexp marks a /regex/ that does not compile.
var errBadRegexp = errors.New("bad regexp")

func compilePattern(src string) (*pattern, error) {
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("pattern %q is not valid UTF-8", src)
	}
	p := &pattern{src: src, regex: isRegex(src)}
	var err error
	if p.regex {
		p.pieces, err = splitRegex(src[1 : len(src)-1])
	} else {
		p.pieces, err = translateGlob(src)
	}
	if err != nil {
		return nil, err
	}
	// Every value goes in as a non-capturing group of literals, so whether
	// the source compiles does not depend on the value: checking it with
	// empty values proves it for all requests.
	re, err := regexp.Compile(p.source(func(placeholder) string { return "" }))
	if err != nil {
		if p.regex {
			return nil, fmt.Errorf("%w %s: %v", errBadRegexp, src, err)
		}
		return nil, fmt.Errorf("glob %q: %v", src, err)
	}
	holes := false
	for _, pc := range p.pieces {
		if !pc.hole {
			continue
		}
		holes = true
		if pc.ph.kind == phLabel && !contains(p.labels, pc.ph.label) {
			p.labels = append(p.labels, pc.ph.label)
		}
	}
	if !holes {
		p.re = re
	}
	return p, nil
}

// source assembles the regexp source with each hole replaced by the quoted
// value that fill gives it. Globs are anchored at both ends, as path.Match
// matches whole strings; a /regex/ is unanchored, as in docker_auth.
func (p *pattern) source(fill func(placeholder) string) string {
	var b strings.Builder
	if !p.regex {
		b.WriteString(`^(?s:`)
	}
	for _, pc := range p.pieces {
		if pc.hole {
			b.WriteString(`(?:`)
			b.WriteString(regexp.QuoteMeta(fill(pc.ph)))
			b.WriteString(`)`)
		} else {
			b.WriteString(pc.text)
		}
	}
	if !p.regex {
		b.WriteString(`)$`)
	}
	return b.String()
}

// placeholders returns every placeholder the pattern uses.
func (p *pattern) placeholders() []placeholder {
	var out []placeholder
	for _, pc := range p.pieces {
		if pc.hole {
			out = append(out, pc.ph)
		}
	}
	return out
}

// match reports whether value matches the pattern under b. With
// ${labels:X} placeholders it tries every combination of the user's values
// of those labels (each label takes one value throughout the pattern), as
// docker_auth does; a label the user lacks, like an unmatched capture group,
// makes the pattern fail rather than match its own placeholder text.
func (p *pattern) match(value string, b *bindings) bool {
	if p.re != nil {
		return p.re.MatchString(value)
	}
	return p.eachSource(b, func(src string) bool {
		re, err := regexp.Compile(src)
		return err == nil && re.MatchString(value)
	})
}

// eachSource calls f with the regexp source of p under b, once for every
// combination of the user's values of its ${labels:X}, until f returns
// true, and reports whether it did. A placeholder without a value (a label
// the user lacks, a capture group whose regexp did not match) means no
// source at all: false without calling f.
func (p *pattern) eachSource(b *bindings, f func(src string) bool) bool {
	for _, pc := range p.pieces {
		if pc.hole && pc.ph.kind != phLabel {
			if _, ok := b.value(pc.ph); !ok {
				return false
			}
		}
	}
	choices := make([][]string, len(p.labels))
	for i, l := range p.labels {
		if choices[i] = b.labels[l]; len(choices[i]) == 0 {
			return false
		}
	}
	pick := make([]int, len(choices))
	fill := func(ph placeholder) string {
		if ph.kind == phLabel {
			i := index(p.labels, ph.label)
			return choices[i][pick[i]]
		}
		v, _ := b.value(ph)
		return v
	}
	for {
		if f(p.source(fill)) {
			return true
		}
		// Advance pick like an odometer over the label value lists.
		k := 0
		for ; k < len(pick); k++ {
			if pick[k]++; pick[k] < len(choices[k]) {
				break
			}
			pick[k] = 0
		}
		if k == len(pick) {
			return false
		}
	}
}

func contains(list []string, s string) bool { return index(list, s) >= 0 }

func index(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
