package regconfig

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// envPrefix starts every variable that overrides a setting, as in registry:2.
const envPrefix = "REGISTRY_"

// applyEnv applies REGISTRY_* overrides with registry:2's rules:
//
//   - the name after the prefix is the path of the setting, segments joined
//     by "_" and matched to the YAML keys regardless of case
//     (REGISTRY_AUTH_TOKEN_ISSUER is auth.token.issuer);
//   - the value is parsed as YAML into the setting, so `"Auth Service"` loses
//     its quotes and `['HEAD', 'GET']` is a list;
//   - inside a map (http.headers, log.fields) the rest of the name is the key:
//     REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin;
//   - REGISTRY_AUTH=htpasswd|token|none picks the access controller and
//     REGISTRY_STORAGE=filesystem|s3 the storage driver, as registry:2 accepts
//     a bare name for those sections;
//   - variables are applied in lexical order, so REGISTRY_AUTH comes before
//     REGISTRY_AUTH_TOKEN_REALM.
//
// A REGISTRY_* name matching no setting is a warning, not an error:
// Kubernetes injects REGISTRY_PORT and REGISTRY_SERVICE_HOST for a service
// named "registry". A value that does not parse is an error.
func (c *Config) applyEnv(environ []string) yamlconf.Problems {
	type kv struct{ name, value string }
	var vars []kv
	for _, e := range environ {
		name, value, _ := strings.Cut(e, "=")
		if strings.HasPrefix(name, envPrefix) {
			vars = append(vars, kv{name, value})
		}
	}
	slices.SortFunc(vars, func(a, b kv) int { return strings.Compare(a.name, b.name) })

	var ps yamlconf.Problems
	for _, v := range vars {
		segs := strings.Split(strings.TrimPrefix(v.name, envPrefix), "_")
		path, err := c.setPath(reflect.ValueOf(c).Elem(), segs, "", v.name, v.value)
		switch {
		case err != nil:
			ps = append(ps, yamlconf.Problem{File: "environment", Field: v.name, Msg: err.Error()})
		case path == "":
			c.Warnings = append(c.Warnings, fmt.Sprintf("ignoring environment variable %s: it names no configuration setting", v.name))
		default:
			if c.fromEnv == nil {
				c.fromEnv = map[string]string{}
			}
			c.fromEnv[path] = v.name
			if strings.HasPrefix(path, "storage.filesystem") {
				c.filesystemSet = true
			}
		}
	}
	return ps
}

// setPath walks segs down from v and sets the setting they name to value.
// It returns the dotted path it set, or "" when segs name nothing.
func (c *Config) setPath(v reflect.Value, segs []string, path, name, value string) (string, error) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			prefill(v.Addr())
			// The variable that brings a section into being is where
			// the section's own problems come from.
			if _, ok := c.fromEnv[path]; !ok && path != "" {
				if c.fromEnv == nil {
					c.fromEnv = map[string]string{}
				}
				c.fromEnv[path] = name
			}
		}
		return c.setPath(v.Elem(), segs, path, name, value)
	case reflect.Map:
		return setMapEntry(v, segs, path, name, value)
	case reflect.Struct:
		// handled below
	default:
		return "", nil // segments left over below a plain value
	}
	if len(segs) == 0 || segs[0] == "" {
		return "", nil
	}
	f, key, ok := fieldByKey(v, segs[0])
	if !ok || (path == "" && key == "version") { // the version is the file's, not the environment's
		return "", nil
	}
	p := join(path, key)
	if len(segs) > 1 {
		return c.setPath(f, segs[1:], p, name, value)
	}
	switch f.Addr().Interface().(type) {
	case *Auth:
		return p, c.setAuthMode(name, value)
	case *Storage:
		return p, c.setStorageDriver(name, value)
	}
	nv, err := parseValue(name, value, f.Type())
	if err != nil {
		return "", err
	}
	f.Set(nv)
	return p, nil
}

