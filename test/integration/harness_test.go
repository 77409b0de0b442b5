package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths of the binaries TestMain builds; every test starts these, never the
// packages in-process, so flags, environment handling and shutdown are real.
var (
	binDir      string // removed when the tests end
	authBin     string
	registryBin string
	moduleDir   string
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun compiles cmd/auth and cmd/registry into a temporary directory
// (a plain build: -race would triple the build time on two cores), runs the
// tests and removes the binaries.
func buildAndRun(m *testing.M) int {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		fmt.Fprintf(os.Stderr, "integration: cannot find the module root: %v\n", err)
		return 1
	}
	moduleDir = filepath.Dir(strings.TrimSpace(string(out)))
	binDir, err = os.MkdirTemp("", "wharf-integration-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	authBin = filepath.Join(binDir, "auth")
	registryBin = filepath.Join(binDir, "registry")
	for pkg, bin := range map[string]string{"./cmd/auth": authBin, "./cmd/registry": registryBin} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Dir = moduleDir
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "integration: go build %s failed: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// server describes how to start one of the programs on a port chosen by the
// harness. args and env are called again with a new port when the first one
// was taken by someone else between picking and binding.
type server struct {
	name string
	bin  string
	args func(port int) []string
	// env is the complete environment of the process; nothing is inherited,
	// so a developer's own REGISTRY_* variables cannot change a test.
	env func(port int) []string
	// tls, when set, is the client configuration for the health check: the
	// server then speaks HTTPS.
	tls *tls.Config
}

// process is a running server.
type process struct {
	name   string
	port   int
	out    *syncBuffer
	exited chan struct{}
	err    error // from Wait, valid once exited is closed
}

// URL is the base URL of the process, addressed as localhost (see NOTES.md:
// clients refuse loopback IP literals in realms).
func (p *process) URL(scheme string) string {
	return fmt.Sprintf("%s://localhost:%d", scheme, p.port)
}

// Host is "localhost:PORT", the registry name clients put in references.
func (p *process) Host() string { return "localhost:" + strconv.Itoa(p.port) }

// Output returns everything the process wrote to stdout and stderr so far.
func (p *process) Output() string { return p.out.String() }

// start launches s, waits until its /healthz answers 200 and stops it when the
// test ends. On failure of the test the tail of its output is logged.
func start(t *testing.T, s server) *process {
	t.Helper()
	const attempts = 5
	for attempt := 1; ; attempt++ {
		p, err := launch(t, s, freePort(t))
		if err == nil {
			return p
		}
		if attempt < attempts && strings.Contains(p.Output(), "address already in use") {
			t.Logf("%s: port %d was taken before it could bind; retrying", s.name, p.port)
			continue
		}
		t.Fatalf("%s did not become healthy: %v\n--- output of %s ---\n%s", s.name, err, s.name, tail(p.Output(), 80))
	}
}

// launch starts one attempt of s on port. The process is always stopped at
// cleanup, whether or not it became healthy.
func launch(t *testing.T, s server, port int) (*process, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, s.bin, s.args(port)...)
	cmd.Env = s.env(port)
	cmd.Dir = t.TempDir()
	// SIGTERM first so the programs' graceful shutdown runs; WaitDelay then
	// kills whatever is left.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	p := &process{name: s.name, port: port, out: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		cancel()
		return p, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.exited
		if t.Failed() {
			t.Logf("--- last output of %s (port %d) ---\n%s", s.name, port, tail(p.Output(), 60))
		}
	})
	return p, waitHealthy(p, s.tls)
}

// waitHealthy polls /healthz until it answers 200 or the process exits. The
// deadline only guards against a hang: it asserts nothing about speed.
func waitHealthy(p *process, tlsConf *tls.Config) error {
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConf, DisableKeepAlives: true},
	}
	url := p.URL(scheme) + "/healthz"
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("exited before becoming healthy: %v", p.err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no healthy answer from %s: %v", url, last)
}

// freePort asks the kernel for a free loopback port. Another process may take
// it before our server binds; start retries in that case.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("picking a port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a process's output; both pipes write into it at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d earlier lines ...]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// errExit extracts an exit code from a command error; -1 when the command did
// not exit normally.
func errExit(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
