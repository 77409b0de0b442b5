package testkit

import (
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
	"syscall"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/syncbuf"
)

// ModuleDir returns the root directory of the module the tests run in, so
// builds do not depend on the test package's working directory.
func ModuleDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "", fmt.Errorf("cannot find the module root: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// Build compiles each package (a path relative to the module root, such as
// "./cmd/registry") into dir, named after its last element. It is a plain
// build: -race would triple the build time on two cores, and the race
// detector watches the test process, not these.
func Build(dir string, pkgs ...string) error {
	root, err := ModuleDir()
	if err != nil {
		return err
	}
	return BuildIn(root, dir, pkgs...)
}

// BuildIn is Build for the module rooted at root. A nested test module
// (test/interop, which keeps the stock verifiers out of our go.mod) builds
// the main module's commands with the main module's own go.mod, so the
// binary is the one we ship, not one built with the test module's pins.
func BuildIn(root, dir string, pkgs ...string) error {
	for _, pkg := range pkgs {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, filepath.Base(pkg)), pkg)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return nil
}

// WithBuilt builds pkgs (as Build does) into a fresh temporary directory,
// calls run with it and removes the directory: the TestMain of a suite that
// drives the built commands. A failed build is reported on stderr, prefixed
// with suite, and gives exit status 1.
func WithBuilt(suite string, run func(dir string) int, pkgs ...string) int {
	dir, err := os.MkdirTemp("", "wharf-"+suite+"-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", suite, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := Build(dir, pkgs...); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", suite, err)
		return 1
	}
	return run(dir)
}

// Spec says how to start one program on a loopback port the kit picks. Args
// and Env are called again with a new port when another process took the
// first one between picking and binding.
type Spec struct {
	Name string
	Bin  string
	Args func(port int) []string
	// Env returns the complete environment of the process; nothing is
	// inherited, so a developer's own REGISTRY_* or AWS_* variables cannot
	// change a test. Nil means an empty environment.
	Env func(port int) []string
	// TLS, when set, is the client configuration for the health check: the
	// server then speaks HTTPS.
	TLS *tls.Config
	// HealthHost is the host the health check dials; "localhost" when
	// empty (certificates name it, and clients refuse loopback IP literals
	// in realms, see NOTES.md).
	HealthHost string
	// AnyStatus makes any HTTP answer from /healthz count as up (a
	// registry on a full disk answers 503); otherwise only 200 does.
	AnyStatus bool
	// Dir is the working directory; a fresh t.TempDir() when empty.
	Dir string
	// StopSignal ends the process when the test ends: SIGTERM when zero,
	// so the programs' graceful shutdown runs (whatever is left is killed
	// after 10s); SIGKILL for tests that play crash.
	StopSignal syscall.Signal
	// FailTail and CleanupTail are how many lines of output are shown when
	// the process does not become healthy (default 80) and, when the test
	// failed, as it is stopped (default 60).
	FailTail, CleanupTail int
}

// Process is a running program started by Start.
type Process struct {
	name   string
	port   int
	cmd    *exec.Cmd
	out    *SyncBuffer
	exited chan struct{}
	err    error // from Wait, valid once exited is closed
}

// Name is the name the process was started under.
func (p *Process) Name() string { return p.name }

// Port is the loopback port the process was told to listen on.
func (p *Process) Port() int { return p.port }

// URL is the base URL of the process, addressed as localhost (see
// NOTES.md: clients refuse loopback IP literals in realms).
func (p *Process) URL(scheme string) string {
	return fmt.Sprintf("%s://localhost:%d", scheme, p.port)
}

// Host is "localhost:PORT", the registry name clients put in references.
func (p *Process) Host() string { return "localhost:" + strconv.Itoa(p.port) }

// Output returns everything the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Kill ends the process with SIGKILL, as a crash or the OOM killer would
// (no shutdown code runs), and waits until it is gone. The error is the
// signal's; on error Kill does not wait.
func (p *Process) Kill() error {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.exited
	return nil
}

// Start launches s, waits until its /healthz answers and stops it when the
// test ends. On failure of the test the tail of its output is logged.
func Start(t testing.TB, s Spec) *Process {
	t.Helper()
	failTail := s.FailTail
	if failTail == 0 {
		failTail = 80
	}
	const attempts = 5
	for attempt := 1; ; attempt++ {
		p, err := launch(t, s, FreePort(t))
		if err == nil {
			return p
		}
		if attempt < attempts && strings.Contains(p.Output(), "address already in use") {
			t.Logf("%s: port %d was taken before it could bind; retrying", s.Name, p.port)
			continue
		}
		t.Fatalf("%s did not become healthy: %v\n--- output of %s ---\n%s", s.Name, err, s.Name, Tail(p.Output(), failTail))
	}
}

// launch starts one attempt of s on port. The process is always stopped at
// cleanup, and right away when it does not become healthy.
func launch(t testing.TB, s Spec, port int) (*Process, error) {
	ctx, cancel := context.WithCancel(context.Background())
	var args, env []string
	if s.Args != nil {
		args = s.Args(port)
	}
	env = []string{}
	if s.Env != nil {
		env = s.Env(port)
	}
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Env = env
	cmd.Dir = s.Dir
	if cmd.Dir == "" {
		cmd.Dir = t.TempDir()
	}
	stop := s.StopSignal
	if stop == 0 {
		stop = syscall.SIGTERM
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(stop) }
	cmd.WaitDelay = 10 * time.Second
	p := &Process{name: s.Name, port: port, cmd: cmd, out: &SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		cancel()
		return p, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	cleanupTail := s.CleanupTail
	if cleanupTail == 0 {
		cleanupTail = 60
	}
	t.Cleanup(func() {
		cancel()
		<-p.exited
		if t.Failed() {
			t.Logf("--- last output of %s (port %d) ---\n%s", s.Name, port, Tail(p.Output(), cleanupTail))
		}
	})
	host := s.HealthHost
	if host == "" {
		host = "localhost"
	}
	if err := waitHealthy(p, host, s.TLS, s.AnyStatus); err != nil {
		// A failed attempt must not linger while the next one starts.
		cancel()
		<-p.exited
		return p, err
	}
	return p, nil
}

// waitHealthy polls /healthz until it answers (200 unless anyStatus) or the
// process exits. The deadline only guards against a hang: it asserts
// nothing about speed.
func waitHealthy(p *Process, host string, tlsConf *tls.Config, anyStatus bool) error {
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConf.Clone(), DisableKeepAlives: true},
	}
	url := fmt.Sprintf("%s://%s/healthz", scheme, net.JoinHostPort(host, strconv.Itoa(p.port)))
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
			if anyStatus || resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no healthy answer from %s: %v", url, last)
}

// FreePort asks the kernel for a free loopback port. Another process may
// take it before our server binds; Start retries in that case.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("picking a port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SyncBuffer collects output written from several goroutines at once (a
// process's two pipes, a server's log handler).
type SyncBuffer = syncbuf.Buffer

// Tail returns the last n lines of s, saying how many came before.
func Tail(s string, n int) string { return syncbuf.Tail(s, n) }

// WriteFile writes data to dir/name, creating directories, and returns the
// path.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
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

// ExitCode extracts a command's exit status from its error: 0 for nil, -1
// when the command did not exit normally.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