// fieldByKey finds the struct field whose YAML key equals key, ignoring
// case, looking into `yaml:",inline"` structs as the decoder does.
func fieldByKey(v reflect.Value, key string) (reflect.Value, string, bool) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || tag == "-" {
			continue
		}
		if tag == "" && opts == "inline" && sf.Type.Kind() == reflect.Struct {
			if f, k, ok := fieldByKey(v.Field(i), key); ok {
				return f, k, true
			}
			continue
		}
		if tag != "" && strings.EqualFold(tag, key) {
			return v.Field(i), tag, true
		}
	}
	return reflect.Value{}, "", false
}

// setMapEntry sets one entry of http.headers or log.fields; the key is the
// rest of the variable's name, which may itself contain "_".
func setMapEntry(m reflect.Value, segs []string, path, name, value string) (string, error) {
	key := strings.Join(segs, "_")
	if key == "" {
		return "", nil
	}
	var nv reflect.Value
	if m.Type() == reflect.TypeFor[http.Header]() {
		key = http.CanonicalHeaderKey(key)
		vals, err := parseHeaderValues(name, value)
		if err != nil {
			return "", err
		}
		nv = reflect.ValueOf(vals)
	} else {
		key = strings.ToLower(key) // as registry:2 does for map keys
		var err error
		if nv, err = parseValue(name, value, m.Type().Elem()); err != nil {
			return "", err
		}
	}
	if m.IsNil() {
		m.Set(reflect.MakeMap(m.Type()))
	}
	m.SetMapIndex(reflect.ValueOf(key), nv)
	return join(path, key), nil
}

// parseHeaderValues reads a header's values: a YAML list as registry:2
// wants (`[nosniff]`), or, more forgiving, a single plain value.
func parseHeaderValues(name, value string) ([]string, error) {
	var list []string
	if _, err := yamlconf.Decode(name, []byte(value), &list); err == nil {
		return list, nil
	}
	var one string
	if _, err := yamlconf.Decode(name, []byte(value), &one); err != nil {
		return nil, fmt.Errorf("want a YAML list of header values such as ['a', 'b'], got %q", value)
	}
	return []string{one}, nil
}

// parseValue decodes value as YAML into a new value of type t, strictly
// (a mapping value may hold only known keys). A string setting whose value
// is not valid YAML (a secret containing ": ", say) takes the text as is.
func parseValue(name, value string, t reflect.Type) (reflect.Value, error) {
	ptr := reflect.New(t)
	prefill(ptr)
	if _, err := yamlconf.Decode(name, []byte(value), ptr.Interface()); err != nil {
		if t.Kind() == reflect.String {
			return reflect.ValueOf(value).Convert(t), nil
		}
		return reflect.Value{}, fmt.Errorf("cannot use %q: %s", value, problemText(err))
	}
	if d, ok := ptr.Interface().(*Duration); ok && d.invalid != "" {
		return reflect.Value{}, fmt.Errorf("invalid duration %s (want e.g. 10s, 30m, 24h)", d.invalid)
	}
	return ptr.Elem(), nil
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

// setAuthMode handles REGISTRY_AUTH: a bare mode name keeps that mode's
// settings from the file (if any) and drops the other mode's; a YAML mapping
// replaces the whole section.
func (c *Config) setAuthMode(name, value string) error {
	var mode string
	if _, err := yamlconf.Decode(name, []byte(value), &mode); err != nil {
		nv, err := parseValue(name, value, reflect.TypeFor[Auth]())
		if err != nil {
			return err
		}
		c.Auth = nv.Interface().(Auth)
		return nil
	}
	switch strings.ToLower(strings.TrimSpace(mode)) {
	case "", "none":
		c.Auth = Auth{}
	case "htpasswd":
		if c.Auth.Htpasswd == nil {
			c.Auth.Htpasswd = &HtpasswdAuth{}
		}
		c.Auth.Token = nil
	case "token":
		if c.Auth.Token == nil {
			c.Auth.Token = &TokenAuth{}
		}
		c.Auth.Htpasswd = nil
	default:
		return fmt.Errorf("unknown auth mode %q (want htpasswd, token or none)", mode)
	}
	return nil
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

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
