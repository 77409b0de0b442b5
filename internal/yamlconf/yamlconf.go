// Package yamlconf loads YAML configuration files strictly and reports every
// problem at once, each naming the file, the line and the field.
//
// docker_auth and registry:2 silently ignore unknown keys, so a typo such as
// `acount:` turns an ACL rule into one that matches everybody. Both of our
// programs load their configs through this package instead: unknown keys,
// wrong types and validation failures all come back as [Problems].
package yamlconf

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File  string // file name as given to Load or Decode
	Line  int    // 1-based; 0 when the field is absent from the file
	Field string // dotted path such as "acl[2].match.ip"; may be empty
	Msg   string
}

// Error renders the problem as "file:line: field: message".
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one file. A nil or empty Problems is no
// error; use [Problems.Err] to turn it into one.
type Problems []Problem

// Error joins the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// Doc is a decoded file kept for locating fields by path, so validation that
// runs after decoding can still name the line of the offending field.
type Doc struct {
	File string
	root *yaml.Node
}

// Load reads path and decodes it strictly into out (a pointer to a struct),
// as Decode does.
func Load(path string, out any) (*Doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Msg: err.Error()}}
	}
	return Decode(path, data, out)
}

// Decode decodes data strictly into out. name is used in problems. Unknown
// keys, duplicate keys and type mismatches are all reported, not just the
// first one.
//
// When the YAML itself parsed, the returned Doc is non-nil even if there are
// problems, and out holds everything that did decode: callers validate it
// too and report all problems of the file at once, not in rounds.
func Decode(name string, data []byte, out any) (*Doc, error) {
	root, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	if root == nil { // empty file: all defaults
		return &Doc{File: name}, nil
	}
	return DecodeNode(name, root, out)
}

// Parse parses data as one YAML document and returns its top-level node, or
// nil for an empty document. A syntax error is a Problems naming the line.
func Parse(name string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Problems{syntaxProblem(name, err)}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// DecodeNode decodes root, a tree from [Parse] that may have been edited
// since, strictly into out, as [Decode] does. Problems name the lines the
// nodes carry.
func DecodeNode(name string, root *yaml.Node, out any) (*Doc, error) {
	doc := &Doc{File: name, root: root}
	var ps Problems
	checkKnown(name, root, reflect.TypeOf(out), "", &ps)
	if err := root.Decode(out); err != nil {
		ps = append(ps, decodeProblems(name, err)...)
	}
	return doc, ps.Err()
}

// Problemf returns a Problem for the field at path (see [Doc.Line]).
func (d *Doc) Problemf(path, format string, args ...any) Problem {
	return Problem{File: d.File, Line: d.Line(path), Field: path, Msg: fmt.Sprintf(format, args...)}
}

// Line returns the line of the field at path, such as "server.addr" or
// "acl[2].match.ip". When the field is absent it returns the line of its
// nearest present parent, or 0.
func (d *Doc) Line(path string) int {
	if d == nil || d.root == nil {
		return 0
	}
	n, line := d.root, d.root.Line
	for _, part := range splitPath(path) {
		next, keyLine := child(n, part)
		if next == nil {
			return line
		}
		n, line = next, keyLine
	}
	return line
}

// child finds a mapping value by key or a sequence item by "[i]" and returns
// it with the line of its key (or item).
func child(n *yaml.Node, part string) (*yaml.Node, int) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if strings.HasPrefix(part, "[") {
		i, err := strconv.Atoi(strings.Trim(part, "[]"))
		if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
			return nil, 0
		}
		return n.Content[i], n.Content[i].Line
	}
	if n.Kind != yaml.MappingNode {
		return nil, 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == part {
			return n.Content[i+1], n.Content[i].Line
		}
	}
	return nil, 0
}

func splitPath(path string) []string {
	var parts []string
	for _, dotted := range strings.Split(path, ".") {
		for dotted != "" {
			i := strings.IndexByte(dotted, '[')
			switch {
			case i < 0:
				parts = append(parts, dotted)
				dotted = ""
			case i > 0:
				parts = append(parts, dotted[:i])
				dotted = dotted[i:]
			default:
				j := strings.IndexByte(dotted, ']')
				if j < 0 {
					j = len(dotted) - 1
				}
				parts = append(parts, dotted[:j+1])
				dotted = dotted[j+1:]
			}
		}
	}
	return parts
}

// checkKnown walks the YAML tree beside the Go type and reports mapping keys
// that no struct field takes, and keys given twice.
func checkKnown(file string, n *yaml.Node, t reflect.Type, path string, ps *Problems) {
	if n == nil {
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return // the type parses itself
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type mismatch
		}
		fields := Fields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if k.Value == "<<" { // merge key: check the merged mapping against this struct
				checkKnown(file, v, t, path, ps)
				continue
			}
			if seen[k.Value] {
				*ps = append(*ps, Problem{File: file, Line: k.Line, Field: p, Msg: "given more than once"})
			}
			seen[k.Value] = true
			ft, ok := fields[k.Value]
			if !ok {
				*ps = append(*ps, Problem{File: file, Line: k.Line, Field: p, Msg: "unknown field" + suggest(k.Value, fields)})
				continue
			}
			checkKnown(file, v, ft, p, ps)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if seen[k.Value] {
				*ps = append(*ps, Problem{File: file, Line: k.Line, Field: p, Msg: "given more than once"})
			}
			seen[k.Value] = true
			checkKnown(file, v, t.Elem(), p, ps)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			checkKnown(file, item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ps)
		}
	}
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// Fields maps the YAML keys of struct type t to their field types,
// following `yaml:",inline"` as the decoder does.
func Fields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range Fields(ft) {
					fields[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

// suggest names a known key that differs only in case or by one edit, the
// usual shape of a typo.
func suggest(key string, fields map[string]reflect.Type) string {
	for name := range fields {
		if strings.EqualFold(name, key) || editDistance(name, key) == 1 {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// decodeProblems turns yaml.v3's type errors ("line 4: cannot unmarshal
// !!str `abc` into int") into Problems.
func decodeProblems(file string, err error) Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Problems{{File: file, Msg: err.Error()}}
	}
	var ps Problems
	for _, e := range te.Errors {
		p := Problem{File: file, Msg: e}
		if m := lineRE.FindStringSubmatch(e); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Msg = m[2]
		}
		ps = append(ps, p)
	}
	return ps
}

var syntaxLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxProblem(file string, err error) Problem {
	msg := err.Error()
	if m := syntaxLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: line, Msg: m[2]}
	}
	return Problem{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}
