package regconfig

import (
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// This file holds the edits of the YAML tree that registry:2 gives a bare
// name for (REGISTRY_AUTH=token, REGISTRY_STORAGE=s3) and the helpers every
// edit uses.

// authMode handles REGISTRY_AUTH set to a bare mode name: the named mode's
// settings from the file stay, the other mode's go; "none" drops both. It
// returns false when the value is not a bare name (a YAML mapping replaces
// the whole section, as any other value does).
func (e *editor) authMode(v envVar) bool {
	mode, ok := bareName(v.value)
	if !ok {
		return false
	}
	auth, _ := e.section(e.root, "auth", "auth", v.name)
	switch mode {
	case "", "none":
		auth.Content = nil
		e.fromEnv["auth"] = v.name
	case "htpasswd", "token":
		other := map[string]string{"htpasswd": "token", "token": "htpasswd"}[mode]
		deleteKey(auth, other)
		e.ensure(auth, mode, "auth."+mode, v.name)
	case "silly":
		e.fail(v, "%s", unsupported("auth.silly"))
	default:
		e.fail(v, "unknown auth mode %q (want htpasswd, token or none)", mode)
	}
	return true
}

// storageDriver handles REGISTRY_STORAGE set to a bare driver name, as
// registry:2 does: REGISTRY_STORAGE=s3 on top of the image's filesystem
// config is the documented way to move to S3. Unlike registry:2, switching
// keeps storage.delete and storage.maintenance, which apply to every driver.
func (e *editor) storageDriver(v envVar) bool {
	driver, ok := bareName(v.value)
	if !ok {
		return false
	}
	st, _ := e.section(e.root, "storage", "storage", v.name)
	switch driver {
	case "filesystem":
		deleteKey(st, "s3")
		e.ensure(st, "filesystem", "storage.filesystem", v.name)
	case "s3", "s3aws":
		deleteKey(st, "filesystem")
		e.ensure(st, "s3", "storage.s3", v.name)
	default:
		e.fail(v, "unsupported storage driver %q (want filesystem or s3)", driver)
	}
	return true
}

// ensure makes sure the mapping node has a section at key, creating an
// empty one (written by name) if it has none.
func (e *editor) ensure(node *yaml.Node, key, path, name string) {
	if valueOf(node, key) == nil {
		node.Content = append(node.Content, strNode(key), emptyMapping())
		e.fromEnv[path] = name
	}
}

// bareName reads a value that is a plain YAML scalar, lower-cased.
func bareName(value string) (string, bool) {
	var s string
	if _, err := yamlconf.Decode("", []byte(value), &s); err != nil {
		return "", false
	}
	return strings.ToLower(strings.TrimSpace(s)), true
}

// presentSections turns sections written with no settings (`htpasswd:`,
// `s3:`), which YAML reads as null and would decode as a nil pointer, into
// empty mappings. A section written is a section present: silently running
// an open registry for `auth: {htpasswd: }` would be the worst reading of
// it, so Validate gets to report what the section lacks.
func presentSections(n *yaml.Node, t reflect.Type) {
	t = deref(t)
	if n == nil || n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return
	}
	fields := yamlconf.Fields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		ft, ok := fields[n.Content[i].Value]
		if !ok {
			continue
		}
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct && isNull(n.Content[i+1]) {
			n.Content[i+1] = emptyMapping()
		}
		presentSections(n.Content[i+1], ft)
	}
}

// valueOf returns the value at key in a mapping node, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// setKey sets value at key in a mapping node, replacing every key same
// matches.
func setKey(n *yaml.Node, key string, value *yaml.Node, same func(string) bool) {
	out := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !same(n.Content[i].Value) {
			out = append(out, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = append(out, strNode(key), value)
}

func deleteKey(n *yaml.Node, key string) {
	out := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != key {
			out = append(out, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = out
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func emptyMapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func deepCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = deepCopy(child)
	}
	return &c
}

// clearLines drops the line numbers of a variable's value, which count
// lines of the variable, not of the file.
func clearLines(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		clearLines(c)
	}
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// isValue reports whether settings of type t are single values: no
// variable can name a key below them. Types that parse themselves
// (Duration) are values.
func isValue(t reflect.Type) bool {
	t = deref(t)
	return (t.Kind() != reflect.Struct && t.Kind() != reflect.Map) || reflect.PointerTo(t).Implements(unmarshalerType)
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// fieldByKey finds the field of struct type t whose YAML key equals key,
// ignoring case.
func fieldByKey(t reflect.Type, key string) (string, reflect.Type, bool) {
	if isValue(t) || t.Kind() != reflect.Struct || key == "" {
		return "", nil, false
	}
	for k, ft := range yamlconf.Fields(t) {
		if strings.EqualFold(k, key) {
			return k, ft, true
		}
	}
	return "", nil, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
