// Package slapd runs a real OpenLDAP server (Debian's slapd) on loopback
// ports with its own generated config, certificates and database in a
// directory of the caller's: the directory the LDAP tests (through
// internal/testkit) and `make bench` log in against. It imports nothing
// of testing, so the bench, a main package, can use it.
package slapd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wharf-registry/wharf/internal/syncbuf"
)

// InstallHint is how to get the OpenLDAP server and its tools.
const InstallHint = "install OpenLDAP: DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils"

// Server is slapd with its own slapd.conf and database in Dir, plain LDAP
// (with StartTLS) on Port and LDAPS on TLSPort, both on 127.0.0.1, with a
// certificate for 127.0.0.1 and localhost signed by the CA in CAFile. The
// memberof overlay, where installed, keeps memberOf on the members of
// groupOfNames entries.
type Server struct {
	Dir     string
	Port    int
	TLSPort int
	CAFile  string
	Base    string // dc=example,dc=org
	RootDN  string // cn=admin,dc=example,dc=org
	RootPW  string

	bin    string
	conf   string
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	exited chan struct{}
}

// Find returns the slapd binary, or an error saying how to install it
// (and ldapadd, which Launch uses).
func Find() (string, error) {
	bin, err := exec.LookPath("slapd")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/slapd"); statErr != nil {
			return "", fmt.Errorf("slapd not found (%v): %s", err, InstallHint)
		}
		bin = "/usr/sbin/slapd"
	}
	if _, err := exec.LookPath("ldapadd"); err != nil {
		return "", fmt.Errorf("ldapadd not found (%v): %s", err, InstallHint)
	}
	return bin, nil
}

// Launch starts slapd over dir (which must exist) and adds ldif (entries
// under dc=example,dc=org) with ldapadd as the root DN, so the overlays
// see the adds. The caller stops it.
func Launch(dir, ldif string) (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Dir: dir, Port: ports[0], TLSPort: ports[1],
		Base: "dc=example,dc=org", RootDN: "cn=admin,dc=example,dc=org", RootPW: "rootsecret",
		bin: bin, conf: filepath.Join(dir, "slapd.conf"),
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	if s.CAFile, err = writeCA(dir); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.conf, []byte(s.config()), 0o600); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	base := "dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n"
	if err := s.Add(base + ldif); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Addr is the plain LDAP address; TLSAddr the LDAPS one.
func (s *Server) Addr() string    { return "127.0.0.1:" + strconv.Itoa(s.Port) }
func (s *Server) TLSAddr() string { return "127.0.0.1:" + strconv.Itoa(s.TLSPort) }

func (s *Server) config() string {
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
# A scratch directory: no fsync per write, so loading thousands of
# entries (the bench's directory) takes a second, not a minute.
dbnosync
# Searches by uid, as a directory in use has them indexed: without, every
# search scans every entry.
index objectClass eq
index uid eq
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
func (s *Server) Start() error {
	urls := fmt.Sprintf("ldap://%s/ ldaps://%s/", s.Addr(), s.TLSAddr())
	s.out = &syncbuf.Buffer{}
	// -d keeps slapd in the foreground; 256 ("stats") logs one line per
	// operation, which tests count.
	s.cmd = exec.Command(s.bin, "-d", "256", "-f", s.conf, "-h", urls)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	dieWithParent(s.cmd)
	s.exited = make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %v", err)
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
				return fmt.Errorf("slapd exited before listening on %s:\n%s", addr, syncbuf.Tail(s.out.String(), 40))
			default:
			}
			if time.Now().After(deadline) {
				s.Stop()
				return fmt.Errorf("slapd did not listen on %s: %v\n%s", addr, err, syncbuf.Tail(s.out.String(), 40))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// Pid is the running slapd's process id, for /proc.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Output is what slapd logged since it was last started: with "stats",
// a line per connection and operation (BIND, SRCH, ...).
func (s *Server) Output() string { return s.out.String() }

// Stop ends slapd (SIGTERM, as an administrator would) and waits for it.
func (s *Server) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
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

// Add loads LDIF with ldapadd as the root DN.
func (s *Server) Add(ldif string) error {
	cmd := exec.Command("ldapadd", "-x", "-H", "ldap://"+s.Addr(), "-D", s.RootDN, "-w", s.RootPW)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ldapadd: %v\n%s", err, out)
	}
	return nil
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close() // held until all are picked, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	if len(ports) != n {
		return nil, errors.New("no free ports")
	}
	return ports, nil
}
