package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// certgen runs the command in-process and fails the test on a non-zero exit.
func certgen(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("certgen %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errOut.String())
	}
	return out.String()
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("%s: no CERTIFICATE block", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServerCertificateChainsToTheCAForEveryName(t *testing.T) {
	dir := t.TempDir()
	certgen(t, "--out", dir, "--host", "registry.example.com", "--host", "192.0.2.10")
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	server := readCert(t, filepath.Join(dir, "server.crt"))
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "registry", "auth", "registry.example.com", "192.0.2.10"} {
		t.Run(name, func(t *testing.T) {
			_, err := server.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			if err != nil {
				t.Fatalf("server.crt does not verify for %s: %v", name, err)
			}
		})
	}
	if _, err := server.Verify(x509.VerifyOptions{DNSName: "other.example.com", Roots: roots}); err == nil {
		t.Fatal("server.crt verifies for a name that was never asked for")
	}
	if !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Fatalf("CA constraints: IsCA=%v MaxPathLen=%d zero=%v; want a CA that signs only leaves", ca.IsCA, ca.MaxPathLen, ca.MaxPathLenZero)
	}
}

func TestKeysArePrivateAndCertificatesPublic(t *testing.T) {
	dir := t.TempDir()
	certgen(t, "--out", dir)
	want := map[string]os.FileMode{
		"ca.key": 0o600, "server.key": 0o600, "token.key": 0o600,
		"ca.crt": 0o644, "server.crt": 0o644, "token.crt": 0o644,
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Errorf("got %d files, want exactly %d (no temporary files left behind)", len(entries), len(want))
	}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
}

func TestTLSHandshakeWithTheGeneratedCertificateSucceedsForLocalhost(t *testing.T) {
	dir := t.TempDir()
	certgen(t, "--out", dir)
	pairTLS, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pairTLS}}
	srv.StartTLS()
	defer srv.Close()

	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, filepath.Join(dir, "ca.crt")))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, host := range []string{"localhost", "127.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			resp, err := client.Get("https://" + net.JoinHostPort(host, port) + "/")
			if err != nil {
				t.Fatalf("handshake trusting only ca.crt: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
		})
	}
}

func TestTokenSignerIsSelfSignedAndMatchesItsKey(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		wantRSA bool
	}{{"ecdsa", false}, {"rsa", true}} {
		t.Run(tc.kind, func(t *testing.T) {
			dir := t.TempDir()
			certgen(t, "--out", dir, "--token-key", tc.kind)
			p, err := loadPair(dir, tokenFiles)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.cert.CheckSignature(p.cert.SignatureAlgorithm, p.cert.RawTBSCertificate, p.cert.Signature); err != nil {
				t.Fatalf("token.crt is not self-signed: %v", err)
			}
			switch k := p.key.(type) {
			case *rsa.PrivateKey:
				if !tc.wantRSA || k.N.BitLen() != 2048 {
					t.Fatalf("got RSA-%d key, want %s", k.N.BitLen(), tc.kind)
				}
			case *ecdsa.PrivateKey:
				if tc.wantRSA || k.Curve.Params().Name != "P-256" {
					t.Fatalf("got ECDSA %s key, want %s", k.Curve.Params().Name, tc.kind)
				}
			default:
				t.Fatalf("unexpected key type %T", k)
			}
			ca := readCert(t, filepath.Join(dir, "ca.crt"))
			if p.cert.CheckSignatureFrom(ca) == nil {
				t.Fatal("token.crt is signed by the TLS CA; trusting one must not mean trusting the other")
			}
		})
	}
}

func TestSecondRunKeepsEveryFile(t *testing.T) {
	dir := t.TempDir()
	certgen(t, "--out", dir, "--host", "reg.example.com")
	before := snapshot(t, dir)
	out := certgen(t, "--out", dir, "--host", "reg.example.com")
	if strings.Contains(out, "created") {
		t.Errorf("second run reports creating files:\n%s", out)
	}
	if after := snapshot(t, dir); !equalFiles(before, after) {
		t.Fatal("second run changed files it should have kept")
	}
}

