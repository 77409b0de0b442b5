//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// service is the token service name shared by configs/compose (auth's
// token.services, the registry's auth.token.service).
const service = "registry.local"

// stack is one docker-compose project of deploy/compose under test, with its
// own certificates, auth config, ports, volume and docker CLI config.
type stack struct {
	project      string
	dir          string // private temp dir: certs/, auth/, docker/ (DOCKER_CONFIG), build contexts
	certs        string
	authDir      string
	regPort      int
	authPort     int
	adminPass    string
	readerPass   string
	compose      []string // argv prefix: compose implementation, -p, -f
	sh           runner   // runs docker and compose with the stack's environment
	trustedPaths []string // files written under /etc/docker/certs.d
}

// registry is host:port as docker and clients address the registry.
func (s *stack) registry() string { return "localhost:" + strconv.Itoa(s.regPort) }

// authURL is the token endpoint (the realm).
func (s *stack) authURL() string { return "https://localhost:" + strconv.Itoa(s.authPort) + "/auth" }

// ref names repo:tag in the registry under test.
func (s *stack) ref(repoTag string) string { return s.registry() + "/" + repoTag }

// newStack prepares certificates and config, trusts the CA, starts the
// compose project and waits until both services are healthy. Everything it
// creates is removed when the test ends (`down -v`); on failure the compose
// logs are printed first.
func newStack(t *testing.T, compose []string) *stack {
	t.Helper()
	dir, err := os.MkdirTemp("", "wharf-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The containers run as uid 65532 and must traverse into the bind mounts.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &stack{
		project:    "wharfe2e" + randHex(4),
		dir:        dir,
		certs:      filepath.Join(dir, "certs"),
		authDir:    filepath.Join(dir, "auth"),
		adminPass:  "admin-" + randHex(8),
		readerPass: "reader-" + randHex(8),
	}
	s.regPort, s.authPort = freePorts(t)
	s.compose = append(compose, "-p", s.project, "-f", filepath.Join(repoRoot, "deploy", "compose", "docker-compose.yml"))
	s.sh = runner{dir: repoRoot, env: []string{
		"DOCKER_CONFIG=" + filepath.Join(dir, "docker"), // our logins stay out of ~/.docker
		"DOCKER_BUILDKIT=0",
		"WHARF_TAG=" + imageTag,
		"WHARF_HOST=localhost",
		"WHARF_BIND=127.0.0.1",
		"WHARF_REGISTRY_PORT=" + strconv.Itoa(s.regPort),
		"WHARF_AUTH_PORT=" + strconv.Itoa(s.authPort),
		"WHARF_CERTS_DIR=" + s.certs,
		"AUTH_CONFIG_DIR=" + s.authDir,
		"REGISTRY_CONFIG_DIR=" + filepath.Join(repoRoot, "configs", "compose", "registry"),
	}}
	if err := os.MkdirAll(filepath.Join(dir, "docker"), 0o700); err != nil {
		t.Fatal(err)
	}

	// The user's setup steps: certificates, then passwords into a config.
	s.sh.must(t, "", filepath.Join(repoRoot, "bin", "certgen"), "--out", s.certs, "--owner", "65532:65532")
	s.sh.must(t, "", "env", "ADMIN_PASSWORD="+s.adminPass, "READER_PASSWORD="+s.readerPass,
		"BCRYPT_COST=10", "AUTH_BIN="+filepath.Join(repoRoot, "bin", "auth"),
		filepath.Join(repoRoot, "deploy", "compose", "setup.sh"))
	s.trust(t)

	t.Cleanup(func() { s.down(t) })
	s.sh.must(t, "", s.composeArgs("up", "-d")...)
	s.waitHealthy(t)
	return s
}

// composeArgs is the full argv of a compose subcommand for this project.
func (s *stack) composeArgs(args ...string) []string {
	return append(append([]string{}, s.compose...), args...)
}

// trustMarker marks a certs.d directory as made by this suite, so a run
// killed before its cleanup does not block the next one.
const trustMarker = ".wharf-e2e"

