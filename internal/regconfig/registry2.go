package regconfig

import (
	"net"
	"regexp"
	"strconv"
	"strings"
)

// registry2Unsupported lists the keys of registry:2's configuration (the
// Configuration struct of github.com/docker/distribution v2.8.3, package
// configuration, and the storage drivers it registers) that name a feature
// this registry does not have, with a hint where one helps. Such a key, in
// the file or as a REGISTRY_* variable, stops start-up: a registry asked to
// send notifications must not start and drop them.
//
// The keys this registry implements are the fields of Config; registry:2's
// informational keys are fields too, accepted with a warning where they are
// set to anything that would matter (see warnings.go).
var registry2Unsupported = map[string]string{
	"loglevel":              "use log.level",
	"log.hooks":             "",
	"storage.azure":         "the storage drivers are filesystem and s3",
	"storage.gcs":           "the storage drivers are filesystem and s3",
	"storage.swift":         "the storage drivers are filesystem and s3",
	"storage.oss":           "the storage drivers are filesystem and s3",
	"storage.inmemory":      "the storage drivers are filesystem and s3",
	"storage.s3aws":         "write the section as storage.s3",
	"auth.silly":            "",
	"middleware":            "",
	"reporting":             "",
	"http.tls.letsencrypt":  "",
	"http.tls.ciphersuites": "the server uses Go's default TLS 1.2 and 1.3 suites",
	"notifications":         "",
	"redis":                 "",
	"health.file":           "",
	"health.http":           "",
	"health.tcp":            "",
	"catalog":               "catalog pages hold at most 1000 repositories, as registry:2's default",
	"validation":            "",
	"policy":                "",
}

// unsupported returns the message for a registry:2 key this registry does
// not implement, or "" when path is no such key.
func unsupported(path string) string {
	hint, ok := registry2Unsupported[path]
	if !ok {
		return ""
	}
	msg := "registry:2's " + path + " is not supported by this server"
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

// Kubernetes gives every pod variables for each Service of its namespace
// (unless enableServiceLinks is false): for a Service "registry" (or
// "registry-ui", "registry-redis": any name starting "registry-"),
// REGISTRY_SERVICE_HOST=10.0.0.7, REGISTRY_SERVICE_PORT=5000,
// REGISTRY_SERVICE_PORT_<PORTNAME>=5000, REGISTRY_PORT=tcp://10.0.0.7:5000,
// REGISTRY_PORT_5000_TCP=tcp://10.0.0.7:5000 and
// REGISTRY_PORT_5000_TCP_{PROTO,PORT,ADDR}. They are the cluster's, not
// settings, and stopping the registry because of them would make it unable
// to run beside its own Service.
var (
	serviceLinkName = regexp.MustCompile(`^REGISTRY_(?:[A-Z0-9_]+_)?(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?|PORT(?:_[0-9]+_(?:TCP|UDP|SCTP)(?:_(?:PROTO|PORT|ADDR))?)?)$`)
	serviceLinkURL  = regexp.MustCompile(`^(?:tcp|udp|sctp)://(.+)$`)
)

// serviceLink reports whether a variable that names no setting is a
// Kubernetes service link: its name has one of the shapes above and its
// value is what Kubernetes puts there (an IP address, a port number, a
// protocol or proto://ip:port). Anything else that names no setting is an
// error, so a misspelt REGISTRY_* variable is never ignored.
func serviceLink(name, value string) bool {
	if !serviceLinkName.MatchString(name) {
		return false
	}
	switch {
	case net.ParseIP(value) != nil:
		return true
	case value == "TCP" || value == "UDP" || value == "SCTP" || value == "tcp" || value == "udp" || value == "sctp":
		return strings.HasSuffix(name, "_PROTO")
	}
	if n, err := strconv.Atoi(value); err == nil {
		return n > 0 && n < 65536
	}
	if m := serviceLinkURL.FindStringSubmatch(value); m != nil {
		host, port, err := net.SplitHostPort(m[1])
		return err == nil && net.ParseIP(host) != nil && port != ""
	}
	return false
}
