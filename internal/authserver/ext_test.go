package authserver

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// extAuthScript is a docker_auth ext_auth program: it records exactly what
// it was given (stdin bytes, arguments, environment) and answers by user.
const extAuthScript = `#!/bin/sh
in=$(cat; echo x); in=${in%x}
printf '%s' "$in" > "$REC/stdin"
printf '%s\n' "$@" > "$REC/args"
env > "$REC/env"
user=${in%% *}; pass=${in#* }
case "$user:$pass" in
alice:alicepw) echo '{"labels": {"team": ["red"], "tier": ["gold", "silver"]}}' ;;
bob:bobpw) ;;
admin:*) ;;
carol:*) exit 1 ;;
hang:*) sleep 1000 & echo $! > "$REC/child"; wait ;;
garbage:*) echo 'hello, I am not JSON' ;;
crash:*) echo 'boom' >&2; exit 3 ;;
*) exit 2 ;;
esac
`

// extAuthzScript is a docker_auth ext_authz program: it records the
// request JSON and decides by repository name.
const extAuthzScript = `#!/bin/sh
in=$(cat)
printf '%s' "$in" > "$REC/authz-stdin"
case "$in" in
*'"Name":"ext/allowed"'*) echo 'stdout is not read'; exit 0 ;;
*'"Name":"ext/ruled"'*) exit 0 ;;
*'"Name":"ext/hang"'*) sleep 1000 & echo $! > "$REC/authz-child"; wait ;;
*'"Name":"ext/garbage"'*) echo '#@!%'; exit 5 ;;
esac
exit 1
`

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// newLoggedFixture is newFixture whose server logs into the returned buffer.
func newLoggedFixture(t *testing.T, yaml string) (*fixture, *testkit.SyncBuffer) {
	t.Helper()
	f := newFixture(t, yaml)
	logs := &testkit.SyncBuffer{}
	f.srv.log = slog.New(slog.NewTextHandler(logs, nil))
	if err := f.srv.Reload(); err != nil { // rebuild the backends with the logger
		t.Fatal(err)
	}
	return f, logs
}

func extFixture(t *testing.T) (*fixture, *testkit.SyncBuffer, string) {
	t.Helper()
	rec := t.TempDir()
	t.Setenv("REC", rec) // the programs inherit the server's environment
	auth := writeScript(t, rec, "ext-auth.sh", extAuthScript)
	authz := writeScript(t, rec, "ext-authz.sh", extAuthzScript)
	f, logs := newLoggedFixture(t, `server: {addr: ":5001"}
token: {issuer: "Auth Service", expiration: 900, certificate: CERT, key: KEY}
users:
	admin: {password: "`+adminHash+`"}
ext_auth:
	command: `+auth+`
	args: ["--flag", "value"]
	timeout: 1
ext_authz:
	command: `+authz+`
	timeout: 1
acl:
	- match: {account: admin}
	  actions: ["*"]
	- match: {labels: {team: "/.+/"}, name: "${labels:team}/*"}
	  actions: ["*"]
	- match: {name: "ext/ruled"}
	  actions: []
	- match: {account: bob, name: "bob/*"}
	  actions: [pull]
`)
	return f, logs, rec
}

