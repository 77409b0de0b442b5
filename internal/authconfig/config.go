// Package authconfig reads the token server's configuration: the YAML file
// of cesanta/docker_auth, read strictly, plus a few keys of our own.
//
// Every docker_auth key that a static-users, static-ACL setup uses means what
// it meant there, so an existing auth_config.yml keeps working unchanged.
// Unlike docker_auth, an unknown key (a typo such as `acount:` would turn an
// ACL rule into one that matches everybody), a non-bcrypt password, a bad
// ACL pattern or an unreadable key file stops the server before it starts,
// and [Load] reports all of them at once, each with file, line and field.
//
// ldap_auth, ext_auth and ext_authz are implemented with docker_auth's keys
// (see backends.go). Keys for docker_auth features this server does not
// implement (google_auth, mongo_auth, letsencrypt, ...) are refused with a
// "not supported by this server" problem rather than silently ignored: a
// file relying on them would otherwise lose its authentication backend.
package authconfig

import (
	"crypto/tls"
	"net/netip"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/internal/loginguard"
	"github.com/wharf-registry/wharf/pkg/acl"
	"github.com/wharf-registry/wharf/pkg/token"
)

// Defaults for our additions; a docker_auth file that does not name them
// gets these.
const (
	DefaultRefreshExpiration = 30 * 24 * 60 * 60                           // seconds: 30 days
	DefaultMaxFailures       = loginguard.DefaultMaxFailures               // failed logins per key per window
	DefaultWindow            = int(loginguard.DefaultWindow / time.Second) // seconds
	DefaultMaxTracked        = loginguard.DefaultMaxTracked                // addresses plus accounts remembered
	DefaultCORSMaxAge        = 600                                         // seconds
)

// Config is one loaded, validated configuration. Fields tagged `yaml` are
// the file's content; the rest are derived by [Load] and are what the
// server uses.
type Config struct {
	Server   ServerConfig     `yaml:"server"`
	Token    TokenConfig      `yaml:"token"`
	Users    map[string]*User `yaml:"users"`
	ACL      []acl.Entry      `yaml:"acl"`
	Throttle ThrottleConfig   `yaml:"throttle"`

	// docker_auth's directory and external-program backends.
	LDAPAuth *LDAPConfig `yaml:"ldap_auth"`
	ExtAuth  *ExtConfig  `yaml:"ext_auth"`
	ExtAuthz *ExtConfig  `yaml:"ext_authz"`

	// docker_auth's other authentication and authorization backends.
	GoogleAuth  Unsupported `yaml:"google_auth"`
	GitHubAuth  Unsupported `yaml:"github_auth"`
	OIDCAuth    Unsupported `yaml:"oidc_auth"`
	GitlabAuth  Unsupported `yaml:"gitlab_auth"`
	MongoAuth   Unsupported `yaml:"mongo_auth"`
	XormAuth    Unsupported `yaml:"xorm_auth"`
	PluginAuthn Unsupported `yaml:"plugin_authn"`
	ACLMongo    Unsupported `yaml:"acl_mongo"`
	ACLXorm     Unsupported `yaml:"acl_xorm"`
	PluginAuthz Unsupported `yaml:"plugin_authz"`
	CasbinAuthz Unsupported `yaml:"casbin_authz"`

	// File is the path the configuration was loaded from.
	File string `yaml:"-"`
	// Keys are the token keys: Keys[0] signs, every one is published in the
	// JWKS. Loaded from token.key/certificate (or, as in docker_auth,
	// server.key/certificate when the token has none), then token.extra_keys.
	Keys []*token.Key `yaml:"-"`
	// Rules is the compiled ACL.
	Rules *acl.ACL `yaml:"-"`
	// KeyIDFormat is the parsed token.kid_format.
	KeyIDFormat token.KeyIDFormat `yaml:"-"`
	// TLS is the server's certificate when server.certificate and
	// server.key are set, else nil (plain HTTP).
	TLS *tls.Certificate `yaml:"-"`
	// TLSMinVersion, CurvePreferences and CipherSuites are the parsed
	// server.tls_* settings (zero values: Go's defaults).
	TLSMinVersion    uint16          `yaml:"-"`
	CurvePreferences []tls.CurveID   `yaml:"-"`
	CipherSuites     []uint16        `yaml:"-"`
	TrustedProxies   []netip.Prefix  `yaml:"-"`
	Warnings         []string        `yaml:"-"` // things worth logging at startup
	Expiration       time.Duration   `yaml:"-"` // token.expiration
	RefreshLifetime  time.Duration   `yaml:"-"` // token.refresh_expiration; 0 disables refresh tokens
	CORSMaxAge       time.Duration   `yaml:"-"` // server.cors.max_age
	Services         map[string]bool `yaml:"-"` // token.services; nil accepts any service
}

