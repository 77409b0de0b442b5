package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/testkit"
	"github.com/wharf-registry/wharf/pkg/storage"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runCmd runs a command line in-process and returns status and output.
func runCmd(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, env, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "registry ") {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"validate"}, {"fsck", "a", "b"}, {"serve", "a", "b"}, {"--bogus"}, {"garbage-collect"}} {
		if code, _, _ := runCmd(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	t.Run("misindented key", func(t *testing.T) {
		path := writeFile(t, dir, "bad.yml", "version: 0.1\nhealth:\n  storagedriver:\n    enabled: true\nthreshold: 3\n")
		code, out, _ := runCmd(t, nil, "validate", path)
		if code != 1 || !strings.Contains(out, path+":5: threshold: unknown field") || !strings.Contains(out, "health.storagedriver.threshold") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("problems found only by reading the files", func(t *testing.T) {
		htpasswd := writeFile(t, dir, "htpasswd", "bob:$apr1$abc$def\n")
		path := writeFile(t, dir, "auth.yml", "version: 0.1\nauth:\n  htpasswd:\n    realm: r\n    path: "+htpasswd+"\n")
		code, out, _ := runCmd(t, nil, "validate", path)
		if code != 1 || !strings.Contains(out, htpasswd+":1: user \"bob\": not a bcrypt hash") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("good config", func(t *testing.T) {
		path := writeFile(t, dir, "good.yml", "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: "+dir+"\n")
		code, out, _ := runCmd(t, []string{"REGISTRY_PORT=tcp://10.0.0.1:5000"}, "validate", path)
		if code != 0 || !strings.Contains(out, "configuration OK") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
}

func TestValidateNamesTheStorageDriver(t *testing.T) {
	dir := t.TempDir()
	s3 := "version: 0.1\nstorage:\n  s3:\n    bucket: registry\n    regionendpoint: http://minio:9000\n    rootdirectory: /wharf\n"
	tests := []struct {
		name, config string
		env          []string
		code         int
		want         string
	}{
		{"filesystem", "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + dir + "\n", nil, 0, "storage: filesystem " + dir + ")"},
		{"s3 from the file", s3, nil, 0, "storage: s3 s3://registry/wharf at http://minio:9000)"},
		{"s3 from the environment", "version: 0.1\n", []string{"REGISTRY_STORAGE=s3", "REGISTRY_STORAGE_S3_BUCKET=b", "REGISTRY_STORAGE_S3_REGION=eu-west-1"}, 0, "storage: s3 s3://b)"},
		{"both drivers", s3 + "  filesystem:\n    rootdirectory: /x\n", nil, 1, "storage.s3: configure one storage driver, not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "config.yml", tt.config)
			code, out, _ := runCmd(t, tt.env, "validate", path)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and %q", code, out, tt.code, tt.want)
			}
		})
	}
}

// storeWithGarbage makes a store holding one unreferenced blob and returns
// its config path, root and the blob's digest.
func storeWithGarbage(t *testing.T) (string, string, digest.Digest) {
	t.Helper()
	root := t.TempDir()
	store, err := storage.NewFilesystem(root, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("garbage")
	d := digest.FromBytes(data)
	ctx := context.Background()
	if _, err := store.PutBlob(ctx, "app", d, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteBlob(ctx, "app", d); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, t.TempDir(), "config.yml", "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: "+root+"\n")
	return cfg, root, d
}

func blobData(root string, d digest.Digest) string {
	return filepath.Join(root, "docker/registry/v2/blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}

func TestGarbageCollect(t *testing.T) {
	cfg, root, d := storeWithGarbage(t)

	t.Run("the grace period protects young blobs", func(t *testing.T) {
		code, out, errOut := runCmd(t, nil, "garbage-collect", cfg)
		if code != 0 || strings.Contains(out, d.String()) {
			t.Fatalf("exit %d, output %q %q", code, out, errOut)
		}
	})
	t.Run("dry run lists and keeps", func(t *testing.T) {
		code, out, errOut := runCmd(t, nil, "garbage-collect", cfg, "--dry-run", "--grace-period", "-1s")
		if code != 0 || !strings.Contains(out, "would delete blob "+d.String()) {
			t.Fatalf("exit %d, output %q %q", code, out, errOut)
		}
		if _, err := os.Stat(blobData(root, d)); err != nil {
			t.Errorf("dry run removed the blob: %v", err)
		}
	})
	t.Run("collects", func(t *testing.T) {
		code, out, errOut := runCmd(t, nil, "garbage-collect", "-m", "--grace-period=-1s", cfg)
		if code != 0 || !strings.Contains(out, "deleted blob "+d.String()) || !strings.Contains(out, "deleted 0 manifests and 1 blobs, 7 bytes") {
			t.Fatalf("exit %d, output %q %q", code, out, errOut)
		}
		if _, err := os.Stat(blobData(root, d)); !os.IsNotExist(err) {
			t.Errorf("blob still there: %v", err)
		}
	})
}

func TestFsckFindsCorruption(t *testing.T) {
	root := t.TempDir()
	store, err := storage.NewFilesystem(root, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("layer")
	d := digest.FromBytes(data)
	if _, err := store.PutBlob(context.Background(), "app", d, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, t.TempDir(), "config.yml", "storage:\n  filesystem:\n    rootdirectory: "+root+"\n")
	if code, out, _ := runCmd(t, nil, "fsck", cfg); code != 0 || !strings.Contains(out, "storage consistent") {
		t.Fatalf("clean store: exit %d, %q", code, out)
	}
	if err := os.WriteFile(blobData(root, d), []byte("LAYER"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCmd(t, nil, "fsck", cfg); code != 1 || !strings.Contains(out, d.Encoded()) {
		t.Errorf("corrupt store: exit %d, %q", code, out)
	}
}

// startServer runs runServer in-process on a free port and returns its
// address and a function that stops it and returns runServer's error.
func startServer(t *testing.T, cfg *regconfig.Config) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServer(ctx, cfg, slog.New(slog.DiscardHandler), func(a net.Addr) { addrs <- a })
	}()
	select {
	case a := <-addrs:
		return a.String(), func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	}
	return "", nil
}

func testConfig(t *testing.T, env ...string) *regconfig.Config {
	t.Helper()
	env = append(env, "REGISTRY_HTTP_ADDR=127.0.0.1:0", "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="+t.TempDir())
	cfg, err := regconfig.Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestShutdownFinishesUploadsInFlight(t *testing.T) {
	cfg := testConfig(t)
	addr, stop := startServer(t, cfg)
	base := "http://" + addr

	resp, err := http.Post(base+"/v2/app/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	dataFile := filepath.Join(cfg.Storage.Filesystem.RootDirectory, "docker/registry/v2/repositories/app/_uploads", id, "data")

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", base+loc, pr)
	patched := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			patched <- nil
			return
		}
		resp.Body.Close()
		patched <- resp
	}()
	// More than the store's 1 MiB copy buffer, so part of it reaches the
	// disk while the request is still open.
	first := bytes.Repeat([]byte("a"), 1<<20+100)
	go func() { _, _ = pw.Write(first) }()
	// Wait until the server is writing the upload, so it is in flight. The
	// deadline only guards against a hang.
	for deadline := time.Now().Add(time.Minute); ; {
		if fi, err := os.Stat(dataFile); err == nil && fi.Size() >= 1<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("upload never reached the disk")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	// New connections are refused once shutdown has begun.
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := pw.Write([]byte("the rest")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if resp := <-patched; resp == nil || resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-1048683" {
		t.Fatalf("upload in flight during shutdown: %+v", resp)
	}
	if err := <-stopped; err != nil {
		t.Errorf("runServer: %v", err)
	}
}

// selfSigned writes a certificate and key for localhost into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, dir, "server.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, dir, "server.key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServesTLSWithAndWithoutHTTP2(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	for _, tt := range []struct {
		name  string
		env   []string
		proto int
	}{
		{"http2 by default", nil, 2},
		{"http2 disabled", []string{"REGISTRY_HTTP_HTTP2_DISABLED=true"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"REGISTRY_HTTP_TLS_CERTIFICATE=" + certFile, "REGISTRY_HTTP_TLS_KEY=" + keyFile}, tt.env...)
			addr, stop := startServer(t, testConfig(t, env...))
			defer func() {
				if err := stop(); err != nil {
					t.Error(err)
				}
			}()
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
			resp, err := client.Get("https://" + addr + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.ProtoMajor != tt.proto {
				t.Errorf("status %d over HTTP/%d, want 200 over HTTP/%d", resp.StatusCode, resp.ProtoMajor, tt.proto)
			}
		})
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// registryBinary builds the command once per test run.
func registryBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "registry-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "registry")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runningBinary is the command started as an image would start it.
type runningBinary struct {
	cmd    *exec.Cmd
	out    *testkit.SyncBuffer
	exited chan error
}

// startBinary runs the command with env and no arguments and waits until
// url answers 200.
func startBinary(t *testing.T, env []string, url string) *runningBinary {
	t.Helper()
	rb := &runningBinary{cmd: exec.Command(registryBinary(t)), out: &testkit.SyncBuffer{}, exited: make(chan error, 1)}
	rb.cmd.Env = env
	rb.cmd.Stdout, rb.cmd.Stderr = rb.out, rb.out
	if err := rb.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { rb.exited <- rb.cmd.Wait() }()
	t.Cleanup(func() { _ = rb.cmd.Process.Kill() })
	for deadline := time.Now().Add(time.Minute); ; { // the deadline only guards against a hang
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered 200:\n%s", url, rb.out.String())
		}
		select {
		case err := <-rb.exited:
			t.Fatalf("exited early: %v\n%s", err, rb.out.String())
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return rb
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBinaryServesFromEnvironmentAndStopsOnSIGTERM builds the command and
// runs it as an image would: no arguments, settings from REGISTRY_*.
func TestBinaryServesFromEnvironmentAndStopsOnSIGTERM(t *testing.T) {
	addr := freeAddr(t)
	rb := startBinary(t, []string{"REGISTRY_HTTP_ADDR=" + addr, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=" + t.TempDir(), "REGISTRY_SERVICE_HOST=10.0.0.1"},
		"http://"+addr+"/healthz")
	if err := rb.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-rb.exited; err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, rb.out.String())
	}
	if !strings.Contains(rb.out.String(), "REGISTRY_SERVICE_HOST") {
		t.Errorf("no warning about the unknown variable:\n%s", rb.out.String())
	}
}

// With http.debug.addr, pprof, /debug/health and /metrics answer on the
// debug listener; pprof and /debug/health never on the public port, where
// /metrics stays as documented.
func TestBinaryServesPprofOnlyOnTheDebugListener(t *testing.T) {
	addr, debug := freeAddr(t), freeAddr(t)
	startBinary(t, []string{"REGISTRY_HTTP_ADDR=" + addr, "REGISTRY_HTTP_DEBUG_ADDR=" + debug,
		"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=" + t.TempDir()}, "http://"+debug+"/debug/health")
	tests := []struct {
		base, path string
		status     int
		contains   string
	}{
		{debug, "/debug/pprof/", 200, "goroutine"},
		{debug, "/debug/pprof/goroutine?debug=1", 200, "goroutine profile"},
		{debug, "/debug/pprof/cmdline", 200, "registry"},
		{debug, "/debug/health", 200, "{}"},
		{debug, "/metrics", 200, "go_goroutines"},
		{addr, "/debug/pprof/", 404, ""},
		{addr, "/debug/pprof/goroutine?debug=1", 404, ""},
		{addr, "/debug/pprof/cmdline", 404, ""},
		{addr, "/debug/health", 404, ""},
		{addr, "/debug/vars", 404, ""},
		{addr, "/metrics", 200, "go_goroutines"},
		{addr, "/healthz", 200, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.base+tt.path, func(t *testing.T) {
			resp, err := http.Get("http://" + tt.base + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.contains) {
				t.Errorf("%d %.200q, want %d containing %q", resp.StatusCode, b, tt.status, tt.contains)
			}
		})
	}
}

// A registry:2 feature this registry lacks (notifications) must not be
// dropped silently: serve refuses to start. (registry:2's mirror recipe,
// REGISTRY_PROXY_REMOTEURL, used to be refused here too; the pull-through
// cache's tests are in test/integration/proxy_test.go.)
func TestRegistry2FeaturesWeLackStopServe(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name string
		env  []string
		file string
		want string
	}{
		{"notifications in the file", nil, "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + root + "\nnotifications:\n  endpoints:\n    - name: a\n      url: https://hook.example\n",
			":5: notifications: registry:2's notifications is not supported by this server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"serve"}
			if tt.file != "" {
				args = append(args, writeFile(t, t.TempDir(), "config.yml", tt.file))
			}
			env := append([]string{"REGISTRY_HTTP_ADDR=127.0.0.1:0", "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=" + root}, tt.env...)
			code, _, errOut := runCmd(t, env, args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, errOut, tt.want)
			}
		})
	}
}
