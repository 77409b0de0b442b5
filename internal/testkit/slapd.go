package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slapdInstallHint is how to get the OpenLDAP server and its tools.
const slapdInstallHint = "install OpenLDAP: DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils"

// Slapd is a real OpenLDAP server (Debian's slapd) started for one test:
// its own slapd.conf and database in a temporary directory, plain LDAP
// (with StartTLS) on Port and LDAPS on TLSPort, both on 127.0.0.1, with a
// certificate for 127.0.0.1 and localhost signed by the CA in CAFile. The
// memberof overlay keeps memberOf on the members of groupOfNames entries.
type Slapd struct {
	Dir     string
	Port    int
	TLSPort int
	CAFile  string
	Base    string // dc=example,dc=org
	RootDN  string // cn=admin,dc=example,dc=org
	RootPW  string

	t      testing.TB
	bin    string
	conf   string
	cmd    *exec.Cmd
	out    *SyncBuffer
	exited chan struct{}
}

// StartSlapd starts slapd and adds ldif (entries under dc=example,dc=org)
// with ldapadd as the root DN, so the overlays see the adds. It stops at
// the end of the test. A missing slapd or ldapadd fails the test.
func StartSlapd(t testing.TB, ldif string) *Slapd {
	t.Helper()
	bin, err := exec.LookPath("slapd")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/slapd"); statErr != nil {
			t.Fatalf("slapd not found (%v): %s", err, slapdInstallHint)
		}
		bin = "/usr/sbin/slapd"
	}
	if _, err := exec.LookPath("ldapadd"); err != nil {
		t.Fatalf("ldapadd not found (%v): %s", err, slapdInstallHint)
	}
	dir := t.TempDir()
	s := &Slapd{
		Dir: dir, Port: FreePort(t), TLSPort: FreePort(t),
		Base: "dc=example,dc=org", RootDN: "cn=admin,dc=example,dc=org", RootPW: "rootsecret",
		t: t, bin: bin, conf: filepath.Join(dir, "slapd.conf"),
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	s.CAFile = writeTestCA(t, dir)
	WriteFile(t, dir, "slapd.conf", []byte(s.config()))
	s.Start()
	t.Cleanup(s.Stop)
	base := "dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n"
	s.add(base + ldif)
	return s
}

// Addr is the plain LDAP address; TLSAddr the LDAPS one.
func (s *Slapd) Addr() string    { return "127.0.0.1:" + strconv.Itoa(s.Port) }
func (s *Slapd) TLSAddr() string { return "127.0.0.1:" + strconv.Itoa(s.TLSPort) }

func (s *Slapd) config() string {
	modules := "moduleload back_mdb\n"
	overlay := ""
	if _, err := os.Stat("/usr/lib/ldap/memberof.so"); err == nil {
		modules += "moduleload memberof\n"
		overlay = "overlay memberof\nmemberof-group-oc groupOfNames\nmemberof-member-ad member\nmemberof-memberof-ad memberOf\nmemberof-refint TRUE\n"
	}
	return fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
%s
pidfile %[2]s/slapd.pid
argsfile %[2]s/slapd.args
TLSCACertificateFile %[2]s/ca.pem
TLSCertificateFile %[2]s/server.pem
TLSCertificateKeyFile %[2]s/server.key

database mdb
maxsize 104857600
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw %[3]s
directory %[2]s/data
%[4]s
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by anonymous auth
`, modules, s.Dir, s.RootPW, overlay)
}

// Start runs slapd in the foreground (-d) and waits until both ports
// accept connections. Use it after Stop to bring the same directory back.
func (s *Slapd) Start() {
	t := s.t
	t.Helper()
	urls := fmt.Sprintf("ldap://%s/ ldaps://%s/", s.Addr(), s.TLSAddr())
	s.out = &SyncBuffer{}
	// -d keeps slapd in the foreground; 256 ("stats") logs one line per
	// operation, which tests count.
	s.cmd = exec.Command(s.bin, "-d", "256", "-f", s.conf, "-h", urls)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	dieWithTest(s.cmd)
	s.exited = make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	exited := s.exited
	go func() { _ = s.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a speed check
	for _, addr := range []string{s.Addr(), s.TLSAddr()} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				t.Fatalf("slapd exited before listening on %s:\n%s", addr, Tail(s.out.String(), 40))
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("slapd did not listen on %s: %v\n%s", addr, err, Tail(s.out.String(), 40))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Output is what slapd logged since it was last started: with "stats",
// a line per connection and operation (BIND, SRCH, ...).
func (s *Slapd) Output() string { return s.out.String() }

// Stop ends slapd (SIGTERM, as an administrator would) and waits for it.
func (s *Slapd) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// add loads LDIF with ldapadd as the root DN.
func (s *Slapd) add(ldif string) {
	s.t.Helper()
	cmd := exec.Command("ldapadd", "-x", "-H", "ldap://"+s.Addr(), "-D", s.RootDN, "-w", s.RootPW)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("ldapadd: %v\n%s", err, out)
	}
}

// writeTestCA writes ca.pem and a server.pem/server.key it signed, valid
// for 127.0.0.1 and localhost, and returns the CA's path.
func writeTestCA(t testing.TB, dir string) string {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wharf test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, dir, "server.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	WriteFile(t, dir, "server.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return WriteFile(t, dir, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
}
