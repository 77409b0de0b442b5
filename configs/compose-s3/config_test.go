// Package composes3 holds the files of deploy/compose/docker-compose.s3.yml
// (no Go code). Its test loads them with the registry's real config loader
// and checks that the compose file, the registries' config, the versitygw
// image and the main compose variant's auth setup agree, so the variant
// cannot drift while nothing runs it in CI.
package composes3

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/internal/regconfig"
)

// composeFile is the subset of docker-compose.s3.yml the test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string                   `yaml:"image"`
		Build       struct{ Context string } `yaml:"build"`
		Volumes     []string                 `yaml:"volumes"`
		Environment map[string]string        `yaml:"environment"`
		Ports       []string                 `yaml:"ports"`
		Profiles    []string                 `yaml:"profiles"`
	} `yaml:"services"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("../../deploy/compose/docker-compose.s3.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.s3.yml: %v", err)
	}
	return c
}

// loadRegistryConfig loads registry/config.yml as a replica does: with
// the certificates in place and the variables the compose file sets.
func loadRegistryConfig(t *testing.T, env map[string]string) *regconfig.Config {
	t.Helper()
	dir := t.TempDir()
	writeCert(t, dir)
	data, err := os.ReadFile("registry/config.yml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(data), "/certs/", dir+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+substitute(v))
	}
	c, err := regconfig.Load(path, environ)
	if err != nil {
		t.Fatalf("registry/config.yml with the compose environment: %v", err)
	}
	return c
}

// substitute does compose's variable substitution with nothing set:
// ${VAR:-default} is the default, and a required ${VAR:?message} stands
// for a value the user put in .env.
func substitute(v string) string {
	return variable.ReplaceAllStringFunc(v, func(m string) string {
		sub := variable.FindStringSubmatch(m)
		if sub[2] == ":-" {
			return sub[3]
		}
		return "value-of-" + sub[1]
	})
}

var variable = regexp.MustCompile(`\$\{([A-Z0-9_]+)(:[-?])?([^}]*)\}`)

func TestReplicasShareOneBucketOfTheGateway(t *testing.T) {
	compose := readCompose(t)
	var replicas []string
	for name, svc := range compose.Services {
		if strings.HasPrefix(svc.Image, "wharf/registry:") {
			replicas = append(replicas, name)
		}
	}
	slices.Sort(replicas)
	if len(replicas) < 2 {
		t.Fatalf("registry services %v, want at least two", replicas)
	}
	var ports []string
	for _, name := range replicas {
		svc := compose.Services[name]
		if !slices.ContainsFunc(svc.Volumes, func(v string) bool { return strings.Contains(v, "configs/compose-s3/registry}:/etc/docker/registry") }) {
			t.Errorf("%s does not mount configs/compose-s3/registry: %v", name, svc.Volumes)
		}
		ports = append(ports, svc.Ports...)
		c := loadRegistryConfig(t, svc.Environment)
		s3 := c.Storage.S3
		if s3 == nil {
			t.Fatalf("%s: storage driver %s, want s3", name, c.Storage.Driver())
		}
		if s3.RegionEndpoint != "http://s3:7070" || !s3.ForcePathStyle || s3.AccessKey == "" || s3.SecretKey == "" {
			t.Errorf("%s: endpoint %q, path style %v, keys set %v", name, s3.RegionEndpoint, s3.ForcePathStyle, s3.AccessKey != "" && s3.SecretKey != "")
		}
		if c.Storage.Redirect.On() {
			t.Errorf("%s: redirects to http://s3:7070 would send clients to a name only the compose network resolves", name)
		}
		if len(c.Warnings) != 0 {
			t.Errorf("%s: warnings %q", name, c.Warnings)
		}
		// The gateway's image ships the bucket as a directory.
		if fi, err := os.Stat(filepath.Join("versitygw/rootfs/data", s3.Bucket)); err != nil || !fi.IsDir() {
			t.Errorf("bucket %q is not a directory of versitygw/rootfs/data: %v", s3.Bucket, err)
		}
	}
	slices.Sort(ports)
	if len(slices.Compact(slices.Clone(ports))) != len(ports) {
		t.Errorf("replicas publish the same port: %v", ports)
	}
	s3svc, ok := compose.Services["s3"]
	if !ok || s3svc.Build.Context != "../../configs/compose-s3/versitygw" {
		t.Fatalf("no s3 service built from configs/compose-s3/versitygw")
	}
	if _, err := os.Stat("versitygw/Dockerfile"); err != nil {
		t.Error(err)
	}
	if lb := compose.Services["lb"]; !slices.Equal(lb.Profiles, []string{"lb"}) {
		t.Errorf("the nginx service must stay behind the lb profile (no image pulls offline), has %v", lb.Profiles)
	}
}

// The S3 variant uses the main variant's auth service and certificates: its
// token section must be the main registry config's.
func TestTokenSettingsMatchTheMainComposeVariant(t *testing.T) {
	read := func(path string) map[string]any {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Auth map[string]any `yaml:"auth"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return doc.Auth
	}
	main, s3 := read("../compose/registry/config.yml"), read("registry/config.yml")
	if a, b := yamlString(t, main), yamlString(t, s3); a != b {
		t.Errorf("auth sections differ:\n../compose/registry/config.yml:\n%s\nregistry/config.yml:\n%s", a, b)
	}
}

func yamlString(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeCert writes a self-signed P-256 certificate and key as
// server.{crt,key} and token.{crt,key} in dir, as `make certs` names them.
func writeCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"server", "token"} {
		if err := os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
