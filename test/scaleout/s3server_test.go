package scaleout

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

// The S3 servers, started once for the whole package by TestMain and shared
// by every test, each test under a root directory of its own.

const (
	s3AccessKey = "WHARFSCALEOUTKEY"
	s3SecretKey = "wharf-scaleout-secret-0123456789"
	s3Bucket    = "wharf-scaleout"
	installHint = "install it with scripts/s3-servers.sh install (or point %s at the binary)"
)

// s3Spec describes how to run one kind of S3 server.
type s3Spec struct {
	name   string
	env    string // variable naming the binary
	binary string
	// args returns the command line serving dir on addr.
	args    func(addr, dir string) []string
	environ []string
	// ready is the path that answers 200 once the server serves ("": any
	// HTTP answer will do).
	ready string
}

var s3Specs = []s3Spec{
	{
		name: "versitygw", env: "WHARF_VERSITYGW", binary: "versitygw",
		args: func(addr, dir string) []string {
			return []string{"--port", addr, "--access", s3AccessKey, "--secret", s3SecretKey, "posix", dir}
		},
	},
	{
		name: "minio", env: "WHARF_MINIO", binary: "minio",
		args: func(addr, dir string) []string {
			return []string{"server", "--quiet", "--address", addr, "--certs-dir", filepath.Join(dir, ".certs"), filepath.Join(dir, "data")}
		},
		environ: []string{
			"MINIO_ROOT_USER=" + s3AccessKey, "MINIO_ROOT_PASSWORD=" + s3SecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off",
		},
		ready: "/minio/health/live",
	},
}

// s3Server is a running S3 server with s3Bucket created.
type s3Server struct {
	name     string
	endpoint string // http://127.0.0.1:PORT
	cmd      *exec.Cmd
	exited   chan struct{}
	log      string
}

// findBinary looks for a server's binary: its variable, PATH, then
// $(go env GOBIN) and every $(go env GOPATH)/bin.
func findBinary(spec s3Spec) string {
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

// startS3 runs spec's binary on a free loopback port, retrying when another
// process takes the port between probing and binding.
func startS3(spec s3Spec, bin, dir string) (*s3Server, error) {
	var lastErr error
	for range 3 {
		srv, err := tryStartS3(spec, bin, dir)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStartS3(spec s3Spec, bin, dir string) (*s3Server, error) {
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
	srv := &s3Server{name: spec.name, endpoint: "http://" + addr, cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(srv.exited) }()
	if err := srv.waitReady(spec.ready, 90*time.Second); err != nil {
		srv.stop()
		return nil, err
	}
	if _, err := srv.client().CreateBucket(context.Background(), &s3sdk.CreateBucketInput{Bucket: aws.String(s3Bucket)}); err != nil {
		srv.stop()
		return nil, fmt.Errorf("%s: creating the bucket: %w", spec.name, err)
	}
	return srv, nil
}

// waitReady polls until the server answers, it exits, or the deadline (a
// guard against hangs, not a speed check) passes.
func (s *s3Server) waitReady(ready string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			b, _ := os.ReadFile(s.log)
			return fmt.Errorf("%s exited while starting: %s", s.name, tail(string(b), 10))
		default:
		}
		resp, err := http.Get(s.endpoint + ready)
		if err == nil {
			resp.Body.Close()
			if ready == "" || resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v", s.name, limit)
}

func (s *s3Server) stop() {
	s.cmd.Process.Kill()
	<-s.exited
}

// client is a raw SDK client, for creating the bucket.
func (s *s3Server) client() *s3sdk.Client {
	return s3sdk.New(s3sdk.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(s.endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s3AccessKey, s3SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}
