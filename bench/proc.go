package main

import (
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
	"time"
)

// proc is one of the programs under test, running as its own process.
type proc struct {
	name   string
	port   int
	cmd    *exec.Cmd
	logf   string
	exited chan struct{}
	err    error // from Wait, valid once exited is closed
	perf   *exec.Cmd
	// peer is a registry other than ours: it has no /healthz, so any
	// answer to /v2/ means it is up.
	peer bool
}

// URL is the base URL, addressed as localhost as clients do.
func (p *proc) URL() string { return "http://localhost:" + strconv.Itoa(p.port) }

// Pid is the process id, for /proc.
func (p *proc) Pid() int { return p.cmd.Process.Pid }

// startProc runs bin with the arguments args(port) on a free loopback port,
// its output going to dir/name.log, and waits for /healthz. A port taken
// between picking and binding is retried with another.
func startProc(dir, name, bin string, args func(port int) ([]string, error)) (*proc, error) {
	return startProcEnv(dir, name, bin, []string{}, false, args)
}

// startProcEnv is startProc with the environment env, for a peer
// registry when peer is set.
func startProcEnv(dir, name, bin string, env []string, peer bool, args func(port int) ([]string, error)) (*proc, error) {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		argv, err := args(port)
		if err != nil {
			return nil, err
		}
		p, err := launch(dir, name, bin, port, argv, env, peer)
		if err == nil {
			return p, nil
		}
		out, _ := os.ReadFile(p.logf)
		if attempt < 5 && strings.Contains(string(out), "address already in use") {
			continue
		}
		return nil, fmt.Errorf("%s did not become healthy: %v\n%s", name, err, tail(string(out), 30))
	}
}

func launch(dir, name, bin string, port int, argv, env []string, peer bool) (*proc, error) {
	// Logs go beside the configs' directory, not into it: auth watches the
	// directory of its config, and each line written there would wake it,
	// which no deployment logging to a pipe or journald pays.
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, err
	}
	logf := filepath.Join(logs, fmt.Sprintf("%s-%d.log", name, port))
	out, err := os.Create(logf)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, argv...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = dir
	cmd.Env = env // a developer's REGISTRY_* variables must not change a figure
	p := &proc{name: name, port: port, cmd: cmd, logf: logf, exited: make(chan struct{}), peer: peer}
	if err := cmd.Start(); err != nil {
		out.Close()
		return p, err
	}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	if err := waitHealthy(p); err != nil {
		p.stop()
		return p, err
	}
	return p, nil
}

// waitHealthy polls /healthz until 200 (a peer: /v2/ until any answer)
// or the process exits.
func waitHealthy(p *proc) error {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("exited: %v", p.err)
		default:
		}
		probe := "/healthz"
		if p.peer {
			probe = "/v2/"
		}
		resp, err := c.Get(p.URL() + probe)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || p.peer {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		time.Sleep(30 * time.Millisecond)
	}
	return fmt.Errorf("no healthy answer: %v", last)
}

// stop ends the process gracefully (SIGTERM), killing it after a while.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	p.stopPerf()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// startPerf records a CPU profile of the process with perf(1) into file
// until stopPerf. Without perf it does nothing.
func (p *proc) startPerf(file string) {
	if p == nil || file == "" {
		return
	}
	p.stopPerf()
	cmd := exec.Command("perf", "record", "-F", "997", "-g", "-o", file, "-p", strconv.Itoa(p.Pid()))
	cmd.Stdout, cmd.Stderr = nil, nil
	if cmd.Start() == nil {
		p.perf = cmd
	}
}

func (p *proc) stopPerf() {
	if p == nil || p.perf == nil {
		return
	}
	_ = p.perf.Process.Signal(syscall.SIGINT)
	_ = p.perf.Wait()
	p.perf = nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
