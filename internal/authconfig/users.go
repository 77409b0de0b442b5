package authconfig

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// bcryptHashLen is the length of every modular-crypt bcrypt hash.
const bcryptHashLen = 60

// bcryptAlphabet is bcrypt's base64 alphabet, used for salt and digest.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (v *validator) users() {
	c := v.c
	if c.Users == nil {
		if c.LDAPAuth == nil && c.ExtAuth == nil {
			v.problem("users", "required (an empty map, users: {}, denies everyone), unless ldap_auth or ext_auth authenticates")
		}
		return
	}
	names := make([]string, 0, len(c.Users))
	for name := range c.Users {
		names = append(names, name)
	}
	sort.Strings(names) // problems in a stable order
	for _, name := range names {
		u := c.Users[name]
		if u == nil {
			if name == "" {
				v.userProblem(name, "", `the anonymous user "" needs an empty body: "": {}`)
			} else {
				v.userProblem(name, "", "needs a body with a password: %q: {password: \"$2y$...\"}", name)
			}
			continue
		}
		if strings.ContainsAny(name, ":\x00\r\n") {
			// Basic credentials split user and password at the first ':'.
			v.userProblem(name, "", "user name %q cannot contain ':' or control characters", name)
		}
		for label, values := range u.Labels {
			if label == "" {
				v.userProblem(name, "labels", "label names must not be empty")
			}
			if len(values) == 0 {
				v.userProblem(name, "labels", "label %q has no values", label)
			}
		}
		if name == "" {
			if u.Password != "" {
				v.userProblem(name, "password", `the anonymous user "" takes no password`)
			}
			continue
		}
		if msg := checkBcrypt(u.Password); msg != "" {
			v.userProblem(name, "password", "%s", msg)
		}
	}
}

// checkBcrypt explains what is wrong with a stored password hash, or
// returns "". The message never repeats the value: a non-hash there is
// probably a plaintext password.
func checkBcrypt(h string) string {
	if h == "" {
		return "required: a bcrypt hash (generate one with `auth hash` or `htpasswd -nB USER`)"
	}
	if !strings.HasPrefix(h, "$2a$") && !strings.HasPrefix(h, "$2b$") && !strings.HasPrefix(h, "$2y$") {
		return "not a bcrypt hash ($2a$, $2b$ or $2y$); generate one with `auth hash` or `htpasswd -nB USER`"
	}
	if len(h) != bcryptHashLen {
		return "malformed bcrypt hash (wrong length)"
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return "malformed bcrypt hash: " + err.Error()
	}
	if strings.Trim(h[7:], bcryptAlphabet) != "" || h[6] != '$' {
		return "malformed bcrypt hash (bad salt or digest characters)"
	}
	return ""
}

// userField names a user's field for problems: users.bob.password, or
// users."".password and users."a.b" when the name needs quoting.
func userField(name, sub string) string {
	f := "users." + name
	if name == "" || strings.ContainsAny(name, ".[]\" ") {
		f = "users." + strconv.Quote(name)
	}
	if sub != "" {
		f += "." + sub
	}
	return f
}

// userProblem reports a problem on a user entry. Dotted paths cannot name
// the user "" or names holding dots, so the line is found by walking the
// YAML tree directly.
func (v *validator) userProblem(name, sub, format string, args ...any) {
	v.ps = append(v.ps, yamlconf.Problem{
		File:  v.doc.File,
		Line:  v.userLine(name, sub),
		Field: userField(name, sub),
		Msg:   fmt.Sprintf(format, args...),
	})
}

func (v *validator) userLine(name, sub string) int {
	line := v.doc.Line("users")
	data, err := os.ReadFile(v.doc.File)
	if err != nil {
		return line
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return line
	}
	users, _ := mapValue(root.Content[0], "users")
	if users == nil {
		return line
	}
	entry, l := mapValue(users, name)
	if entry == nil {
		return line
	}
	if _, subLine := mapValue(entry, sub); sub != "" && subLine > 0 {
		return subLine
	}
	return l
}

// mapValue returns the value under key in a mapping node, with the line
// of the key.
func mapValue(n *yaml.Node, key string) (*yaml.Node, int) {
	if n.Kind != yaml.MappingNode {
		return nil, 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1], n.Content[i].Line
		}
	}
	return nil, 0
}
