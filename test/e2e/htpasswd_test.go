//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHtpasswdInTheRegistryImageAsInTheGuides runs the guides' command
// (seeds 002 and 003) with our image in place of registry:2's, and checks the
// file it writes with Apache's own htpasswd.
func TestHtpasswdInTheRegistryImageAsInTheGuides(t *testing.T) {
	apache, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Fatal("Apache's htpasswd is not installed (apt-get install apache2-utils)")
	}
	sh := runner{dir: repoRoot}
	line := sh.must(t, "", "docker", "run", "--rm", "--entrypoint", "htpasswd",
		"wharf/registry:"+imageTag, "-Bbn", "testuser", "testpassword")
	if !strings.HasPrefix(line, "testuser:$2y$") {
		t.Fatalf("htpasswd in the image printed %q, want a testuser:$2y$ line", line)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(apache, "-vb", file, "testuser", "testpassword").CombinedOutput(); err != nil {
		t.Fatalf("Apache's htpasswd refuses the line: %v\n%s", err, out)
	}
	if err := exec.Command(apache, "-vb", file, "testuser", "wrong").Run(); err == nil {
		t.Fatal("Apache's htpasswd accepts a wrong password for the line")
	}
}