func TestNewHostReissuesOnlyTheServerCertificate(t *testing.T) {
	dir := t.TempDir()
	certgen(t, "--out", dir)
	before := snapshot(t, dir)
	certgen(t, "--out", dir, "--host", "new.example.com")
	after := snapshot(t, dir)
	for _, name := range []string{"ca.crt", "ca.key", "token.crt", "token.key"} {
		if !bytes.Equal(before[name], after[name]) {
			t.Errorf("%s changed; only the server certificate should be re-issued", name)
		}
	}
	if bytes.Equal(before["server.crt"], after["server.crt"]) {
		t.Fatal("server.crt kept although it does not cover new.example.com")
	}
	server := readCert(t, filepath.Join(dir, "server.crt"))
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, filepath.Join(dir, "ca.crt")))
	if _, err := server.Verify(x509.VerifyOptions{DNSName: "new.example.com", Roots: roots}); err != nil {
		t.Fatalf("re-issued certificate: %v", err)
	}
}

func TestReissuedServerCertificateKeepsEarlierHosts(t *testing.T) {
	dir := t.TempDir()
	certgen(t, "--out", dir, "--host", "first.example.com", "--host", "192.0.2.1")
	certgen(t, "--out", dir, "--host", "second.example.com")
	server := readCert(t, filepath.Join(dir, "server.crt"))
	for _, name := range []string{"first.example.com", "192.0.2.1", "second.example.com", "localhost"} {
		if err := server.VerifyHostname(name); err != nil {
			t.Errorf("re-issued certificate lost %s: %v", name, err)
		}
	}
	// Asking again for names it already has changes nothing.
	before := snapshot(t, dir)
	certgen(t, "--out", dir, "--host", "SECOND.example.com", "--host", "192.0.2.1")
	if !equalFiles(before, snapshot(t, dir)) {
		t.Error("a name already covered (differing only in case) made certgen re-issue")
	}
}

func TestForceReplacesEverything(t *testing.T) {
	dir := t.TempDir()
	certgen(t, "--out", dir)
	before := snapshot(t, dir)
	certgen(t, "--out", dir, "--force")
	after := snapshot(t, dir)
	for name := range before {
		if bytes.Equal(before[name], after[name]) {
			t.Errorf("%s unchanged after --force", name)
		}
	}
}

func TestRefusesToOverwriteWhatItCannotRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"key without certificate", func(dir string) {
			os.WriteFile(filepath.Join(dir, "ca.key"), []byte("x"), 0o600)
		}, "ca.crt cannot be read"},
		{"garbage certificate", func(dir string) {
			os.WriteFile(filepath.Join(dir, "token.key"), []byte("x"), 0o600)
			os.WriteFile(filepath.Join(dir, "token.crt"), []byte("x"), 0o644)
		}, "token.key and token.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(dir)
			var out, errOut bytes.Buffer
			if code := run([]string{"--out", dir}, &out, &errOut); code != 1 {
				t.Fatalf("exit %d, want 1; stderr: %s", code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.want) || !strings.Contains(errOut.String(), "--force") {
				t.Fatalf("stderr %q should name the problem (%q) and mention --force", errOut.String(), tc.want)
			}
		})
	}
}

func TestBadArgumentsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--out", t.TempDir(), "extra"},
		{"--out", t.TempDir(), "--host", "bad host"},
		{"--out", t.TempDir(), "--host", "example.com:5000"},
		{"--out", t.TempDir(), "--owner", "nobody"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(args, &out, &errOut); code != 2 {
				t.Fatalf("exit %d, want 2 (usage error); stderr: %s", code, errOut.String())
			}
		})
	}
}

func TestPrintsHowToTrustTheCA(t *testing.T) {
	dir := t.TempDir()
	out := certgen(t, "--out", dir, "--host", "reg.example.com")
	for _, want := range []string{
		"/etc/docker/certs.d/localhost:5000/ca.crt",
		"/etc/docker/certs.d/reg.example.com:5000/ca.crt",
		filepath.Join(dir, "ca.crt"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not mention %s:\n%s", want, out)
		}
	}
}

func TestOwnerIsAppliedToServerAndTokenKeys(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	dir := t.TempDir()
	certgen(t, "--out", dir, "--owner", "65532:65533")
	for name, want := range map[string]int{"server.key": 65532, "token.key": 65532, "ca.key": 0} {
		uid, gid := fileOwner(t, filepath.Join(dir, name))
		if uid != want || (want != 0 && gid != 65533) {
			t.Errorf("%s owned by %d:%d, want uid %d", name, uid, gid, want)
		}
	}
}

func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{"ca.crt", "ca.key", "server.crt", "server.key", "token.crt", "token.key"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = data
	}
	return out
}

func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !bytes.Equal(a[k], b[k]) {
			return false
		}
	}
	return true
}
