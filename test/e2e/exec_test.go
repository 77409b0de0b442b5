//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cmdTimeout bounds any single command: a hung docker push must fail the
// test, not the whole `go test -timeout`.
const cmdTimeout = 3 * time.Minute

// result is what a finished command printed and how it ended.
type result struct {
	argv []string
	out  string // stdout and stderr, interleaved as the user would see them
	err  error
}

// ok reports whether the command exited 0.
func (r result) ok() bool { return r.err == nil }

func (r result) String() string {
	status := "exit 0"
	if r.err != nil {
		status = r.err.Error()
	}
	return fmt.Sprintf("$ %s\n%s[%s]", strings.Join(r.argv, " "), r.out, status)
}

// runner runs commands with a fixed extra environment and working directory.
type runner struct {
	env []string // added to os.Environ()
	dir string
}

// run executes argv, feeding stdin when not empty, and logs what it printed.
func (rn runner) run(t *testing.T, stdin string, argv ...string) result {
	t.Helper()
	r := rn.quiet(stdin, argv...)
	t.Logf("%s", r)
	return r
}

// quiet executes argv without logging: for polls, and for output (logs)
// too long to repeat.
func (rn runner) quiet(stdin string, argv ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), rn.env...)
	cmd.Dir = rn.dir
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", cmdTimeout, err)
	}
	return result{argv: argv, out: out.String(), err: err}
}

// mustQuiet is must without logging the output.
func (rn runner) mustQuiet(t *testing.T, argv ...string) string {
	t.Helper()
	r := rn.quiet("", argv...)
	if !r.ok() {
		t.Fatalf("command failed:\n%s", r)
	}
	return r.out
}

// must runs argv and fails the test unless it exits 0.
func (rn runner) must(t *testing.T, stdin string, argv ...string) string {
	t.Helper()
	r := rn.run(t, stdin, argv...)
	if !r.ok() {
		t.Fatalf("command failed:\n%s", r)
	}
	return r.out
}

// mustFail runs argv, fails the test if it exits 0, and checks that its
// output holds every one of wants.
func (rn runner) mustFail(t *testing.T, stdin string, wants []string, argv ...string) string {
	t.Helper()
	r := rn.run(t, stdin, argv...)
	if r.ok() {
		t.Fatalf("command succeeded, want failure:\n%s", r)
	}
	for _, w := range wants {
		if !strings.Contains(r.out, w) {
			t.Errorf("output lacks %q:\n%s", w, r)
		}
	}
	return r.out
}

// poll calls check every interval until it returns nil or timeout passes,
// then fails the test with the last error. Waiting this way asserts an
// outcome, not a duration: the bound only keeps a broken build from hanging.
func poll(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
