package scaleout

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
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

// setUpAndRun builds cmd/auth and cmd/registry, starts each installed S3
// server once with the bucket created, runs the tests and tears everything
// down.
func setUpAndRun(m *testing.M) int {
	var err error
	binDir, err = os.MkdirTemp("", "wharf-scaleout-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	authBin = filepath.Join(binDir, "auth")
	registryBin = filepath.Join(binDir, "registry")
	if err := testkit.Build(binDir, "./cmd/auth", "./cmd/registry"); err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		return 1
	}
	servers, err := testkit.StartS3Servers(binDir, testkit.S3Setup{AccessKey: s3AccessKey, SecretKey: s3SecretKey, Bucket: s3Bucket})
	if err != nil {
		// Installed but broken is a failure, not a skip.
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		return 1
	}
	defer servers.Stop()
	s3Servers, s3Missing = servers.Running, servers.Missing
	return m.Run()
}

// needS3 returns the named S3 server or fails the test with the hint: the
// servers install with Go alone (make test does it), so a missing one means
// a claim left unproven, not a test to skip.
func needS3(t testing.TB, name string) *s3Server {
	t.Helper()
	s := s3Servers[name]
	if s == nil {
		t.Fatal(s3Missing[name])
	}
	return s
}

// eachS3 runs f as a subtest per S3 server kind; kinds not installed fail.
func eachS3(t *testing.T, f func(t *testing.T, s *s3Server)) {
	for _, kind := range testkit.S3Kinds {
		t.Run(kind.Name, func(t *testing.T) { f(t, needS3(t, kind.Name)) })
	}
}

// everyS3 is eachS3 for tests that guard data: a kind that is not
// installed fails them, with the install hint.
func everyS3(t *testing.T, f func(t *testing.T, s *s3Server)) {
	for _, kind := range testkit.S3Kinds {
		t.Run(kind.Name, func(t *testing.T) {
			s := s3Servers[kind.Name]
			if s == nil {
				t.Fatal(s3Missing[kind.Name])
			}
			f(t, s)
		})
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
