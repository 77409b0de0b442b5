package testkit

import (
	"testing"

	"github.com/wharf-registry/wharf/internal/slapd"
)

// Slapd is a real OpenLDAP server (Debian's slapd) started for one test
// (see internal/slapd): its own slapd.conf and database in a temporary
// directory, plain LDAP (with StartTLS) on Port and LDAPS on TLSPort,
// both on 127.0.0.1, with a certificate for 127.0.0.1 and localhost signed
// by the CA in CAFile, and memberOf kept on the members of groupOfNames.
type Slapd struct {
	*slapd.Server
	t testing.TB
}

// StartSlapd starts slapd and adds ldif (entries under dc=example,dc=org)
// with ldapadd as the root DN, so the overlays see the adds. It stops at
// the end of the test. A missing slapd or ldapadd fails the test.
func StartSlapd(t testing.TB, ldif string) *Slapd {
	t.Helper()
	s, err := slapd.Launch(t.TempDir(), ldif)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return &Slapd{Server: s, t: t}
}

// Start brings the same directory back after Stop, failing the test when
// slapd does not listen.
func (s *Slapd) Start() {
	s.t.Helper()
	if err := s.Server.Start(); err != nil {
		s.t.Fatal(err)
	}
}
