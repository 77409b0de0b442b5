//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// daemonConfigEnv names the daemon.json the mirror test may rewrite. The
// test changes what every pull of a Docker Hub name on this machine does,
// so it runs only when told where (CI: .ci/run sets it for `make e2e`).
const daemonConfigEnv = "WHARF_E2E_DAEMON_CONFIG"

// daemonConfigPath returns the daemon.json the test may rewrite. Without
// WHARF_E2E_DAEMON_CONFIG the test fails under CI, where it must run, and
// is skipped on a developer's machine, whose daemon it must not touch
// unasked.
func daemonConfigPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv(daemonConfigEnv)
	switch {
	case p != "":
		return p
	case os.Getenv("CI") == "true":
		t.Fatalf("%s is not set: CI must name the daemon.json this test may rewrite (.ci/run exports %s=/etc/docker/daemon.json)",
			daemonConfigEnv, daemonConfigEnv)
	default:
		t.Skipf("%s is not set: set it to the daemon.json this test may rewrite (e.g. /etc/docker/daemon.json) to run it", daemonConfigEnv)
	}
	return ""
}

// savedDaemonConfig is what the test keeps beside daemon.json while it
// runs, so a run killed before its cleanup leaves the way back on disk.
type savedDaemonConfig struct {
	Existed bool   `json:"existed"`
	Content string `json:"content"`
}

// useRegistryMirror sets registry-mirrors in the daemon.json at path to
// mirror alone, keeping the file's other settings, and reloads dockerd
// with SIGHUP (no restart: other tests' containers keep running). When the
// test ends the daemon's previous mirrors are reloaded and the file is
// restored byte for byte, or removed if it did not exist.
func useRegistryMirror(t *testing.T, path, mirror string) {
	t.Helper()
	saved := path + ".wharf-e2e-saved"
	if _, err := os.Stat(saved); err == nil {
		t.Fatalf("%s exists: a mirror test is running, or one was killed before its cleanup; "+
			"then restore %s from it (\"existed\", \"content\"), remove it and `kill -HUP $(pidof dockerd)`", saved, path)
	}
	orig, err := os.ReadFile(path)
	existed := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	settings := map[string]any{}
	if existed && strings.TrimSpace(string(orig)) != "" {
		if err := json.Unmarshal(orig, &settings); err != nil {
			t.Fatalf("%s: not JSON, refusing to rewrite it: %v", path, err)
		}
	}
	before := daemonMirrors(t)
	record, _ := json.Marshal(savedDaemonConfig{Existed: existed, Content: string(orig)})
	writeFile(t, saved, record, 0o600)

	t.Cleanup(func() {
		// A daemon.json without registry-mirrors leaves the live value
		// as it is on reload, so the old value is reloaded explicitly
		// first, then the file itself is put back.
		settings["registry-mirrors"] = before
		if err := writeDaemonConfig(path, settings); err != nil {
			t.Errorf("restoring the daemon's mirrors: %v", err)
		} else if err := reloadDaemon(before); err != nil {
			t.Errorf("restoring the daemon's mirrors %v: %v", before, err)
		}
		if existed {
			err = os.WriteFile(path, orig, 0o644)
		} else {
			err = os.Remove(path)
		}
		if err != nil {
			t.Errorf("restoring %s: %v (its original is in %s)", path, err, saved)
			return
		}
		if err := reloadDaemon(before); err != nil {
			t.Errorf("reloading the restored %s: %v", path, err)
		}
		os.Remove(saved)
	})

	settings["registry-mirrors"] = []string{mirror}
	if err := writeDaemonConfig(path, settings); err != nil {
		t.Fatal(err)
	}
	if err := reloadDaemon([]string{mirror + "/"}); err != nil {
		t.Fatalf("dockerd did not take registry-mirrors from %s: %v (its log says why)", path, err)
	}
	t.Logf("dockerd now uses the registry mirror %s (%s)", mirror, path)
}

// writeDaemonConfig replaces the file through a rename, so dockerd never
// reads half of it.
func writeDaemonConfig(path string, settings map[string]any) error {
	data, err := json.MarshalIndent(settings, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".wharf-e2e-new"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// reloadDaemon sends SIGHUP to the one dockerd and waits until `docker
// info` lists want as its mirrors. A reload that fails (a bad file) leaves
// the old mirrors, which this reports after a while.
func reloadDaemon(want []string) error {
	out, err := exec.Command("pidof", "dockerd").Output()
	if err != nil {
		return fmt.Errorf("pidof dockerd: %v", err)
	}
	pids := strings.Fields(string(out))
	if len(pids) != 1 {
		return fmt.Errorf("want one dockerd to reload, found pids %v", pids)
	}
	pid, err := strconv.Atoi(pids[0])
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("SIGHUP to dockerd %d: %v", pid, err)
	}
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got, err = liveMirrors(); err == nil && slices.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("after SIGHUP, docker info lists mirrors %q (%v), want %q", got, err, want)
}

// daemonMirrors is the daemon's registry mirrors now.
func daemonMirrors(t *testing.T) []string {
	t.Helper()
	m, err := liveMirrors()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func liveMirrors() ([]string, error) {
	out, err := exec.Command("docker", "info", "--format", "{{json .RegistryConfig.Mirrors}}").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("docker info: %v: %s", err, out)
	}
	var m []string
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("docker info mirrors %q: %v", out, err)
	}
	if m == nil {
		m = []string{}
	}
	return m, nil
}