// trust installs the test CA where the Docker daemon looks for it, for both
// the registry and the realm, as a user following the README would.
func (s *stack) trust(t *testing.T) {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(s.certs, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{s.regPort, s.authPort} {
		d := filepath.Join("/etc/docker/certs.d", "localhost:"+strconv.Itoa(port))
		marker := filepath.Join(d, trustMarker)
		if _, err := os.Stat(d); err == nil {
			if _, err := os.Stat(marker); err != nil {
				t.Fatalf("%s already exists: refusing to overwrite someone's trust settings", d)
			}
			os.RemoveAll(d) // left by an earlier run that was killed before its cleanup
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("cannot trust the test CA: %v", err)
		}
		s.trustedPaths = append(s.trustedPaths, d)
		writeFile(t, marker, nil, 0o644)
		writeFile(t, filepath.Join(d, "ca.crt"), ca, 0o644)
	}
}

// down removes the project with its volume, after printing the logs when
// the test failed, and forgets the CA.
func (s *stack) down(t *testing.T) {
	if t.Failed() {
		r := s.sh.quiet("", s.composeArgs("logs", "--no-color", "--timestamps")...)
		fmt.Fprintf(os.Stderr, "---- compose logs of %s ----\n%s\n----\n", s.project, r.out)
	}
	s.sh.run(t, "", s.composeArgs("down", "-v", "--remove-orphans", "--timeout", "10")...)
	for _, d := range s.trustedPaths {
		os.RemoveAll(d)
	}
}

// containerID returns the id of a service's container ("" when none),
// stopped or running: `docker compose` v2 lists only running ones without
// -a (docker-compose 1.29 lists both, and takes -a too).
func (s *stack) containerID(t *testing.T, svc string) string {
	t.Helper()
	return strings.TrimSpace(s.sh.mustQuiet(t, s.composeArgs("ps", "-a", "-q", svc)...))
}

// waitHealthy waits until both containers report healthy (their compose
// healthchecks run bin/healthcheck against /healthz over TLS).
func (s *stack) waitHealthy(t *testing.T) {
	t.Helper()
	for _, svc := range []string{"auth", "registry"} {
		poll(t, 90*time.Second, svc+" healthy", func() error {
			id := s.containerID(t, svc)
			if id == "" {
				return errors.New("no container")
			}
			r := s.sh.quiet("", "docker", "inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", id)
			state := strings.TrimSpace(r.out)
			switch {
			case !r.ok():
				return errors.New(r.out)
			case state == "running healthy":
				return nil
			case strings.HasPrefix(state, "exited") || strings.HasSuffix(state, "unhealthy"):
				logs := s.sh.quiet("", s.composeArgs("logs", "--no-color", svc)...)
				t.Fatalf("%s is %s; its log:\n%s", svc, state, logs.out)
			}
			return fmt.Errorf("state %q", state)
		})
	}
}

// startedAt identifies one run of a container: it changes on any restart.
func (s *stack) startedAt(t *testing.T, svc string) string {
	t.Helper()
	id := s.containerID(t, svc)
	return strings.TrimSpace(s.sh.mustQuiet(t, "docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}} {{.RestartCount}}", id))
}

// logs returns a service's log so far.
func (s *stack) logs(t *testing.T, svc string) string {
	t.Helper()
	return s.sh.mustQuiet(t, s.composeArgs("logs", "--no-color", svc)...)
}

// authConfigPath is the mounted auth config the journey edits.
func (s *stack) authConfigPath() string { return filepath.Join(s.authDir, "auth_config.yml") }

// editAuthConfig rewrites the mounted auth config through a temporary file
// and a rename, as editors and Kubernetes do: the container sees the change
// only because the directory, not the file, is mounted.
func (s *stack) editAuthConfig(t *testing.T, edit func(string) string) {
	t.Helper()
	path := s.authConfigPath()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	updated := edit(string(old))
	if updated == string(old) {
		t.Fatal("edit changed nothing")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(updated), fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	// Keep the owner setup.sh chose (group 65532 may read it).
	if err := os.Chown(tmp, 0, 65532); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// freePorts returns the registry and auth ports: 5000 and 5001 when free
// (what the README shows), otherwise two ports the kernel picks.
func freePorts(t *testing.T) (int, int) {
	t.Helper()
	if portFree(5000) && portFree(5001) {
		return 5000, 5001
	}
	var ports []int
	for len(ports) < 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		defer l.Close()
	}
	t.Logf("ports 5000/5001 are busy; using %d and %d", ports[0], ports[1])
	return ports[0], ports[1]
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// writeFile writes a file, failing the test on error.
func writeFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}
