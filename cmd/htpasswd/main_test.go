package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/htpasswd"
)

// authenticates asks the registry's htpasswd checker, as a login from
// loopback would.
func authenticates(t *testing.T, f *htpasswd.File, user, password string) bool {
	t.Helper()
	ok, err := f.Authenticate(context.Background(), user, password, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func runOurs(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// The line the guides' `htpasswd -Bbn` prints: Apache's $2y$ form, read by
// the registry. (Apache's own htpasswd checks it in apache_test.go.)
func TestBatchLineIsBcryptTheRegistryReads(t *testing.T) {
	out, stderr, code := runOurs(t, "", "-Bbn", "admin", "westos")
	if code != 0 || !strings.HasPrefix(out, "admin:$2y$10$") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("exit %d, line %q (%s): want one admin:$2y$10$ line", code, out, stderr)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := htpasswd.Load(file, nil)
	if err != nil {
		t.Fatalf("the registry cannot load the line: %v", err)
	}
	if !authenticates(t, f, "admin", "westos") || authenticates(t, f, "admin", "wrong") {
		t.Error("the registry does not check the written hash")
	}
}

func TestWeakHashesAndBadArgumentsAreRefused(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"MD5", []string{"-mbn", "u", "p"}, 2, "only bcrypt"},
		{"plaintext", []string{"-pbn", "u", "p"}, 2, "only bcrypt"},
		{"SHA-512 rounds", []string{"-5", "-r", "5000", "-bn", "u", "p"}, 2, "only bcrypt"},
		{"cost too high", []string{"-Bbn", "-C", "40", "u", "p"}, 2, "cost"},
		{"missing password operand", []string{"-Bbn", "u"}, 2, "wrong number"},
		{"user with a colon", []string{"-Bbn", "a:b", "p"}, 1, "may not"},
		{"update of a missing file", []string{"-Bb", missing, "u", "p"}, 1, "use -c"},
		{"-n with -c", []string{"-cn", "u"}, 2, "cannot go with"},
		{"password over 72 bytes", []string{"-Bbn", "u", strings.Repeat("x", 73)}, 1, "72 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runOurs(t, "", tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, stderr, tt.code, tt.want)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a refused update created the file")
	}
}
