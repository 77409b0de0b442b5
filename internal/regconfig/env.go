package regconfig

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// envPrefix starts every variable that overrides a setting, as in registry:2.
const envPrefix = "REGISTRY_"

type envVar struct{ name, value string }

// registryVars returns the REGISTRY_* entries of environ (KEY=value, as
// os.Environ gives them) in lexical order, as registry:2 applies them: so
// REGISTRY_AUTH comes before REGISTRY_AUTH_TOKEN_REALM.
func registryVars(environ []string) []envVar {
	var vars []envVar
	for _, e := range environ {
		name, value, _ := strings.Cut(e, "=")
		if strings.HasPrefix(name, envPrefix) {
			vars = append(vars, envVar{name, value})
		}
	}
	slices.SortFunc(vars, func(a, b envVar) int { return strings.Compare(a.name, b.name) })
	return vars
}

// editor applies REGISTRY_* variables to the configuration's YAML tree,
// with registry:2's rules:
//
//   - the name after the prefix is the path of the setting, segments joined
//     by "_" and matched to the YAML keys regardless of case
//     (REGISTRY_AUTH_TOKEN_ISSUER is auth.token.issuer);
//   - the value is YAML and replaces the node at that path, so
//     `"Auth Service"` loses its quotes and `['HEAD', 'GET']` is a list; a
//     string setting whose value is not a YAML scalar (a secret containing
//     ": ") takes the text as it is;
//   - inside a map (http.headers, log.fields) the rest of the name is the
//     key: REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin;
//   - REGISTRY_AUTH=htpasswd|token|none picks the access controller and
//     REGISTRY_STORAGE=filesystem|s3 the storage driver (see tree.go).
//
// The tree is then decoded once, like a file: a variable is a file edit,
// not a second way of setting fields.
type editor struct {
	root     *yaml.Node        // the top-level mapping
	fromEnv  map[string]string // config path -> the variable that wrote it
	warnings []string
	ps       yamlconf.Problems
}

// apply applies one variable. Its path is resolved against the types
// first, so a variable naming no setting leaves the tree as it was.
func (e *editor) apply(v envVar) {
	keys, t, inMap, ok := e.resolve(v)
	if !ok {
		return
	}
	node, path := e.root, ""
	for _, key := range keys[:len(keys)-1] {
		path = join(path, key)
		child, err := e.section(node, key, path, v.name)
		if err != nil {
			e.fail(v, "%v", err)
			return
		}
		node = child
	}
	key := keys[len(keys)-1]
	path = join(path, key)
	switch {
	case path == "version":
		e.warnings = append(e.warnings, fmt.Sprintf("ignoring environment variable %s: the configuration version is the file's", v.name))
		return
	case path == "auth" && e.authMode(v), path == "storage" && e.storageDriver(v):
		return
	}
	n, err := valueNode(v, t, path)
	if err != nil {
		e.fail(v, "%v", err)
		return
	}
	same := func(k string) bool { return k == key }
	if inMap && t == reflect.TypeFor[[]string]() {
		// Header names are case-insensitive and keep the case written:
		// the variable replaces the file's header however it is spelt.
		same = func(k string) bool { return strings.EqualFold(k, key) }
	}
	setKey(node, key, n, same)
	e.fromEnv[path] = v.name
}

// resolve finds the setting v names: the YAML keys of its path, its type,
// and whether the last key is an entry of a map (http.headers, log.fields).
// It reports a variable that names no setting.
func (e *editor) resolve(v envVar) (keys []string, t reflect.Type, inMap, ok bool) {
	segs := strings.Split(strings.TrimPrefix(v.name, envPrefix), "_")
	t = reflect.TypeFor[Config]()
	for i, seg := range segs {
		t = deref(t)
		if !isValue(t) && t.Kind() == reflect.Map {
			// The rest of the name is the key, "_" and all.
			key := strings.Join(segs[i:], "_")
			if key == "" {
				break
			}
			if t != reflect.TypeFor[http.Header]() {
				key = strings.ToLower(key) // as registry:2 does for map keys
			}
			return append(keys, key), t.Elem(), true, true
		}
		key, ft, found := fieldByKey(t, seg)
		if !found {
			e.unknown(v, t, strings.Join(keys, "."), seg)
			return nil, nil, false, false
		}
		keys, t = append(keys, key), ft
	}
	if len(keys) == len(segs) {
		return keys, t, false, true
	}
	e.unknown(v, t, strings.Join(keys, "."), "")
	return nil, nil, false, false
}

