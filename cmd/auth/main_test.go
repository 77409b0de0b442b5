package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
)

var authBin string

// TestMain builds the real binary once; the tests run it as users do.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "authbin")
	if err != nil {
		panic(err)
	}
	authBin = filepath.Join(dir, "auth")
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.9.9-test", "-o", authBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runAuth runs the binary and returns its exit code, stdout and stderr.
func runAuth(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(authBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("run auth: %v", err)
	return 0, "", ""
}

// seedConfig writes the blog's auth_config.yml with a fresh key pair.
func seedConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	kp := authtest.WriteKeyPair(t, dir, "server", "p256")
	path := filepath.Join(dir, "auth_config.yml")
	authtest.WriteFile(t, path, authtest.SeedConfig(t, kp.Cert, kp.Key))
	return path
}

func TestValidate(t *testing.T) {
	good := seedConfig(t)
	bad := filepath.Join(t.TempDir(), "bad.yml")
	authtest.WriteFile(t, bad, "server: {addr: \":5001\"}\ntoken: {issuer: x, expiration: 900, key: /nope.key}\nusers:\n  bob: {password: hunter2}\nacl:\n  - match: {account: bob}\n    actions: [pull]\n")
	typo := filepath.Join(t.TempDir(), "typo.yml")
	authtest.WriteFile(t, typo, "server: {addr: \":5001\"}\nacl:\n  - match: {acount: admin}\n    actions: [\"*\"]\n")

	tests := []struct {
		name       string
		path       string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"the seed config", good, 0, []string{good + ": OK (3 users, 2 acl rules, 1 keys)", "warning: token.services is not set"}, nil},
		{"every problem listed", bad, 1, nil, []string{
			bad + ":2: token.key: open /nope.key: no such file or directory",
			bad + ":4: users.bob.password: not a bcrypt hash",
		}},
		{"typo in a key", typo, 1, nil, []string{typo + `:3: acl[0].match.acount: unknown field (did you mean "account"?)`}},
		{"missing file", "/nonexistent/auth.yml", 1, nil, []string{"/nonexistent/auth.yml: open /nonexistent/auth.yml: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runAuth(t, "", "validate", tt.path)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "hunter2") {
				t.Error("a plaintext password was echoed")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	cfg := seedConfig(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"admin gets what was asked", []string{"--account", "admin", "--scope", "repository:team/app:pull,push"},
			[]string{"repository:team/app:pull,push: granted [pull, push] by rule #0"}},
		{"reader on nginx and elsewhere", []string{"--account", "reader", "--scope", "repository:nginx:pull,push repository:nginx2:pull", "--service", "Docker registry"},
			[]string{`account "reader", labels none, service "Docker registry", ip unknown`,
				"repository:nginx:pull,push: granted [pull] by rule #1",
				"repository:nginx2:pull: granted [] no rule matched"}},
		{"anonymous", []string{"--account", "", "--scope", "repository:nginx:pull", "--ip", "192.0.2.1"},
			[]string{`account "", labels none, service "", ip 192.0.2.1`, "repository:nginx:pull: granted [] no rule matched"}},
		{"unknown account", []string{"--account", "mallory", "--scope", "repository:nginx:pull"},
			[]string{`note: "mallory" is not in users`, "granted [] no rule matched"}},
		{"login", []string{"--account", "admin"}, []string{"no scope: a login"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runAuth(t, "", append([]string{"check", cfg}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
		})
	}

	for name, args := range map[string][]string{
		"no account":    {"check", cfg, "--scope", "repository:x:pull"},
		"bad scope":     {"check", cfg, "--account", "admin", "--scope", "Repository:x:pull"},
		"bad ip":        {"check", cfg, "--account", "admin", "--ip", "300.1.1.1"},
		"no config":     {"check", "--account", "admin"},
		"unknown flag":  {"check", cfg, "--acount", "admin"},
		"two configs":   {"check", cfg, cfg, "--account", "admin"},
		"no subcommand": {},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, _ := runAuth(t, "", args...); code != 2 {
				t.Errorf("exit %d, want 2 (usage)", code)
			}
		})
	}
}

func TestHash(t *testing.T) {
	tests := []struct {
		name, stdin string
		args        []string
		wantCode    int
		wantPW      string
	}{
		{"line from stdin", "s3cret pass\n", []string{"--cost", "4"}, 0, "s3cret pass"},
		{"CRLF line", "s3cret\r\n", []string{"--cost", "4"}, 0, "s3cret"},
		{"no newline", "s3cret", []string{"--cost", "5"}, 0, "s3cret"},
		{"empty", "\n", nil, 1, ""},
		{"longer than bcrypt takes", strings.Repeat("x", 73) + "\n", []string{"--cost", "4"}, 1, ""},
		{"cost too low", "pw\n", []string{"--cost", "3"}, 2, ""},
		{"stray argument", "pw\n", []string{"admin"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runAuth(t, tt.stdin, append([]string{"hash"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tt.wantCode, stderr)
			}
			if code != 0 {
				return
			}
			h := strings.TrimSuffix(stdout, "\n")
			if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(tt.wantPW)); err != nil {
				t.Errorf("hash %q does not verify %q: %v", h, tt.wantPW, err)
			}
			if cost, _ := bcrypt.Cost([]byte(h)); fmt.Sprint(cost) != tt.args[1] {
				t.Errorf("cost %d, want %s", cost, tt.args[1])
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runAuth(t, "", "--version")
	if code != 0 || stdout != "auth v9.9.9-test\n" {
		t.Errorf("exit %d, output %q", code, stdout)
	}
}

func TestServeGivesTokensReloadsOnSIGHUPAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	kp := authtest.WriteKeyPair(t, dir, "token", "p256")
	cfgText := func(actions string) string {
		return fmt.Sprintf("server: {addr: \"127.0.0.1:0\"}\ntoken: {issuer: test, expiration: 60, certificate: %s, key: %s}\n"+
			"users:\n  reader: {password: %q}\nacl:\n  - match: {account: reader}\n    actions: %s\n", kp.Cert, kp.Key, authtest.ReaderHash, actions)
	}
	path := filepath.Join(dir, "auth_config.yml")
	authtest.WriteFile(t, path, cfgText("[pull]"))

	cmd := exec.Command(authBin, path) // docker_auth's form: the config is the only argument
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	addrRE := regexp.MustCompile(`msg=listening addr=(\S+)`)
	var base string
	waitLine(t, lines, func(l string) bool {
		if m := addrRE.FindStringSubmatch(l); m != nil {
			base = "http://" + m[1]
			return true
		}
		return false
	})

	grant := func() string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/auth?service=r&scope=repository:app:pull,push", nil)
		req.SetBasicAuth("reader", "readerpassword")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Token string }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		return accessOf(t, body.Token)
	}
	if g := grant(); g != "pull" {
		t.Fatalf("grant %q", g)
	}
	waitLine(t, lines, func(l string) bool {
		return strings.Contains(l, "msg=\"token request\"") && strings.Contains(l, "account=reader")
	})

	authtest.WriteFile(t, path, cfgText("[pull, push]"))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLine(t, lines, func(l string) bool { return strings.Contains(l, "config reloaded") })
	if g := grant(); g != "pull,push" {
		t.Errorf("grant after SIGHUP %q", g)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines { // drain until the process closes stderr
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// waitLine reads log lines until match accepts one; the deadline only
// bounds a hung test.
func waitLine(t *testing.T, lines <-chan string, match func(string) bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the server exited")
			}
			if match(l) {
				return
			}
		case <-timeout:
			t.Fatal("gave up waiting for a log line")
		}
	}
}

// accessOf decodes (without verifying: the authserver tests do that) the
// actions granted in a token's first access entry.
func accessOf(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Access []struct{ Actions []string } `json:"access"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || len(c.Access) != 1 {
		t.Fatalf("claims %s: %v", payload, err)
	}
	return strings.Join(c.Access[0].Actions, ",")
}
