package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"testing"

	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// The tests run against real S3 servers started by testkit, never a fake:
// the point is to find out what real servers accept. One that is not
// installed skips its subtests with a hint.

const (
	testAccessKey = "WHARFTESTACCESSKEY"
	testSecretKey = "wharf-test-secret-key-0123456789"
	testBucket    = "wharf-test"
)

// server is a running S3 server with testBucket created.
type server struct {
	*testkit.S3Server
}

// running holds the servers TestMain started; missing records why others
// did not start.
var (
	running = map[string]*server{}
	missing = map[string]string{}
)

// client is a raw SDK client, for checking what the driver put in the
// bucket and for the servers' own throughput figures.
func (s *server) client() *s3sdk.Client { return s.Client() }

// config returns a driver configuration for s under a root directory of
// its own, so tests never see each other's files.
func (s *server) config(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.AccessKey, cfg.SecretKey = testAccessKey, testSecretKey
	cfg.Region, cfg.RegionEndpoint, cfg.Bucket = "us-east-1", s.Endpoint, testBucket
	cfg.Secure, cfg.ForcePathStyle = false, true
	cfg.ChunkSize = MinChunkSize
	cfg.RootDirectory = "/" + uniqueRoot(t) + "/"
	return cfg
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func uniqueRoot(t testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	return "t/" + unsafeChars.ReplaceAllString(t.Name(), "_") + "-" + hex.EncodeToString(b[:])
}

// newDriver returns a driver for cfg, failing the test on error.
func (s *server) newDriver(t testing.TB, cfg Config) *Driver {
	t.Helper()
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// eachServer runs f as a subtest per server kind; kinds not installed are
// skipped with the installation hint.
func eachServer(t *testing.T, f func(t *testing.T, s *server)) { forServers(t, false, f) }

// everyServer is eachServer for tests that guard data: a kind that is not
// installed fails them.
func everyServer(t *testing.T, f func(t *testing.T, s *server)) { forServers(t, true, f) }

func forServers(t *testing.T, required bool, f func(t *testing.T, s *server)) {
	for _, kind := range testkit.S3Kinds {
		t.Run(kind.Name, func(t *testing.T) {
			s := running[kind.Name]
			if s == nil && required {
				t.Fatal(missing[kind.Name])
			}
			if s == nil {
				t.Skip(missing[kind.Name])
			}
			f(t, s)
		})
	}
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wharf-s3-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	servers, err := testkit.StartS3Servers(dir, testkit.S3Setup{AccessKey: testAccessKey, SecretKey: testSecretKey, Bucket: testBucket})
	if err != nil {
		// Installed but broken is a failure, not a skip.
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer servers.Stop()
	for name, srv := range servers.Running {
		running[name] = &server{srv}
	}
	missing = servers.Missing
	return m.Run()
}
