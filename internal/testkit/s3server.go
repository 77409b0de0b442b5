package testkit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Tests run against real S3 servers, never a fake: the point is to find out
// what real servers accept. Each is found through its environment variable,
// then PATH, then $(go env GOBIN) and every $(go env GOPATH)/bin; one that
// is not installed makes its tests skip with S3InstallHint.

// S3InstallHint is the skip message for a server that is not installed,
// formatted with the server's name and the variable naming its binary.
const S3InstallHint = "%s is not installed: install it with scripts/s3-servers.sh install (or point %s at the binary)"

// S3Setup is what a test package starts its S3 servers with: the root
// credentials and the bucket created on each.
type S3Setup struct {
	AccessKey, SecretKey, Bucket string
}

// S3Kind describes how to run one kind of S3 server.
type S3Kind struct {
	Name   string
	Env    string // variable naming the binary
	Binary string // name looked up in PATH and the Go bin directories
	// args returns the command line serving dir on addr.
	args func(addr, dir string, s S3Setup) []string
	// environ is added to the process environment.
	environ func(s S3Setup) []string
	// ready is the path that answers 200 once the server serves ("": any
	// HTTP answer will do).
	ready string
}

// S3Kinds lists the S3 servers the tests know how to run.
var S3Kinds = []S3Kind{
	{
		Name: "versitygw", Env: "WHARF_VERSITYGW", Binary: "versitygw",
		args: func(addr, dir string, s S3Setup) []string {
			return []string{"--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey, "posix", dir}
		},
	},
	{
		Name: "minio", Env: "WHARF_MINIO", Binary: "minio",
		args: func(addr, dir string, _ S3Setup) []string {
			return []string{"server", "--quiet", "--address", addr, "--certs-dir", filepath.Join(dir, ".certs"), filepath.Join(dir, "data")}
		},
		environ: func(s S3Setup) []string {
			return []string{
				"MINIO_ROOT_USER=" + s.AccessKey, "MINIO_ROOT_PASSWORD=" + s.SecretKey,
				"MINIO_BROWSER=off", "MINIO_UPDATE=off",
			}
		},
		ready: "/minio/health/live",
	},
}

// S3Server is a running S3 server with its setup's bucket created.
type S3Server struct {
	Name     string
	Endpoint string // http://127.0.0.1:PORT
	setup    S3Setup
	cmd      *exec.Cmd
	exited   chan struct{}
	log      string
}

// FindS3Binary looks for a server's binary: its variable, PATH, then
// $(go env GOBIN) and every $(go env GOPATH)/bin. It returns "" when there
// is none.
func FindS3Binary(k S3Kind) string {
	if p := os.Getenv(k.Env); p != "" {
		return p
	}
	if p, err := exec.LookPath(k.Binary); err == nil {
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
		p := filepath.Join(d, k.Binary)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// StartS3 runs k's binary bin on a free loopback port with its data and log
// under dir, waits until it answers and creates the bucket. A port taken
// between probing and binding is retried.
func StartS3(k S3Kind, bin, dir string, s S3Setup) (*S3Server, error) {
	var lastErr error
	for range 3 {
		srv, err := tryStartS3(k, bin, dir, s)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStartS3(k S3Kind, bin, dir string, s S3Setup) (*S3Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	data := filepath.Join(dir, k.Name)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, k.Name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, k.args(addr, data, s)...)
	cmd.Env = os.Environ()
	if k.environ != nil {
		cmd.Env = append(cmd.Env, k.environ(s)...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	srv := &S3Server{Name: k.Name, Endpoint: "http://" + addr, setup: s, cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(srv.exited) }()
	if err := srv.waitReady(k.ready, 90*time.Second); err != nil {
		srv.Stop()
		return nil, err
	}
	if _, err := srv.Client().CreateBucket(context.Background(), &s3sdk.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("%s: creating the bucket: %w", k.Name, err)
	}
	return srv, nil
}

// waitReady polls until the server answers (200 on its ready path, when it
// has one), it exits, or the deadline (a guard against hangs, not a speed
// check) passes.
func (s *S3Server) waitReady(ready string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			b, _ := os.ReadFile(s.log)
			return fmt.Errorf("%s exited while starting: %s", s.Name, Tail(string(b), 10))
		default:
		}
		resp, err := http.Get(s.Endpoint + ready)
		if err == nil {
			resp.Body.Close()
			if ready == "" || resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v", s.Name, limit)
}

// Stop kills the server by its PID and waits until it is gone.
func (s *S3Server) Stop() {
	s.cmd.Process.Kill()
	<-s.exited
}

// Client is a raw SDK client with the root credentials, for creating
// buckets and for checking what a driver put in the bucket.
func (s *S3Server) Client() *s3sdk.Client {
	return s3sdk.New(s3sdk.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.setup.AccessKey, s.setup.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// S3Servers are the servers a TestMain started, one per installed kind,
// shared by every test of the package.
type S3Servers struct {
	// Running holds the started servers by kind name.
	Running map[string]*S3Server
	// Missing holds, by kind name, why a kind was not started (the
	// install hint).
	Missing map[string]string
}

// StartS3Servers starts every installed kind of S3Kinds with s, data and
// logs under dir. A kind that is installed but does not start is an error,
// not a skip; the servers already started are then stopped.
func StartS3Servers(dir string, s S3Setup) (*S3Servers, error) {
	all := &S3Servers{Running: map[string]*S3Server{}, Missing: map[string]string{}}
	for _, k := range S3Kinds {
		bin := FindS3Binary(k)
		if bin == "" {
			all.Missing[k.Name] = fmt.Sprintf(S3InstallHint, k.Name, k.Env)
			continue
		}
		srv, err := StartS3(k, bin, dir, s)
		if err != nil {
			all.Stop()
			return nil, fmt.Errorf("starting %s (%s): %v", k.Name, bin, err)
		}
		all.Running[k.Name] = srv
	}
	return all, nil
}

// Stop stops every running server.
func (all *S3Servers) Stop() {
	for _, srv := range all.Running {
		srv.Stop()
	}
}
