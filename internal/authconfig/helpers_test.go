package authconfig

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
)

// writeKeyPair writes a fresh private key and a self-signed certificate for
// it into dir as name.key and name.pem, returning both paths.
func writeKeyPair(t *testing.T, dir, name, kind string) (keyPath, certPath string) {
	t.Helper()
	kp := authtest.WriteKeyPair(t, dir, name, kind)
	return kp.Key, kp.Cert
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	authtest.WriteFile(t, path, content)
}

// writeConfig writes yaml (with tabs turned into two spaces, so tests can
// indent naturally) to dir/auth_config.yml.
func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	p := filepath.Join(dir, "auth_config.yml")
	writeFile(t, p, strings.ReplaceAll(yaml, "\t", "  "))
	return p
}