// ServerConfig is the `server` section.
type ServerConfig struct {
	// Addr is the listen address (docker_auth `addr`), e.g. ":5001", or a
	// socket path when Net is "unix".
	Addr string `yaml:"addr"`
	// Net is "tcp" (default) or "unix", as in docker_auth.
	Net string `yaml:"net"`
	// PathPrefix is prepended to every route, e.g. "/auth_server".
	PathPrefix string `yaml:"path_prefix"`
	// Certificate and Key are PEM files; when both are set the server
	// speaks TLS, and they sign tokens if the token section has no key.
	Certificate string `yaml:"certificate"`
	Key         string `yaml:"key"`
	// RealIPHeader names a header carrying the client address (e.g.
	// X-Forwarded-For). Ours: the header is honoured only from
	// TrustedProxies peers, since any client could forge it, and the
	// client is its rightmost element that is not a trusted proxy. A
	// negative RealIPPos keeps docker_auth's meaning (that element,
	// counted from the end); 0 (docker_auth: the first element, which the
	// client writes) and positive positions mean the rightmost rule.
	RealIPHeader string `yaml:"real_ip_header"`
	RealIPPos    int    `yaml:"real_ip_pos"`
	// HSTS adds Strict-Transport-Security to responses (docker_auth `hsts`).
	HSTS bool `yaml:"hsts"`
	// TLSMinVersion is "TLS10", "TLS11", "TLS12", "TLS13" or "0x0303"-style.
	TLSMinVersion       string   `yaml:"tls_min_version"`
	TLSCurvePreferences []string `yaml:"tls_curve_preferences"` // P256, P384, P521, X25519
	TLSCipherSuites     []string `yaml:"tls_cipher_suites"`     // crypto/tls names

	// TrustedProxies (ours) lists the CIDRs or addresses of reverse proxies
	// whose RealIPHeader is believed. Without it the header is ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// CORS (ours) lets browser UIs fetch tokens.
	CORS CORSConfig `yaml:"cors"`

	LetsEncrypt Unsupported `yaml:"letsencrypt"`
}

// CORSConfig is `server.cors` (ours).
type CORSConfig struct {
	// AllowedOrigins are exact origins ("https://ui.example.com") or "*".
	// Credentials are allowed, so "*" echoes the caller's Origin.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxAge is how long, in seconds, a browser may cache a preflight
	// answer. Default 600.
	MaxAge *int `yaml:"max_age"`
}

// TokenConfig is the `token` section.
type TokenConfig struct {
	// Issuer is the `iss` claim; the registry's auth.token.issuer must match.
	Issuer string `yaml:"issuer"`
	// Certificate and Key are PEM files: the key signs, the certificate
	// (optional here, required by docker_auth) is sent as `x5c`.
	Certificate string `yaml:"certificate"`
	Key         string `yaml:"key"`
	// Expiration is the access token lifetime in seconds.
	Expiration int64 `yaml:"expiration"`

	// KidFormat (ours) is the `kid` header form: "libtrust" (default; what
	// registry:2 v2.8 indexes keys by) or "jwk-thumbprint" (RFC 7638; what
	// distribution v3 indexes by).
	KidFormat string `yaml:"kid_format"`
	// DisableLegacyKeyID is docker_auth's (1.13+) way of asking for the
	// RFC 7638 kid; the same as kid_format: jwk-thumbprint.
	DisableLegacyKeyID bool `yaml:"disable_legacy_key_id"`
	// ExtraKeys (ours) are published in the JWKS but never sign: add the
	// next key here, let registries pick it up, then move it to key.
	ExtraKeys []KeyFiles `yaml:"extra_keys"`
	// Services (ours) are the `service` values tokens are issued for (the
	// `aud` claim). Absent: any service is accepted (docker_auth's
	// behaviour, logged as a warning). Present: any other is a 400.
	Services []string `yaml:"services"`
	// RefreshExpiration (ours) is the refresh token lifetime in seconds;
	// default 30 days, 0 disables refresh tokens.
	RefreshExpiration *int64 `yaml:"refresh_expiration"`
}

// KeyFiles names one extra key: Key is required, Certificate optional.
type KeyFiles struct {
	Certificate string `yaml:"certificate"`
	Key         string `yaml:"key"`
}

// User is one entry of the static user map. The user "" (with an empty
// body, `"": {}`) allows anonymous access.
type User struct {
	// Password is a bcrypt hash ($2a$, $2b$ or $2y$), as `htpasswd -B` or
	// `auth hash` print.
	Password string `yaml:"password"`
	// Labels are matched by ACL `labels` conditions and `${labels:X}`.
	Labels map[string][]string `yaml:"labels"`
}

// ThrottleConfig (ours) limits failed logins per client address and per
// account (internal/loginguard).
type ThrottleConfig struct {
	// MaxFailures is how many failed logins a client address may make per
	// Window before its further attempts get 429 without a password check,
	// and an account (from all addresses together) before its further
	// failures are answered late (never refused: a right password passes).
	// Default 10; 0 disables throttling.
	MaxFailures *int `yaml:"max_failures"`
	// Window is in seconds; failures are forgiven at MaxFailures per Window.
	// Default 60.
	Window *int `yaml:"window"`
	// MaxTracked bounds how many IPs and accounts are remembered. Default
	// 10000.
	MaxTracked *int `yaml:"max_tracked"`
}

// Limits returns the effective throttle settings.
func (t ThrottleConfig) Limits() (maxFailures int, window time.Duration, maxTracked int) {
	maxFailures, win, maxTracked := DefaultMaxFailures, DefaultWindow, DefaultMaxTracked
	if t.MaxFailures != nil {
		maxFailures = *t.MaxFailures
	}
	if t.Window != nil {
		win = *t.Window
	}
	if t.MaxTracked != nil {
		maxTracked = *t.MaxTracked
	}
	return maxFailures, time.Duration(win) * time.Second, maxTracked
}

// Anonymous reports whether the config allows anonymous access (a user "").
func (c *Config) Anonymous() bool {
	_, ok := c.Users[""]
	return ok
}

// Unsupported stands for a docker_auth key whose feature this server does
// not implement. Decoding it never fails; [Load] reports it when present,
// so a file that relies on, say, ldap_auth is refused instead of starting
// with that backend silently missing.
type Unsupported struct {
	present bool
}

// UnmarshalYAML records that the key was given, whatever its content.
func (u *Unsupported) UnmarshalYAML(*yaml.Node) error {
	u.present = true
	return nil
}

// Present reports whether the key was given (with a non-null value).
func (u Unsupported) Present() bool { return u.present }
