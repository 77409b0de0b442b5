package regconfig

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// explainUnknown improves the "unknown field" problems of a decode below
// prefix (a path, "" for the whole file). A registry:2 key for a feature
// this registry lacks says so. A key that exists elsewhere in the
// configuration is suggested: blog posts copy YAML around and an
// indentation slip moves a key out of its section (the seed config's
// top-level `threshold: 3` meant health.storagedriver.threshold).
func explainUnknown(err error, prefix string) error {
	var ps yamlconf.Problems
	if !errors.As(err, &ps) {
		return err
	}
	out := make(yamlconf.Problems, len(ps))
	for i, p := range ps {
		out[i] = p
		if p.Field != "" {
			out[i].Field = join(prefix, p.Field)
		}
		if !strings.HasPrefix(p.Msg, "unknown field") {
			continue
		}
		if msg := unsupported(out[i].Field); msg != "" {
			out[i].Msg = msg
			continue
		}
		if strings.Contains(p.Msg, "did you mean") {
			continue
		}
		key := p.Field[strings.LastIndexByte(p.Field, '.')+1:]
		if where := keyPaths(reflect.TypeFor[Config](), "", key); len(where) > 0 && len(where) <= 3 {
			out[i].Msg += fmt.Sprintf(" (did you mean %s? check the indentation)", strings.Join(where, " or "))
		}
	}
	return out
}

// keyPaths lists the dotted paths of every setting named key below t.
func keyPaths(t reflect.Type, prefix, key string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var paths []string
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if tag == "" && opts == "inline" {
			paths = append(paths, keyPaths(sf.Type, prefix, key)...)
			continue
		}
		if !sf.IsExported() || tag == "" || tag == "-" {
			continue
		}
		p := join(prefix, tag)
		if tag == key {
			paths = append(paths, p)
		}
		if sf.Type != reflect.TypeFor[Duration]() {
			paths = append(paths, keyPaths(sf.Type, p, key)...)
		}
	}
	return paths
}