// unknown handles a variable whose path leaves the configuration at seg,
// below path (a section of type t): a Kubernetes service link is a warning,
// anything else an error saying what is wrong.
func (e *editor) unknown(v envVar, t reflect.Type, path, seg string) {
	key := join(path, strings.ToLower(seg))
	switch {
	case serviceLink(v.name, v.value):
		e.warnings = append(e.warnings, fmt.Sprintf("ignoring environment variable %s: a Kubernetes service link, not a setting", v.name))
	case unsupported(key) != "":
		e.fail(v, "%s", unsupported(key))
	case isValue(t):
		e.fail(v, "names no configuration setting: %s is a single value, it has no %q", path, seg)
	case path == "":
		e.fail(v, "names no configuration setting: there is no top-level %q", strings.ToLower(seg))
	default:
		e.fail(v, "names no configuration setting: %s has no %q", path, strings.ToLower(seg))
	}
}

func (e *editor) fail(v envVar, format string, args ...any) {
	e.ps = append(e.ps, yamlconf.Problem{File: "environment", Field: v.name, Msg: fmt.Sprintf(format, args...)})
}

// section returns the mapping at key in node, creating it if absent (and
// then recording that name wrote it: the section's own problems, such as a
// missing required key, come from that variable).
func (e *editor) section(node *yaml.Node, key, path, name string) (*yaml.Node, error) {
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value != key {
			continue
		}
		child := node.Content[i+1]
		switch {
		case child.Kind == yaml.AliasNode:
			// Edit a copy: the anchor may be used elsewhere.
			child = deepCopy(child.Alias)
			node.Content[i+1] = child
		case isNull(child):
			child = emptyMapping()
			node.Content[i+1] = child
		}
		if child.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("cannot set a key below %s: the file gives it a single value (line %d)", path, child.Line)
		}
		return child, nil
	}
	child := emptyMapping()
	node.Content = append(node.Content, strNode(key), child)
	if _, ok := e.fromEnv[path]; !ok {
		e.fromEnv[path] = name
	}
	return child, nil
}

// valueNode parses v's value as YAML for a setting of type t at path,
// checking it decodes (strictly) so that its problems name the variable.
func valueNode(v envVar, t reflect.Type, path string) (*yaml.Node, error) {
	var doc yaml.Node
	err := yaml.Unmarshal([]byte(v.value), &doc)
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	if err == nil && len(doc.Content) > 0 {
		n = doc.Content[0]
	}
	switch k := deref(t).Kind(); {
	case k == reflect.String && (err != nil || n.Kind != yaml.ScalarNode):
		n = strNode(v.value)
	case err != nil:
		return nil, fmt.Errorf("cannot use %q: %s", v.value, strings.TrimPrefix(err.Error(), "yaml: "))
	case t == reflect.TypeFor[[]string]() && n.Kind == yaml.ScalarNode && !isNull(n):
		// A header's values: a YAML list as registry:2 wants
		// (`[nosniff]`), or, more forgiving, one plain value.
		n = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{n}}
	}
	clearLines(n)
	out := reflect.New(t)
	if _, err := yamlconf.DecodeNode(v.name, n, out.Interface()); err != nil {
		return nil, fmt.Errorf("cannot use %q: %s", v.value, problemText(explainUnknown(err, path)))
	}
	if d, ok := out.Interface().(*Duration); ok && d.invalid != "" {
		return nil, fmt.Errorf("invalid duration %s (want e.g. 10s, 30m, 24h)", d.invalid)
	}
	return n, nil
}

// problemText strips the file and line from yamlconf problems, which would
// only repeat the variable's name.
func problemText(err error) string {
	ps, ok := err.(yamlconf.Problems)
	if !ok {
		return err.Error()
	}
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Msg
		if p.Field != "" {
			msgs[i] = p.Field + ": " + p.Msg
		}
	}
	return strings.Join(msgs, "; ")
}

// envSource reports the variable that set path or one of its parents.
func (c *Config) envSource(path string) (string, bool) {
	for p := path; p != ""; {
		if name, ok := c.fromEnv[p]; ok {
			return name, true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return "", false
}
