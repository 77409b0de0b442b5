package authconfig

import (
	"errors"
	"fmt"
	"time"

	"github.com/wharf-registry/wharf/internal/yamlconf"
	"github.com/wharf-registry/wharf/pkg/acl"
	"github.com/wharf-registry/wharf/pkg/token"
)

// Load reads, validates and prepares the configuration at path: keys are
// loaded, the ACL compiled, defaults applied. Any problem, and every one
// of them, comes back as yamlconf.Problems naming file:line: field.
func Load(path string) (*Config, error) {
	c := &Config{}
	doc, err := yamlconf.Load(path, c)
	if doc == nil {
		return nil, err
	}
	c.File = path
	v := &validator{doc: doc, c: c}
	// Unknown keys and type errors first, then everything validation finds
	// in what did decode: every problem of the file in one report.
	errors.As(err, &v.ps)
	v.unsupported()
	v.server()
	v.token()
	v.users()
	v.ldap()
	v.ext()
	v.acl()
	v.throttle()
	if err := v.ps.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// validator collects problems against one decoded file.
type validator struct {
	doc *yamlconf.Doc
	c   *Config
	ps  yamlconf.Problems
}

// problem records a problem once: the server's key pair is checked both
// for TLS and, as docker_auth's fallback, for signing.
func (v *validator) problem(field, format string, args ...any) {
	p := v.doc.Problemf(field, format, args...)
	for _, q := range v.ps {
		if q == p {
			return
		}
	}
	v.ps = append(v.ps, p)
}

func (v *validator) warn(format string, args ...any) {
	v.c.Warnings = append(v.c.Warnings, fmt.Sprintf(format, args...))
}

func (v *validator) unsupported() {
	c := v.c
	for _, u := range []struct {
		field string
		u     Unsupported
	}{
		{"google_auth", c.GoogleAuth}, {"github_auth", c.GitHubAuth},
		{"oidc_auth", c.OIDCAuth}, {"gitlab_auth", c.GitlabAuth},
		{"mongo_auth", c.MongoAuth}, {"xorm_auth", c.XormAuth},
		{"plugin_authn", c.PluginAuthn}, {"acl_mongo", c.ACLMongo},
		{"acl_xorm", c.ACLXorm},
		{"plugin_authz", c.PluginAuthz}, {"casbin_authz", c.CasbinAuthz},
		{"server.letsencrypt", c.Server.LetsEncrypt},
	} {
		if u.u.Present() {
			v.problem(u.field, "not supported by this server (docker_auth feature; implemented: users, ldap_auth, ext_auth, acl, ext_authz)")
		}
	}
}

func (v *validator) token() {
	c := v.c
	t := &c.Token
	if t.Issuer == "" {
		v.problem("token.issuer", "required: the registry's auth.token.issuer must equal it")
	}
	if t.Expiration <= 0 {
		v.problem("token.expiration", "must be a positive number of seconds, got %d", t.Expiration)
	}
	c.Expiration = time.Duration(t.Expiration) * time.Second
	f, err := token.ParseKeyIDFormat(t.KidFormat)
	if err != nil {
		v.problem("token.kid_format", "%v", err)
		f = token.KeyIDLibtrust // still check the keys
	}
	if t.DisableLegacyKeyID {
		if t.KidFormat != "" && f != token.KeyIDThumbprint {
			v.problem("token.disable_legacy_key_id", "contradicts token.kid_format %q (it means jwk-thumbprint)", t.KidFormat)
		}
		f = token.KeyIDThumbprint
	}
	c.KeyIDFormat = f
	v.loadTokenKeys()

	if t.Services != nil {
		c.Services = map[string]bool{}
		for i, s := range t.Services {
			field := fmt.Sprintf("token.services[%d]", i)
			switch {
			case s == "":
				v.problem(field, "must not be empty")
			case c.Services[s]:
				v.problem(field, "%q is listed twice", s)
			}
			c.Services[s] = true
		}
		if len(t.Services) == 0 {
			v.problem("token.services", "is empty: no token could be issued (remove the key to accept any service)")
		}
	} else {
		v.warn("token.services is not set: tokens are issued for any service a client names; list your registries' service names to restrict the aud claim")
	}

	c.RefreshLifetime = DefaultRefreshExpiration * time.Second
	if t.RefreshExpiration != nil {
		if *t.RefreshExpiration < 0 {
			v.problem("token.refresh_expiration", "must be 0 (disabled) or a positive number of seconds, got %d", *t.RefreshExpiration)
		}
		c.RefreshLifetime = time.Duration(*t.RefreshExpiration) * time.Second
	}
}

func (v *validator) acl() {
	c := v.c
	if c.ACL == nil && c.ExtAuthz != nil {
		c.Rules, _ = acl.Compile(nil) // docker_auth: ext_authz alone decides
		return
	}
	if c.ACL == nil {
		v.problem("acl", "required (an empty list, acl: [], denies every action)")
		return
	}
	rules, err := acl.Compile(c.ACL)
	var ce acl.CompileErrors
	switch {
	case errors.As(err, &ce):
		for _, fe := range ce {
			v.problem("acl"+fe.Path, "%s", fe.Msg)
		}
	case err != nil:
		v.problem("acl", "%v", err)
	default:
		c.Rules = rules
	}
}

func (v *validator) throttle() {
	t := v.c.Throttle
	if t.MaxFailures != nil && *t.MaxFailures < 0 {
		v.problem("throttle.max_failures", "must be 0 (disabled) or positive, got %d", *t.MaxFailures)
	}
	if t.Window != nil && *t.Window <= 0 {
		v.problem("throttle.window", "must be a positive number of seconds, got %d", *t.Window)
	}
	if t.MaxTracked != nil && *t.MaxTracked <= 0 {
		v.problem("throttle.max_tracked", "must be positive, got %d", *t.MaxTracked)
	}
}
