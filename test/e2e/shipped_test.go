//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShippedComposeConfigRefusesToStart runs the auth image on the compose
// config exactly as shipped: it holds no password, only CHANGE-ME values,
// so the server must refuse it, naming each line to fix.
func TestShippedComposeConfigRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(dir, "certs")
	sh := runner{dir: repoRoot}
	sh.must(t, "", filepath.Join(repoRoot, "bin", "certgen"), "--out", certs, "--owner", "65532:65532")
	// Each problem names the file as mounted, the line and the field.
	shipped, err := os.ReadFile(filepath.Join(repoRoot, "configs", "compose", "auth", "auth_config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, line := range strings.Split(string(shipped), "\n") {
		for _, user := range []string{"admin", "reader"} {
			if strings.Contains(line, `"CHANGE-ME-`+user) {
				want = append(want, fmt.Sprintf("/config/auth_config.yml:%d: users.%s.password: not a bcrypt hash", i+1, user))
			}
		}
	}
	if len(want) != 2 {
		t.Fatalf("the shipped config should hold two CHANGE-ME passwords, found %d", len(want))
	}
	out := sh.mustFail(t, "", want,
		"docker", "run", "--rm",
		"-v", filepath.Join(repoRoot, "configs", "compose", "auth")+":/config:ro",
		"-v", certs+":/certs:ro",
		"wharf/auth:"+imageTag, "validate", "/config/auth_config.yml")
	if strings.Contains(out, "listening") {
		t.Fatalf("the server started with the placeholder config:\n%s", out)
	}
}

// TestImagesRunAsNonRootLikeRegistry2 checks the shipped images' metadata:
// non-root, and the registry:2 / docker_auth entry points that existing
// `docker run` lines and compose files rely on.
func TestImagesRunAsNonRootLikeRegistry2(t *testing.T) {
	sh := runner{dir: repoRoot}
	for _, tc := range []struct {
		image, want string
	}{
		{"wharf/auth:" + imageTag, "65532:65532 [/auth] [/config/auth_config.yml] map[]"},
		{"wharf/registry:" + imageTag, "65532:65532 [/bin/registry] [serve /etc/docker/registry/config.yml] map[/var/lib/registry:{}]"},
	} {
		t.Run(tc.image, func(t *testing.T) {
			got := strings.TrimSpace(sh.must(t, "", "docker", "image", "inspect", "-f",
				"{{.Config.User}} {{.Config.Entrypoint}} {{.Config.Cmd}} {{.Config.Volumes}}", tc.image))
			if got != tc.want {
				t.Fatalf("image config %q, want %q", got, tc.want)
			}
		})
	}
}
