//go:build e2e

package e2e

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// reloadWait bounds how long a config edit may take to apply. The file
// watch usually takes well under a second; the bound only stops a broken
// reload from hanging the suite.
const reloadWait = 30 * time.Second

// reloadedLog is the auth server's log message for a successful reload.
const reloadedLog = `msg="config reloaded"`

func (j *journey) multiArch(t *testing.T) {
	digest := j.pushMultiArch(t, "apps/multi:1", "admin", j.adminPass)
	ref := j.ref("apps/multi:1")
	j.login(t, "reader", j.readerPass)
	j.sh.must(t, "", "docker", "pull", ref)
	j.wantRun(t, ref, helloOutput(runtime.GOARCH))

	info := strings.TrimSpace(j.sh.must(t, "", "docker", "image", "inspect", "-f",
		`{{.Os}}/{{.Architecture}} {{join .RepoDigests " "}}`, ref))
	want := "linux/" + runtime.GOARCH
	if !strings.HasPrefix(info, want+" ") {
		t.Errorf("docker pulled %q, want the %s image of the index", info, want)
	}
	if !strings.Contains(info, j.registry()+"/apps/multi@"+digest.String()) {
		t.Errorf("repo digests %q do not name the index %s", info, digest)
	}
}

// wantDataIntact pulls and runs the image pushed in step 2 again (as the
// reader, who is logged in) and checks the tags are unchanged.
func (j *journey) wantDataIntact(t *testing.T) {
	t.Helper()
	j.sh.run(t, "", "docker", "rmi", j.hello)
	j.sh.must(t, "", "docker", "pull", j.hello)
	j.wantRun(t, j.hello, helloOutput(runtime.GOARCH))
	j.wantTags(t, "apps/hello", "1")
	j.wantTags(t, "apps/multi", "1")
}

func (j *journey) restarts(t *testing.T) {
	j.sh.must(t, "", j.composeArgs("restart")...)
	j.waitHealthy(t)
	j.wantDataIntact(t)

	// Both programs must stop cleanly on SIGTERM (exit 0, not killed
	// after the grace period with 137).
	j.sh.must(t, "", j.composeArgs("stop")...)
	for _, svc := range []string{"auth", "registry"} {
		id := j.containerID(t, svc)
		if code := strings.TrimSpace(j.sh.must(t, "", "docker", "inspect", "-f", "{{.State.ExitCode}}", id)); code != "0" {
			t.Errorf("%s exited with %s on docker stop, want 0 (graceful shutdown on SIGTERM)", svc, code)
		}
	}
	j.sh.must(t, "", j.composeArgs("down")...) // no -v: the named volume stays
	volume := j.project + "_registry-data"
	j.sh.must(t, "", "docker", "volume", "inspect", volume)
	j.sh.must(t, "", j.composeArgs("up", "-d")...)
	j.waitHealthy(t)
	j.wantDataIntact(t)
}

// readerRule is the reader's ACL line in configs/compose/auth/auth_config.yml.
const readerRule = `  - match: {account: "reader", name: "apps/*"}
    actions: ["pull"]`

func (j *journey) aclReload(t *testing.T) {
	before := map[string]string{"auth": j.startedAt(t, "auth"), "registry": j.startedAt(t, "registry")}

	// Gain: the file watch alone must apply the edit.
	j.editAuthConfig(t, func(cfg string) string {
		return strings.Replace(cfg, readerRule, strings.Replace(readerRule, `["pull"]`, `["pull", "push"]`, 1), 1)
	})
	j.waitGrants(t, "reader", j.readerPass, "apps/hello", "pull", "push")
	j.sh.must(t, "", "docker", "push", j.ref("apps/hello:by-reader"))
	j.wantTags(t, "apps/hello", "1", "by-reader")

	// Loss, announced with SIGHUP as an operator would.
	j.editAuthConfig(t, func(cfg string) string {
		return strings.Replace(cfg, `name: "apps/*"}
    actions: ["pull", "push"]`, `name: "apps/*"}
    actions: []`, 1)
	})
	j.sh.must(t, "", j.composeArgs("kill", "-s", "SIGHUP", "auth")...)
	j.waitGrants(t, "reader", j.readerPass, "apps/hello")
	j.sh.run(t, "", "docker", "rmi", j.hello)
	j.sh.mustFail(t, "", j.pullDenied(j.hello), "docker", "pull", j.hello)

	// SIGHUP alone reloads (the file watch above cannot have caused this).
	reloads := strings.Count(j.logs(t, "auth"), reloadedLog)
	j.sh.must(t, "", j.composeArgs("kill", "-s", "SIGHUP", "auth")...)
	poll(t, reloadWait, "auth reloads on SIGHUP", func() error {
		if n := strings.Count(j.logs(t, "auth"), reloadedLog); n <= reloads {
			return fmt.Errorf("%d %q lines, as before the signal", n, reloadedLog)
		}
		return nil
	})

	// A broken edit (a typo in a key) is refused: the server keeps the last
	// good config instead of turning the rule into match-everything.
	j.editAuthConfig(t, func(cfg string) string {
		return strings.Replace(cfg, `match: {account: "admin"}`, `match: {acount: "admin"}`, 1)
	})
	j.sh.must(t, "", j.composeArgs("kill", "-s", "SIGHUP", "auth")...)
	poll(t, reloadWait, "auth logs the rejected config", func() error {
		if strings.Contains(j.logs(t, "auth"), "acount") {
			return nil
		}
		return fmt.Errorf("no log line names the bad key %q", "acount")
	})
	j.waitGrants(t, "reader", j.readerPass, "apps/hello")
	j.waitGrants(t, "admin", j.adminPass, "apps/hello", "delete", "pull", "push")

	for svc, was := range before {
		if now := j.startedAt(t, svc); now != was {
			t.Errorf("%s was restarted (%s -> %s); config edits must apply in place", svc, was, now)
		}
	}
	j.waitHealthy(t)
}

// waitGrants polls the realm until user's token for pull,push,delete on
// repo grants exactly want.
func (j *journey) waitGrants(t *testing.T, user, pass, repo string, want ...string) {
	t.Helper()
	poll(t, reloadWait, fmt.Sprintf("%s granted %q on %s", user, want, repo), func() error {
		_, acc := j.tokenFor(t, user, pass, "repository:"+repo+":pull,push,delete")
		return wantActions(acc, repo, want...)
	})
}
