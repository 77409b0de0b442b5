package integration

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// The accounts of seed 002 §7.3: its auth_config.yml holds the hashes that
// `htpasswd -Bbn admin adminpassword` and `htpasswd -Bbn reader
// readerpassword` printed there.
var (
	seedAdmin  = account{"admin", "adminpassword"}
	seedReader = account{"reader", "readerpassword"}
)

// TestSeed002TokenDeploymentWorksUnchanged runs seed 002 §7: cmd/auth with the
// §7.4 auth_config.yml exactly as written (only the listen address and the
// /ssl paths moved into the test's directory) and cmd/registry with nothing
// but the §7.5 compose `environment:` list, quotes included
// (REGISTRY_AUTH_TOKEN_SERVICE="Docker registry"). Both serve TLS with the
// one self-signed server.pem, which also signs and anchors the tokens, as
// docker_auth does when `token:` names no certificate of its own.
func TestSeed002TokenDeploymentWorksUnchanged(t *testing.T) {
	t.Parallel()
	seedConfig, err := os.ReadFile("testdata/seed002_auth_config.yml")
	if err != nil {
		t.Fatal(err)
	}
	checkSeedHashes(t, seedConfig)

	host, roots := startSeed002(t, seedConfig)
	adminClient := newClient(t, seedAdmin, roots)
	readerClient := newClient(t, seedReader, roots)
	nginx := ref(t, host+"/nginx:latest")
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("admin pushes nginx and another repository", func(t *testing.T) {
		if err := remote.Write(nginx, img, adminClient.opts...); err != nil {
			t.Fatalf("push %s as admin: %v", nginx, err)
		}
		if err := remote.Write(ref(t, host+"/centos:latest"), img, adminClient.opts...); err != nil {
			t.Fatalf("push centos as admin: %v", err)
		}
	})

	t.Run("reader pulls nginx", func(t *testing.T) {
		got, err := remote.Image(nginx, readerClient.opts...)
		if err != nil {
			t.Fatalf("pull %s as reader: %v", nginx, err)
		}
		assertSameImage(t, img, got)
	})

	t.Run("reader cannot pull other repositories", func(t *testing.T) {
		_, err := remote.Image(ref(t, host+"/centos:latest"), readerClient.opts...)
		wantHTTPError(t, "pull centos as reader", err, 401, transport.UnauthorizedErrorCode)
	})

	t.Run("reader cannot push", func(t *testing.T) {
		other, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		err = remote.Write(ref(t, host+"/nginx:reader"), other, readerClient.opts...)
		wantHTTPError(t, "push nginx as reader", err, 401, transport.UnauthorizedErrorCode)
	})

	t.Run("anonymous is allowed in but granted nothing", func(t *testing.T) {
		_, err := remote.Image(nginx, newClient(t, account{}, roots).opts...)
		wantHTTPError(t, "anonymous pull of nginx", err, 401, transport.UnauthorizedErrorCode)
	})
}

// startSeed002 starts seed 002 §7's auth server, reading seedConfig (the
// §7.4 auth_config.yml) in the compose file's way, and its registry, and
// returns the registry's host:port and the TLS configuration that trusts
// both.
func startSeed002(t *testing.T, seedConfig []byte) (string, *tls.Config) {
	t.Helper()
	s := startSeed002Stack(t, seedConfig)
	return s.host, s.roots
}

// seed002Stack is a running seed 002 deployment.
type seed002Stack struct {
	host    string      // the registry's host:port
	roots   *tls.Config // trusts both servers
	realm   string      // the auth server's token endpoint
	cert    string      // server.pem: TLS, token signing and rootcertbundle
	storage string      // the registry's storage root
}

func startSeed002Stack(t *testing.T, seedConfig []byte) seed002Stack {
	t.Helper()
	ssl := t.TempDir()
	key := newKey(t, rsa2048)
	cert := selfSigned(t, key, []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	testkit.WriteFile(t, ssl, "server.pem", certPEM(cert))
	testkit.WriteFile(t, ssl, "server.key", keyPEM(t, key, true))
	roots := clientTLS(cert)

	configDir := t.TempDir()
	auth := start(t, server{
		name: "auth (seed 002 §7.4)",
		bin:  authBin,
		args: func(port int) []string {
			cfg := replaceExactlyOnce(t, string(seedConfig),
				`":5001"`, `"127.0.0.1:`+strconv.Itoa(port)+`"`,
				`"/ssl/server.pem"`, strconv.Quote(filepath.Join(ssl, "server.pem")),
				`"/ssl/server.key"`, strconv.Quote(filepath.Join(ssl, "server.key")))
			// The compose file's `command: /config/auth_config.yml`.
			return []string{testkit.WriteFile(t, configDir, "auth_config.yml", []byte(cfg))}
		},
		env: noEnv,
		tls: roots,
	})

	environment := seedComposeEnvironment(t, "testdata/seed002_registry-auth.yml", "registry")
	data := t.TempDir()
	reg := start(t, server{
		name: "registry (seed 002 §7.5)",
		bin:  registryBin,
		args: func(int) []string { return nil },
		env: func(port int) []string {
			env := substituteEnv(environment,
				"=/var/lib/registry", "="+data,
				"https://192.168.211.15:5001/auth", auth.URL("https")+"/auth",
				"=/ssl/", "="+ssl+"/")
			// The container listened on its default :5000; here the
			// address is the only addition.
			return append(env, "REGISTRY_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port))
		},
		tls: roots,
	})

	return seed002Stack{host: reg.Host(), roots: roots, realm: auth.URL("https") + "/auth",
		cert: filepath.Join(ssl, "server.pem"), storage: data}
}

// checkSeedHashes proves the seed's password hashes are the real output of
// `htpasswd -B` for the passwords the seed types, so the test logs in with
// exactly what the user would.
func checkSeedHashes(t *testing.T, config []byte) {
	t.Helper()
	var doc struct {
		Users map[string]struct {
			Password string `yaml:"password"`
		} `yaml:"users"`
	}
	if err := yaml.Unmarshal(config, &doc); err != nil {
		t.Fatalf("seed auth_config.yml: %v", err)
	}
	for _, a := range []account{seedAdmin, seedReader} {
		h := doc.Users[a.name].Password
		if !strings.HasPrefix(h, "$2y$05$") {
			t.Fatalf("seed hash of %s is %q; want htpasswd -B's $2y$05$ form", a.name, h)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(a.password)); err != nil {
			t.Fatalf("seed hash of %s does not match %q: %v", a.name, a.password, err)
		}
	}
}

// seedComposeEnvironment returns a service's `environment:` list from a
// compose file, each entry exactly as written (YAML plain scalars keep the
// quotes of `KEY="a b"`, as docker-compose does).
func seedComposeEnvironment(t *testing.T, file, service string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var compose map[string]struct {
		Environment []string `yaml:"environment"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	env := compose[service].Environment
	if len(env) == 0 {
		t.Fatalf("%s: service %q has no environment", file, service)
	}
	return env
}

// replaceExactlyOnce replaces each old with new, failing the test unless
// every old occurs exactly once: the seed must stay otherwise untouched.
func replaceExactlyOnce(t *testing.T, s string, oldnew ...string) string {
	t.Helper()
	for i := 0; i < len(oldnew); i += 2 {
		if n := strings.Count(s, oldnew[i]); n != 1 {
			t.Fatalf("seed text holds %q %d times; want exactly once", oldnew[i], n)
		}
		s = strings.Replace(s, oldnew[i], oldnew[i+1], 1)
	}
	return s
}
