// Package configs holds the configuration files shipped with wharf (no Go
// code). Its tests load every shipped file with the real config loaders, so
// a file that `make run`, the images or deploy/compose depend on cannot
// drift out of what the programs accept.
package configs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/authconfig"
	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/pkg/acl"
)

// writeTokenPair writes a P-256 key and a self-signed certificate as
// dir/token.key and dir/token.crt, like bin/certgen does, and also as
// server.key/server.crt for the TLS settings of the compose configs.
func writeTokenPair(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}}, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"token", "server"} {
		mustWrite(t, filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
		mustWrite(t, filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// abs returns the absolute path of a file in this directory.
func abs(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// decide asks the ACL what account may do on repository name.
func decide(rules *acl.ACL, account, name string, actions ...string) []string {
	return rules.Authorize(acl.Request{
		Account: account, Service: "registry.local", IP: netip.MustParseAddr("127.0.0.1"),
		Type: "repository", Name: name, Actions: actions,
	}).Actions
}

func TestDevConfigsLoadAndAgree(t *testing.T) {
	authPath, regPath := abs(t, "dev/auth.yml"), abs(t, "dev/registry.yml")
	// make run starts both programs from the repository root, where
	// .dev/token.* exist; reproduce that layout.
	t.Chdir(t.TempDir())
	writeTokenPair(t, ".dev")

	auth, err := authconfig.Load(authPath)
	if err != nil {
		t.Fatalf("configs/dev/auth.yml: %v", err)
	}
	reg, err := regconfig.Load(regPath, nil)
	if err != nil {
		t.Fatalf("configs/dev/registry.yml: %v", err)
	}
	wantTokenWiring(t, auth, reg)
	if reg.Auth.Token.Realm != "http://localhost:5001/auth" || auth.Server.Addr != "127.0.0.1:5001" || reg.HTTP.Addr != "127.0.0.1:5000" {
		t.Errorf("dev addresses: realm %q, auth %q, registry %q", reg.Auth.Token.Realm, auth.Server.Addr, reg.HTTP.Addr)
	}

	// The passwords make run prints are the ones in the file.
	for user, pass := range map[string]string{"admin": "admin-pass", "reader": "reader-pass"} {
		u := auth.Users[user]
		if u == nil || bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(pass)) != nil {
			t.Errorf("user %s does not have the printed dev password %q", user, pass)
		}
	}
	// The three cases the dev ACL is there to show.
	for _, tc := range []struct {
		account, repo string
		want          []string
	}{
		{"admin", "any/thing", []string{"delete", "pull", "push"}},
		{"reader", "any/thing", []string{"pull"}},
		{"", "any/thing", []string{}},
	} {
		if got := decide(auth.Rules, tc.account, tc.repo, "pull", "push", "delete"); !slices.Equal(got, tc.want) {
			t.Errorf("%q on %s: granted %q, want %q", tc.account, tc.repo, got, tc.want)
		}
	}
}

// wantTokenWiring checks the two programs agree on issuer and service.
func wantTokenWiring(t *testing.T, auth *authconfig.Config, reg *regconfig.Config) {
	t.Helper()
	if reg.Auth.Token == nil {
		t.Fatal("registry config has no token auth")
	}
	if reg.Auth.Token.Issuer != auth.Token.Issuer {
		t.Errorf("issuer: registry trusts %q, auth signs as %q", reg.Auth.Token.Issuer, auth.Token.Issuer)
	}
	if !auth.Services[reg.Auth.Token.Service] {
		t.Errorf("service %q is not in auth's token.services %v", reg.Auth.Token.Service, auth.Token.Services)
	}
}

// composeCopy copies a compose config into dir with /certs/ pointing at
// certs, since the containers' paths do not exist on the test machine.
func composeCopy(t *testing.T, src, dir, certs string, edit func(string) string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "/certs/", certs+"/")
	if edit != nil {
		text = edit(text)
	}
	out := filepath.Join(dir, filepath.Base(src))
	mustWrite(t, out, []byte(text))
	return out
}

func TestComposeAuthConfigRefusesToStartWithoutPasswords(t *testing.T) {
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	writeTokenPair(t, certs)
	path := composeCopy(t, "compose/auth/auth_config.yml", dir, certs, nil)
	_, err := authconfig.Load(path)
	if err == nil {
		t.Fatal("the shipped compose config loads with its CHANGE-ME passwords")
	}
	for _, want := range []string{"auth_config.yml:", "admin", "reader", "bcrypt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestComposeConfigsLoadOnceHashesAreSet(t *testing.T) {
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	writeTokenPair(t, certs)
	hash, err := bcrypt.GenerateFromPassword([]byte("a-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// What deploy/compose/setup.sh does to the CHANGE-ME values.
	path := composeCopy(t, "compose/auth/auth_config.yml", dir, certs, func(s string) string {
		var out []string
		for _, line := range strings.Split(s, "\n") {
			if i := strings.Index(line, `"CHANGE-ME-`); i >= 0 {
				line = line[:i] + `"` + string(hash) + `"`
			}
			out = append(out, line)
		}
		return strings.Join(out, "\n")
	})
	auth, err := authconfig.Load(path)
	if err != nil {
		t.Fatalf("compose auth config with hashes: %v", err)
	}
	if auth.TLS == nil {
		t.Error("compose auth config does not serve TLS")
	}
	for _, tc := range []struct {
		account, repo string
		want          []string
	}{
		{"admin", "private/x", []string{"delete", "pull", "push"}},
		{"reader", "apps/hello", []string{"pull"}},
		{"reader", "private/hello", []string{}},
		{"reader", "apps/a/b", []string{}},
		{"", "apps/hello", []string{}},
	} {
		if got := decide(auth.Rules, tc.account, tc.repo, "pull", "push", "delete"); !slices.Equal(got, tc.want) {
			t.Errorf("%q on %s: granted %q, want %q", tc.account, tc.repo, got, tc.want)
		}
	}

	regPath := composeCopy(t, "compose/registry/config.yml", dir, certs, nil)
	realm := "https://registry.example.com:5001/auth"
	reg, err := regconfig.Load(regPath, []string{"REGISTRY_AUTH_TOKEN_REALM=" + realm})
	if err != nil {
		t.Fatalf("compose registry config: %v", err)
	}
	wantTokenWiring(t, auth, reg)
	if reg.Auth.Token.Realm != realm {
		t.Errorf("realm %q, want the compose override %q", reg.Auth.Token.Realm, realm)
	}
	if !reg.HTTP.TLS.Enabled() {
		t.Error("compose registry config does not serve TLS")
	}
}

func TestImageDefaultConfigIsRegistry2s(t *testing.T) {
	reg, err := regconfig.Load(abs(t, "../deploy/compose/image/config.yml"), nil)
	if err != nil {
		t.Fatalf("image config.yml: %v", err)
	}
	if reg.HTTP.Addr != ":5000" || reg.Storage.Filesystem.RootDirectory != "/var/lib/registry" || reg.Auth.Mode() != "none" {
		t.Errorf("addr %q root %q auth %q; want registry:2's :5000, /var/lib/registry, none",
			reg.HTTP.Addr, reg.Storage.Filesystem.RootDirectory, reg.Auth.Mode())
	}
	// A registry:2 `docker run -e` line (seed 003) still configures it.
	reg, err = regconfig.Load(abs(t, "../deploy/compose/image/config.yml"), []string{
		"REGISTRY_HTTP_ADDR=0.0.0.0:443", "REGISTRY_STORAGE_DELETE_ENABLED=true",
	})
	if err != nil {
		t.Fatalf("image config.yml with env: %v", err)
	}
	if reg.HTTP.Addr != "0.0.0.0:443" || !reg.Storage.Delete.Enabled {
		t.Errorf("env overrides not applied: addr %q delete %v", reg.HTTP.Addr, reg.Storage.Delete.Enabled)
	}
}
