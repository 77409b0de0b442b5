package regconfig

import "strings"

// informational names the settings accepted for registry:2's sake that do
// nothing here, when set to anything that would matter there. They load, so
// registry:2 configs do, and the log says what they do not do.
func (c *Config) informational() []string {
	var ws []string
	if s1 := c.Compatibility.Schema1; s1.Enabled {
		ws = append(ws, "compatibility.schema1.enabled: schema1 manifests are not supported; pushes of them are refused with MANIFEST_INVALID")
	} else if s1.SigningKeyFile != "" {
		ws = append(ws, "compatibility.schema1.signingkeyfile: accepted for registry:2 compatibility, has no effect: schema1 manifests are never served")
	}
	if t := c.Auth.Token; t != nil && t.JWKSInsecureHTTP && strings.HasPrefix(strings.ToLower(t.JWKS), "http://") {
		ws = append(ws, "auth.token.jwks: keys fetched over plain http:// (auth.token.jwksinsecurehttp: true); anyone on the way can forge tokens")
	}
	if c.Storage.Filesystem.MaxThreads != 0 {
		ws = append(ws, "storage.filesystem.maxthreads: accepted for registry:2 compatibility, has no effect")
	}
	return append(ws, c.storageWarnings()...)
}

// storageWarnings names settings accepted for registry:2's sake that do
// nothing here.
func (c *Config) storageWarnings() []string {
	var ws []string
	if r := c.Storage.Redirect; r.Disable != nil && !*r.Disable && c.Storage.S3 == nil {
		ws = append(ws, "storage.redirect: the filesystem driver serves blobs itself; redirects apply to s3 only")
	}
	s := c.Storage.S3
	if s == nil {
		return ws
	}
	noEffect := func(key string, set bool) {
		if set {
			ws = append(ws, "storage.s3."+key+": accepted for registry:2 compatibility, has no effect")
		}
	}
	acl := strings.ToLower(s.ObjectACL)
	noEffect("objectacl", acl != "" && acl != "private")
	noEffect("useragent", s.UserAgent != "")
	noEffect("usedualstack", s.UseDualStack)
	noEffect("accelerate", s.Accelerate)
	noEffect("usefipsendpoint", s.UseFIPSEndpoint)
	level := strings.ToLower(s.LogLevel)
	noEffect("loglevel", level != "" && level != "off")
	if s.SessionToken != "" {
		ws = append(ws, "storage.s3.sessiontoken: ignored, as registry:2 ignores it; for temporary credentials leave accesskey empty and set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN")
	}
	return ws
}
