package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
)

// The tests run against real S3 servers started here, never a fake: the
// point is to find out what real servers accept. Each is found through its
// environment variable, then PATH, then $(go env GOPATH)/bin; one that is
// not installed skips its subtests with a hint.

const (
	testAccessKey = "WHARFTESTACCESSKEY"
	testSecretKey = "wharf-test-secret-key-0123456789"
	testBucket    = "wharf-test"
	installHint   = "install it with scripts/s3-servers.sh install (or point %s at the binary)"
)

// serverSpec describes how to run one kind of S3 server.
type serverSpec struct {
	name   string
	env    string // variable naming the binary
	binary string
	// args returns the command line serving dir on addr.
	args func(addr, dir string) []string
	// environ is added to the process environment.
	environ []string
	// ready is the path that answers 200 once the server serves.
	ready string
}

var serverSpecs = []serverSpec{
	{
		name: "versitygw", env: "WHARF_VERSITYGW", binary: "versitygw",
		args: func(addr, dir string) []string {
			return []string{"--port", addr, "--access", testAccessKey, "--secret", testSecretKey, "posix", dir}
		},
	},
	{
		name: "minio", env: "WHARF_MINIO", binary: "minio",
		args: func(addr, dir string) []string {
			return []string{"server", "--quiet", "--address", addr, "--certs-dir", filepath.Join(dir, ".certs"), filepath.Join(dir, "data")}
		},
		environ: []string{
			"MINIO_ROOT_USER=" + testAccessKey, "MINIO_ROOT_PASSWORD=" + testSecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off",
		},
		ready: "/minio/health/live",
	},
}

// server is a running S3 server with testBucket created.
type server struct {
	spec     serverSpec
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
	log      string
}

// running holds the servers TestMain started; missing records why others
// did not start.
var (
	running = map[string]*server{}
	missing = map[string]string{}
)

// findBinary looks for a server's binary as the tests document.
func findBinary(spec serverSpec) string {
	if p := os.Getenv(spec.env); p != "" {
		return p
	}
	if p, err := exec.LookPath(spec.binary); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var dirs []string
	if lines[0] != "" {
		dirs = append(dirs, lines[0])
	}
	if len(lines) > 1 {
		for _, gp := range filepath.SplitList(lines[1]) {
			dirs = append(dirs, filepath.Join(gp, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, spec.binary)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// startServer runs spec's binary on a free loopback port, waits until it
// answers and creates the test bucket. A port taken between probing and
// binding is retried.
func startServer(spec serverSpec, bin, dir string) (*server, error) {
	var lastErr error
	for range 3 {
		srv, err := tryStart(spec, bin, dir)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStart(spec serverSpec, bin, dir string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	data := filepath.Join(dir, spec.name)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, spec.name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, spec.args(addr, data)...)
	cmd.Env = append(os.Environ(), spec.environ...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	srv := &server{spec: spec, endpoint: "http://" + addr, cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(srv.exited) }()
	if err := srv.waitReady(90 * time.Second); err != nil {
		srv.stop()
		return nil, err
	}
	c := srv.client()
	if _, err := c.CreateBucket(context.Background(), &s3sdk.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		srv.stop()
		return nil, fmt.Errorf("%s: creating the bucket: %w", spec.name, err)
	}
	return srv, nil
}

// waitReady polls until the server answers HTTP (200 on its health path,
// when it has one), it exits, or the deadline passes.
func (s *server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			b, _ := os.ReadFile(s.log)
			return fmt.Errorf("%s exited while starting: %s", s.spec.name, lastLines(string(b), 10))
		default:
		}
		resp, err := http.Get(s.endpoint + s.spec.ready)
		if err == nil {
			resp.Body.Close()
			if s.spec.ready == "" || resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v", s.spec.name, limit)
}

func (s *server) stop() {
	s.cmd.Process.Kill()
	<-s.exited
}

// client is a raw SDK client, for checking what the driver put in the
// bucket and for the servers' own throughput figures.
func (s *server) client() *s3sdk.Client {
	return s3sdk.New(s3sdk.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(s.endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// config returns a driver configuration for s under a root directory of
// its own, so tests never see each other's files.
func (s *server) config(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.AccessKey, cfg.SecretKey = testAccessKey, testSecretKey
	cfg.Region, cfg.RegionEndpoint, cfg.Bucket = "us-east-1", s.endpoint, testBucket
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
func eachServer(t *testing.T, f func(t *testing.T, s *server)) {
	for _, spec := range serverSpecs {
		t.Run(spec.name, func(t *testing.T) {
			s := running[spec.name]
			if s == nil {
				t.Skip(missing[spec.name])
			}
			f(t, s)
		})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
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
	for _, spec := range serverSpecs {
		bin := findBinary(spec)
		if bin == "" {
			missing[spec.name] = fmt.Sprintf("%s is not installed: "+installHint, spec.name, spec.env)
			continue
		}
		srv, err := startServer(spec, bin, dir)
		if err != nil {
			// Installed but broken is a failure, not a skip.
			fmt.Fprintf(os.Stderr, "starting %s (%s): %v\n", spec.name, bin, err)
			return 1
		}
		defer srv.stop()
		running[spec.name] = srv
	}
	return m.Run()
}
