//go:build systools

// Tests against Apache's htpasswd, from Debian's apache2-utils: `make
// test-tools` runs them (CI installs the package).

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/htpasswd"
)

// apache returns the path of Apache's htpasswd (Debian's apache2-utils),
// the program the guides run inside registry:2's image. Our files must be
// read by it and its files by us; without it that is unproven, so the test
// fails.
func apache(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Fatal("Apache's htpasswd is not installed (apt-get install apache2-utils): the compatibility test cannot run")
	}
	return p
}

// apacheVerifies reports whether Apache's htpasswd accepts password for
// user in file.
func apacheVerifies(t *testing.T, file, user, password string) bool {
	t.Helper()
	err := exec.Command(apache(t), "-vb", file, user, password).Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return err == nil
}

func TestSeedLinesWriteWhatApacheAndTheRegistryAccept(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "htpasswd")
	// Seed 003: `htpasswd -Bbn admin westos > auth/htpasswd`, then `>>` for a second user.
	out1, _, code := runOurs(t, "", "-Bbn", "admin", "westos")
	if code != 0 {
		t.Fatalf("-Bbn exit %d", code)
	}
	out2, _, code := runOurs(t, "", "-Bbn", "zhang", "westos")
	if code != 0 {
		t.Fatalf("-Bbn exit %d", code)
	}
	if !strings.HasPrefix(out1, "admin:$2y$10$") {
		t.Errorf("line %q: want Apache's $2y$ form at the default cost 10", out1)
	}
	if err := os.WriteFile(file, []byte(out1+out2), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"admin", "zhang"} {
		if !apacheVerifies(t, file, user, "westos") {
			t.Errorf("Apache's htpasswd refuses our line for %s", user)
		}
		if apacheVerifies(t, file, user, "wrong") {
			t.Errorf("Apache's htpasswd accepts a wrong password for %s", user)
		}
	}
	f, err := htpasswd.Load(file, nil)
	if err != nil {
		t.Fatalf("the registry cannot load the file: %v", err)
	}
	if !authenticates(t, f, "admin", "westos") || authenticates(t, f, "admin", "wrong") {
		t.Error("the registry does not check the written hash")
	}
}

func TestFilesEditedByEitherProgramStayReadableByBoth(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "htpasswd")
	// Apache creates the file with a comment and a user; we add, replace
	// and delete; Apache and the registry read each result.
	if out, err := exec.Command(apache(t), "-Bbc", file, "alice", "a-pass").CombinedOutput(); err != nil {
		t.Fatalf("apache htpasswd: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(file)
	if err := os.WriteFile(file, append([]byte("# team registry users\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o600); err != nil { // a file holding hashes, kept private
		t.Fatal(err)
	}
	if _, stderr, code := runOurs(t, "", "-v", file, "alice"); code != 3 {
		t.Errorf("empty stdin password verified against alice: exit %d (%s)", code, stderr)
	}
	if _, stderr, code := runOurs(t, "a-pass\n", "-vi", file, "alice"); code != 0 {
		t.Errorf("we do not verify Apache's bcrypt line: exit %d (%s)", code, stderr)
	}
	if _, stderr, code := runOurs(t, "", "-Bb", "-C", "5", file, "bob", "b-pass"); code != 0 {
		t.Fatalf("add bob: exit %d (%s)", code, stderr)
	}
	if _, stderr, code := runOurs(t, "new-a-pass\n", "-i", file, "alice"); code != 0 {
		t.Fatalf("replace alice: exit %d (%s)", code, stderr)
	}
	if !apacheVerifies(t, file, "alice", "new-a-pass") || apacheVerifies(t, file, "alice", "a-pass") {
		t.Error("alice's replaced password is not what Apache reads")
	}
	if !apacheVerifies(t, file, "bob", "b-pass") {
		t.Error("Apache does not read bob's line")
	}
	data, _ = os.ReadFile(file)
	if !strings.HasPrefix(string(data), "# team registry users\n") || strings.Count(string(data), "alice:") != 1 {
		t.Errorf("the comment or the single alice line was lost:\n%s", data)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode changed to %v", fi.Mode().Perm())
	}
	if _, stderr, code := runOurs(t, "", "-D", file, "bob"); code != 0 {
		t.Fatalf("delete bob: exit %d (%s)", code, stderr)
	}
	if out, err := exec.Command(apache(t), "-vb", file, "bob", "b-pass").CombinedOutput(); err == nil {
		t.Errorf("bob survived -D: %s", out)
	}
	f, err := htpasswd.Load(file, nil)
	if err != nil {
		t.Fatalf("the registry cannot load the edited file: %v", err)
	}
	if !authenticates(t, f, "alice", "new-a-pass") || f.Users() != 1 {
		t.Errorf("registry reads %d users, alice ok=%v", f.Users(), authenticates(t, f, "alice", "new-a-pass"))
	}
}
