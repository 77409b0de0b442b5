package scaleout

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// What TestMain prepares for every test: the built programs and the S3
// servers that are installed.
var (
	binDir      string
	authBin     string
	registryBin string
	s3Servers   = map[string]*s3Server{}
	s3Missing   = map[string]string{}
)

func TestMain(m *testing.M) {
	os.Exit(setUpAndRun(m))
}

// setUpAndRun builds cmd/auth and cmd/registry (a plain build: -race would
// triple the build time on two cores and the race detector watches the
// test process, not these), starts each installed S3 server once with the
// bucket created, runs the tests and tears everything down.
func setUpAndRun(m *testing.M) int {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		fmt.Fprintf(os.Stderr, "scaleout: cannot find the module root: %v\n", err)
		return 1
	}
	moduleDir := filepath.Dir(strings.TrimSpace(string(out)))
	binDir, err = os.MkdirTemp("", "wharf-scaleout-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	authBin = filepath.Join(binDir, "auth")
	registryBin = filepath.Join(binDir, "registry")
	for pkg, bin := range map[string]string{"./cmd/auth": authBin, "./cmd/registry": registryBin} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Dir = moduleDir
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "scaleout: go build %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	for _, spec := range s3Specs {
		bin := findBinary(spec)
		if bin == "" {
			s3Missing[spec.name] = fmt.Sprintf("%s is not installed: "+installHint, spec.name, spec.env)
			continue
		}
		srv, err := startS3(spec, bin, binDir)
		if err != nil {
			// Installed but broken is a failure, not a skip.
			fmt.Fprintf(os.Stderr, "scaleout: starting %s (%s): %v\n", spec.name, bin, err)
			return 1
		}
		defer srv.stop()
		s3Servers[spec.name] = srv
	}
	return m.Run()
}

// needS3 returns the named S3 server or skips the test with the hint.
func needS3(t testing.TB, name string) *s3Server {
	t.Helper()
	s := s3Servers[name]
	if s == nil {
		t.Skip(s3Missing[name])
	}
	return s
}

// eachS3 runs f as a subtest per S3 server kind; kinds not installed skip.
func eachS3(t *testing.T, f func(t *testing.T, s *s3Server)) {
	for _, spec := range s3Specs {
		t.Run(spec.name, func(t *testing.T) { f(t, needS3(t, spec.name)) })
	}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// uniqueRoot is a root directory in the bucket for one test, so tests sharing
// a server never see each other's repositories.
func uniqueRoot(t testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	return "scaleout/" + unsafeChars.ReplaceAllString(t.Name(), "_") + "-" + hex.EncodeToString(b[:])
}
