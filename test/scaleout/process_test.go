package scaleout

import (
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// process is a running auth or registry binary on a loopback port, started
// by testkit and addressed as localhost: clients refuse loopback IP
// literals in realms (NOTES.md).
type process struct {
	*testkit.Process
	name string
	port int
}

// URL is the process's base URL.
func (p *process) URL() string { return "http://" + p.Host() }

// kill ends the process with SIGKILL, as a crash or the OOM killer would:
// no shutdown code runs.
func (p *process) kill(t testing.TB) {
	t.Helper()
	if err := p.Kill(); err != nil {
		t.Fatalf("kill -9 %s: %v", p.name, err)
	}
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

// kit is s as testkit starts it.
func (s spec) kit() testkit.Spec {
	return testkit.Spec{
		Name: s.name, Bin: s.bin, Args: s.args,
		Env:      func(int) []string { return s.env },
		FailTail: 60, CleanupTail: 40,
	}
}

// start launches s, waits until /healthz answers 200 and stops it with
// SIGTERM when the test ends, logging its output if the test failed.
func start(t testing.TB, s spec) *process {
	t.Helper()
	return wrap(testkit.Start(t, s.kit()))
}

func wrap(p *testkit.Process) *process {
	return &process{Process: p, name: p.Name(), port: p.Port()}
}
