// Package extprog runs docker_auth's external programs: ext_auth decides
// logins, ext_authz decides scopes. The protocol is docker_auth's, so its
// programs run unchanged; what differs is that a program is bounded (a
// timeout kills it and every process it started) and that anything but a
// clear answer fails closed.
package extprog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/internal/authconfig"
)

// Output limits: an answer is a few labels; a program printing without end
// must not fill memory.
const (
	maxStdout = 1 << 20
	maxStderr = 4 << 10
)

// waitDelay is how long Wait waits for the pipes after the program died:
// a grandchild that escaped the group kill could otherwise hold them open.
const waitDelay = 2 * time.Second

// maxRunning bounds how many copies of one program run at once, so a
// flood of logins from many addresses cannot fork without end; the rest
// wait for a turn within their timeout.
var maxRunning = 4 * runtime.NumCPU()

// program is a configured command.
type program struct {
	section string // "ext_auth" or "ext_authz", for errors
	path    string
	args    []string
	timeout time.Duration
	running chan struct{} // a semaphore of maxRunning
}

func newProgram(section string, c *authconfig.ExtConfig) program {
	return program{section: section, path: c.Path, args: c.Args, timeout: c.TimeoutValue,
		running: make(chan struct{}, maxRunning)}
}

func (p *program) String() string {
	return strings.TrimSpace(p.section + " " + p.path + " " + strings.Join(p.args, " "))
}

// result is how a run ended: its exit code and what it printed.
type result struct {
	code   int
	stdout []byte
	stderr string
}

// run starts the program in a process group of its own, feeds it stdin
// and waits at most p.timeout. Only an exit with a status is a result; a
// failure to start, a signal or a timeout is an error naming the program.
// The input goes on stdin only: never in arguments or the environment,
// which other users can read in /proc.
func (p *program) run(ctx context.Context, stdin []byte) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	select {
	case p.running <- struct{}{}:
		defer func() { <-p.running }()
	case <-ctx.Done():
		return result{}, fmt.Errorf("%s: %d copies already running for %s: %w", p, maxRunning, p.timeout, ctx.Err())
	}
	cmd := exec.CommandContext(ctx, p.path, p.args...)
	cmd.Stdin = bytes.NewReader(stdin)
	stdout := &capped{max: maxStdout}
	stderr := &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	ownGroup(cmd) // Cancel kills the whole group, not just the shell
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return result{}, fmt.Errorf("%s: killed after the %s timeout", p, p.timeout)
	}
	if ctx.Err() != nil {
		return result{}, fmt.Errorf("%s: %w", p, ctx.Err())
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() < 0:
		return result{}, fmt.Errorf("%s: %v; stderr: %q", p, exit, stderr.String())
	case errors.As(err, &exit):
	case err != nil:
		return result{}, fmt.Errorf("%s: %w", p, err)
	}
	if stdout.over {
		return result{}, fmt.Errorf("%s: printed more than %d bytes", p, maxStdout)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.Bytes(), stderr: stderr.String()}, nil
}

// capped is a buffer that keeps the first max bytes and remembers that
// more came. Writes never fail, so the program is never killed by EPIPE
// before its exit status is known.
type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(b []byte) (int, error) {
	if room := c.max - c.Len(); len(b) > room {
		c.over = true
		c.Buffer.Write(b[:max(room, 0)])
		return len(b), nil
	}
	return c.Buffer.Write(b)
}
