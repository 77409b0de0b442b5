package scaleout

import (
	"bytes"
	"context"
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

// process is a running auth or registry binary on a loopback port.
type process struct {
	name   string
	port   int
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	err    error // from Wait, valid once exited is closed
}

// Host is "localhost:PORT": clients refuse loopback IP literals in realms
// (NOTES.md), so everything is addressed by name.
func (p *process) Host() string { return "localhost:" + strconv.Itoa(p.port) }

// URL is the process's base URL.
func (p *process) URL() string { return "http://" + p.Host() }

// kill ends the process with SIGKILL, as a crash or the OOM killer would:
// no shutdown code runs.
func (p *process) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s: %v", p.name, err)
	}
	<-p.exited
}

// spec says how to start one program: args gets the port chosen for it
// (again, with a new port, if someone else took the first), env is its whole
// environment (nothing is inherited, so no developer's REGISTRY_* or AWS_*
// variable changes a test).
type spec struct {
	name string
	bin  string
	args func(port int) []string
	env  []string
}

// start launches s, waits until /healthz answers 200 and stops it with
// SIGTERM when the test ends, logging its output if the test failed.
func start(t testing.TB, s spec) *process {
	t.Helper()
	const attempts = 5
	for attempt := 1; ; attempt++ {
		p, err := launch(t, s, freePort(t))
		if err == nil {
			return p
		}
		if attempt < attempts && strings.Contains(p.out.String(), "address already in use") {
			continue
		}
		t.Fatalf("%s did not become healthy: %v\n--- output ---\n%s", s.name, err, tail(p.out.String(), 60))
	}
}

func launch(t testing.TB, s spec, port int) (*process, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, s.bin, s.args(port)...)
	cmd.Env = s.env
	cmd.Dir = t.TempDir()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	p := &process{name: s.name, port: port, cmd: cmd, out: &syncBuffer{}, exited: make(chan struct{})}
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
			t.Logf("--- last output of %s (port %d) ---\n%s", s.name, port, tail(p.out.String(), 40))
		}
	})
	return p, waitHealthy(p)
}

// waitHealthy polls /healthz until it answers 200 or the process exits. The
// deadline guards against a hang; it asserts nothing about speed.
func waitHealthy(p *process) error {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("exited before becoming healthy: %v", p.err)
		default:
		}
		resp, err := client.Get(p.URL() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no healthy answer from %s: %v", p.URL(), last)
}

// freePort asks the kernel for a free loopback port; start retries when
// another process takes it first.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("picking a port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a process's output from both pipes at once.
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
func writeFile(t testing.TB, dir, name string, data []byte) string {
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
