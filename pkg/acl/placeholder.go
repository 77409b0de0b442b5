package acl

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// field names a request value a pattern can be matched against or a
// placeholder can refer to. Their order is that of docker_auth's
// MatchConditions.
type field int

const (
	fieldAccount field = iota
	fieldType
	fieldName
	fieldService
	numFields
)

var fieldNames = [numFields]string{"account", "type", "name", "service"}

func fieldByName(s string) (field, bool) {
	for f, n := range fieldNames {
		if n == s {
			return field(f), true
		}
	}
	return 0, false
}

// phKind tells the three placeholder forms apart.
type phKind int

const (
	phField   phKind = iota // ${account}: the request's value of a field
	phLabel                 // ${labels:team}: each of the user's values of a label
	phCapture               // ${account:1}: a capture group of that field's /regex/
)

// placeholder is one parsed ${...}. It is comparable so it can key the
// values bound for one request.
type placeholder struct {
	kind  phKind
	field field  // phField, phCapture
	label string // phLabel
	group int    // phCapture, >= 1
}

func (p placeholder) String() string {
	switch p.kind {
	case phLabel:
		return "${labels:" + p.label + "}"
	case phCapture:
		return fmt.Sprintf("${%s:%d}", fieldNames[p.field], p.group)
	default:
		return "${" + fieldNames[p.field] + "}"
	}
}

// parsePlaceholder reads the placeholder starting at s[0:2] == "${" and
// returns it with the number of bytes it spans. Anything that is not one of
// docker_auth's forms is an error rather than literal text, so a typo such as
// ${acount} cannot silently turn into a pattern matching the text "${acount}".
func parsePlaceholder(s string) (placeholder, int, error) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return placeholder{}, 0, fmt.Errorf("unterminated placeholder %q (write \\$ for a literal $)", s)
	}
	body, n := s[2:end], end+1
	if f, ok := fieldByName(body); ok {
		return placeholder{kind: phField, field: f}, n, nil
	}
	if label, ok := strings.CutPrefix(body, "labels:"); ok {
		if label == "" {
			return placeholder{}, 0, fmt.Errorf("placeholder %q names no label", s[:n])
		}
		return placeholder{kind: phLabel, label: label}, n, nil
	}
	if name, num, ok := strings.Cut(body, ":"); ok {
		f, known := fieldByName(name)
		g, err := strconv.Atoi(num)
		if known && err == nil && isDigits(num) {
			if g < 1 {
				return placeholder{}, 0, fmt.Errorf("placeholder %q: capture groups count from 1", s[:n])
			}
			return placeholder{kind: phCapture, field: f, group: g}, n, nil
		}
	}
	return placeholder{}, 0, fmt.Errorf("unknown placeholder %q (known: ${account}, ${type}, ${name}, ${service}, ${labels:LABEL}, ${FIELD:N})", s[:n])
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// bindings holds the placeholder values of one request while one rule is
// tried. A capture placeholder whose source regex did not match the request
// is absent, which makes every pattern using it fail: docker_auth instead
// left the placeholder text in the pattern, to be matched literally.
type bindings struct {
	fields   [numFields]string
	labels   map[string][]string
	captures map[placeholder]string
}

func newBindings(req *Request) *bindings {
	return &bindings{
		fields: [numFields]string{req.Account, req.Type, req.Name, req.Service},
		labels: req.Labels,
	}
}

// bindCaptures evaluates the capture placeholders a rule uses. The source
// regexes were compiled without placeholders, so they are fixed per rule.
func (b *bindings) bindCaptures(caps []capture) {
	clear(b.captures)
	for _, c := range caps {
		m := c.re.FindStringSubmatch(b.fields[c.ph.field])
		if m == nil {
			continue
		}
		if b.captures == nil {
			b.captures = make(map[placeholder]string, len(caps))
		}
		b.captures[c.ph] = m[c.ph.group]
	}
}

// value returns the single value of a field or capture placeholder.
func (b *bindings) value(p placeholder) (string, bool) {
	if p.kind == phField {
		return b.fields[p.field], true
	}
	v, ok := b.captures[p]
	return v, ok
}

// capture is a capture placeholder used by a rule together with the regex of
// the field it refers to.
type capture struct {
	ph placeholder
	re *regexp.Regexp
}