func TestExtAuthDecidesLoginsAsDockerAuth(t *testing.T) {
	f, logs, rec := extFixture(t)

	// docker_auth's exact bytes on stdin; nothing of the password elsewhere.
	resp := f.get(t, url.Values{"service": {"registry"}}, "bob", "bobpw")
	if resp.StatusCode != 200 {
		t.Fatalf("bob: %d", resp.StatusCode)
	}
	if in := readRec(t, rec, "stdin"); in != "bob bobpw" {
		t.Errorf("stdin %q, want %q", in, "bob bobpw")
	}
	if args := readRec(t, rec, "args"); args != "--flag\nvalue\n" {
		t.Errorf("args %q", args)
	}
	if env := readRec(t, rec, "env"); strings.Contains(env, "bobpw") {
		t.Errorf("the password is in the environment:\n%s", env)
	}

	runLogins(t, f, []loginCase{
		{"exit 0 with labels: labels reach the ACL placeholders", "alice", "alicepw", "repository:red/app:pull,push", 200, "pull,push"},
		{"labels do not reach other teams", "alice", "alicepw", "repository:blue/app:pull", 200, ""},
		{"exit 0 without output: no labels", "bob", "bobpw", "repository:bob/x:pull,push", 200, "pull"},
		{"exit 1 denies", "carol", "whatever", "repository:red/app:pull", 401, ""},
		{"exit 2 is no such user", "nobody", "pw", "repository:red/app:pull", 401, ""},
		{"static users come first: a wrong admin password is not asked of ext_auth", "admin", "wrong", "repository:a:pull", 401, ""},
		{"static user with its password", "admin", "adminpassword", "repository:a:pull", 200, "pull"},
		{"a space in the name never reaches the program", "alice alicepw", "x", "repository:red/app:pull", 401, ""},
		{"exit 0 with garbage on stdout fails closed", "garbage", "pw", "repository:red/app:pull", 503, ""},
		{"exit 3 is an error, not a denial", "crash", "pw", "repository:red/app:pull", 503, ""},
		{"a hanging program is killed at the timeout", "hang", "pw", "repository:red/app:pull", 503, ""},
	})

	// The hanging program's child died with it (the process group).
	assertKilled(t, readRec(t, rec, "child"))
	for _, want := range []string{"killed after the 1s timeout", "exit status 3", "stdout is not {", "ext_auth " + filepath.Join(rec, "ext-auth.sh")} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// loginCase is one token request and what it must get.
type loginCase struct {
	name, user, pw, scope string
	status                int
	want                  string // actions granted on the scope's repository
}

func runLogins(t *testing.T, f *fixture, cases []loginCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.get(t, url.Values{"service": {"registry"}, "scope": {tt.scope}}, tt.user, tt.pw)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body(t, resp))
			}
			if tt.status != 200 {
				return
			}
			_, std, acc := verifyJose(t, tokenBody(t, resp).Token, f.kp.Public)
			if std.Subject != tt.user {
				t.Errorf("sub %q, want %q", std.Subject, tt.user)
			}
			name := strings.SplitN(tt.scope, ":", 3)[1]
			if got := grants(acc)["repository:"+name]; got != tt.want {
				t.Errorf("granted %q, want %q", got, tt.want)
			}
		})
	}
}

func readRec(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExtAuthzDecidesWhatTheACLDoesNot(t *testing.T) {
	f, logs, rec := extFixture(t)
	runLogins(t, f, []loginCase{
		{"exit 0 grants what was asked", "bob", "bobpw", "repository:ext/allowed:pull,push", 200, "pull,push"},
		{"exit 1 denies", "bob", "bobpw", "repository:ext/other:pull", 200, ""},
		{"an ACL rule decides first, even a denying one", "bob", "bobpw", "repository:ext/ruled:pull", 200, ""},
		{"an ACL grant is not second-guessed", "bob", "bobpw", "repository:bob/app:pull", 200, "pull"},
		{"a hanging program is killed and denies", "bob", "bobpw", "repository:ext/hang:pull", 200, ""},
		{"garbage and exit 5 deny", "bob", "bobpw", "repository:ext/garbage:pull", 200, ""},
	})
	for _, want := range []string{"ext_authz failed; scope denied", "killed after the 1s timeout", "exit status 5"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}

	// docker_auth's AuthRequestInfo JSON, labels included.
	resp := f.get(t, url.Values{"service": {"registry"}, "scope": {"repository:ext/other:pull,push"}}, "alice", "alicepw")
	if resp.StatusCode != 200 {
		t.Fatalf("alice: %d", resp.StatusCode)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(readRec(t, rec, "authz-stdin")), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Account": "alice", "Type": "repository", "Name": "ext/other", "Service": "registry", "IP": "127.0.0.1",
		"Actions": []any{"pull", "push"}, "Labels": map[string]any{"team": []any{"red"}, "tier": []any{"gold", "silver"}},
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("ext_authz stdin\n got %s\nwant %s", g, w)
	}
	assertKilled(t, readRec(t, rec, "authz-child"))
}

// assertKilled fails unless the process with the given pid is gone (or a
// zombie awaiting its reaper). SIGKILL is delivered asynchronously, so it
// is given a generous while.
func assertKilled(t *testing.T, pidText string) {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(pidText))
	if err != nil {
		t.Fatalf("pid %q: %v", pidText, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return // gone
		}
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
	}
	t.Errorf("the hung program's child %d still runs", pid)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A backend user gets no refresh token: refreshing could not ask the
// backend again. The login itself still succeeds.
func TestBackendUsersGetNoRefreshToken(t *testing.T) {
	f, _, _ := extFixture(t)
	tr := tokenBody(t, f.get(t, url.Values{"service": {"registry"}, "offline_token": {"true"}, "client_id": {"docker"}}, "bob", "bobpw"))
	if tr.RefreshToken != "" {
		t.Errorf("refresh token issued to an ext_auth user")
	}
	tr = tokenBody(t, f.get(t, url.Values{"service": {"registry"}, "offline_token": {"true"}, "client_id": {"docker"}}, "admin", "adminpassword"))
	if tr.RefreshToken == "" {
		t.Errorf("static user lost its refresh token")
	}
}
