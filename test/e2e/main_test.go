//go:build e2e

// Package e2e runs the user's journey of issue 4 against the real Docker
// engine: `docker-compose up` (and `docker compose up`) of the auth server and the registry with TLS,
// docker login, push, pull and run, per-account pull-only rights, curl with
// Bearer tokens, a multi-arch index, restarts that keep the data, and an
// ACL edit that takes effect without restarting anything; and issue 14's
// registry mirror: dockerd's `registry-mirrors` pointed at our registry in
// proxy mode (mirror_test.go, which rewrites the daemon.json named by
// WHARF_E2E_DAEMON_CONFIG: without it that test fails under CI=true and is
// skipped elsewhere, so a developer's daemon is never changed unasked).
//
// Run it with `make e2e`, which builds bin/ and the wharf/*:dev images
// first. It needs root (it writes /etc/docker/certs.d) and a Docker engine;
// without them it FAILS, saying why: it never passes without having run.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory (go test runs in test/e2e).
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}()

// imageTag is the tag of wharf/auth and wharf/registry under test
// (`make images TAG=...`).
var imageTag = envOr("WHARF_E2E_TAG", "dev")

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	if err := preflight(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot run the docker journey: %v\n", err)
		fmt.Fprintln(os.Stderr, "e2e: FAIL (this suite never passes without running)")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// preflight checks everything the journey needs before any of it starts,
// so a missing piece is reported as such rather than as a confusing step
// failure.
func preflight() error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("no docker CLI on PATH")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("no Docker engine reachable: %s", strings.TrimSpace(string(out)))
	}
	if _, err := composeCommands(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: it writes the test CA to /etc/docker/certs.d and gives keys to uid 65532")
	}
	for _, b := range []string{"auth", "certgen"} {
		if _, err := os.Stat(filepath.Join(repoRoot, "bin", b)); err != nil {
			return fmt.Errorf("bin/%s missing: run `make e2e` (it builds bin/ and the images)", b)
		}
	}
	for _, img := range []string{"wharf/auth:" + imageTag, "wharf/registry:" + imageTag} {
		if err := exec.Command("docker", "image", "inspect", img).Run(); err != nil {
			return fmt.Errorf("image %s missing: run `make images` (make e2e does)", img)
		}
	}
	return nil
}

// composeCommands returns the argv prefix of each compose implementation
// the journey runs with, whichever are installed: docker-compose (1.29, as
// in Debian) and the `docker compose` v2 plugin (scripts/compose-v2.sh).
// WHARF_E2E_COMPOSE names a single one instead (e.g. "docker compose").
func composeCommands() ([][]string, error) {
	if c := os.Getenv("WHARF_E2E_COMPOSE"); c != "" {
		return [][]string{strings.Fields(c)}, nil
	}
	var found [][]string
	if _, err := exec.LookPath("docker-compose"); err == nil {
		found = append(found, []string{"docker-compose"})
	}
	switch plugin, err := composePlugin(); {
	case err != nil:
		return nil, err
	case plugin:
		found = append(found, []string{"docker", "compose"})
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("neither docker-compose nor the docker compose plugin is installed (scripts/compose-v2.sh install builds the plugin)")
	}
	return found, nil
}

// composePlugin reports whether `docker compose` works under the journey's
// own DOCKER_CONFIG (a fresh folder, see newStack), which hides
// ~/.docker/cli-plugins: a plugin only there is an error, not a silent
// reason to test one implementation fewer.
func composePlugin() (bool, error) {
	dir, err := os.MkdirTemp("", "wharf-e2e-docker-config-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	hidden := exec.Command("docker", "compose", "version")
	hidden.Env = append(os.Environ(), "DOCKER_CONFIG="+dir)
	if hidden.Run() == nil {
		return true, nil
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return false, fmt.Errorf("the docker compose plugin is only in your DOCKER_CONFIG, which the journey replaces: " +
			"install it in /usr/local/lib/docker/cli-plugins (scripts/compose-v2.sh install)")
	}
	return false, nil
}
