//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// What the docker CLI prints, pinned: users search the web for these lines,
// so they must be the same as with registry:2 and docker_auth.
const (
	loginSucceeded = "Login Succeeded"
	accessDenied   = "denied: requested access to the resource is denied"
	authRequired   = "unauthorized: authentication required"
)

// TestJourney is issue 4's journey, once with each compose implementation
// installed (docker-compose 1.29 and `docker compose` v2 read the same
// file).
func TestJourney(t *testing.T) {
	composes, err := composeCommands()
	if err != nil {
		t.Fatal(err)
	}
	for _, compose := range composes {
		t.Run(strings.Join(compose, " "), func(t *testing.T) { runJourney(t, compose) })
	}
}

// runJourney runs the steps in order; each relies on the ones before it,
// so the first failure stops the journey.
func runJourney(t *testing.T, compose []string) {
	s := newStack(t, compose)
	j := &journey{stack: s, hello: s.ref("apps/hello:1"), private: s.ref("private/hello:1")}
	t.Cleanup(func() {
		// The images the journey put in the local docker image store.
		s.sh.run(t, "", "docker", "rmi", "-f", j.hello, j.private,
			s.ref("apps/hello:by-reader"), s.ref("apps/multi:1"))
	})
	for _, st := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"1 admin logs in with no scope", j.adminLogin},
		{"2 build push remove pull run", j.pushPullRun},
		{"3 reader pulls but may not push or leave apps", j.readerRights},
		{"4 anonymous pull is refused", j.anonymous},
		{"5 wrong password fails to log in", j.wrongPassword},
		{"6 curl with Basic then Bearer", j.curlTokens},
		{"7 multi-arch index pushed by go-containerregistry runs", j.multiArch},
		{"8 data survives restart and down-up", j.restarts},
		{"9 ACL edits apply without restarting", j.aclReload},
	} {
		if !t.Run(st.name, st.run) {
			t.FailNow()
		}
	}
}

// journey holds what the steps share.
type journey struct {
	*stack
	hello, private string // image references pushed in step 2
	helloDigest    string // manifest digest docker push reported for hello
}

func (j *journey) login(t *testing.T, user, pass string) {
	t.Helper()
	out := j.sh.must(t, pass, "docker", "login", j.registry(), "-u", user, "--password-stdin")
	if !strings.Contains(out, loginSucceeded) {
		t.Fatalf("docker login as %s printed no %q:\n%s", user, loginSucceeded, out)
	}
}

func (j *journey) adminLogin(t *testing.T) {
	j.login(t, "admin", j.adminPass)
	// docker login asks the realm for a token with no scope: the auth
	// server must answer it (200, empty access) and log it as such.
	poll(t, 10*time.Second, "auth log line for admin's login", func() error {
		for _, line := range strings.Split(j.logs(t, "auth"), "\n") {
			if isTokenLog(line, "admin") && hasNoScopes(line) {
				return nil
			}
		}
		return errors.New("no token request by admin with no scope in the auth log")
	})
}

// isTokenLog reports whether line is the auth server's token request log
// for account, in slog's text or JSON form.
func isTokenLog(line, account string) bool {
	return strings.Contains(line, "token request") &&
		(strings.Contains(line, "account="+account+" ") || strings.Contains(line, `"account":"`+account+`"`))
}

func hasNoScopes(line string) bool {
	return strings.Contains(line, "scopes_asked=[]") || strings.Contains(line, `"scopes_asked":[]`)
}

var pushDigest = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`)

func (j *journey) pushPullRun(t *testing.T) {
	j.dockerBuildHello(t, j.hello, j.private, j.ref("apps/hello:by-reader"))
	out := j.sh.must(t, "", "docker", "push", j.hello)
	m := pushDigest.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("docker push printed no digest:\n%s", out)
	}
	j.helloDigest = m[1]
	j.sh.must(t, "", "docker", "push", j.private)
	j.sh.must(t, "", "docker", "rmi", j.hello, j.private)
	j.sh.must(t, "", "docker", "pull", j.hello)
	j.wantRun(t, j.hello, helloOutput(runtime.GOARCH))
}

// wantRun runs ref and checks its whole output.
func (j *journey) wantRun(t *testing.T, ref, want string) {
	t.Helper()
	if got := j.sh.must(t, "", "docker", "run", "--rm", ref); got != want {
		t.Fatalf("docker run %s printed %q, want %q", ref, got, want)
	}
}

// pullDenied is what docker pull prints when the token lacks pull.
func (j *journey) pullDenied(ref string) []string {
	repo := ref[:strings.LastIndex(ref, ":")]
	return []string{"pull access denied for " + repo, accessDenied}
}

func (j *journey) readerRights(t *testing.T) {
	j.login(t, "reader", j.readerPass)
	j.sh.must(t, "", "docker", "rmi", j.hello)
	j.sh.must(t, "", "docker", "pull", j.hello)
	j.wantRun(t, j.hello, helloOutput(runtime.GOARCH))

	j.sh.mustFail(t, "", []string{accessDenied}, "docker", "push", j.ref("apps/hello:by-reader"))
	j.sh.mustFail(t, "", j.pullDenied(j.private), "docker", "pull", j.private)

	// The refused push left nothing behind.
	j.wantTags(t, "apps/hello", "1")
}

// wantTags lists a repository's tags with an admin token.
func (j *journey) wantTags(t *testing.T, repo string, want ...string) {
	t.Helper()
	tok, _ := j.tokenFor(t, "admin", j.adminPass, "repository:"+repo+":pull")
	resp := j.get(t, request{url: "https://" + j.registry() + "/v2/" + repo + "/tags/list", bearer: tok.Token})
	if err := isTagList(resp, repo, want...); err != nil {
		t.Fatal(err)
	}
}

// isTagList checks a tags/list response: 200, the repository's name and
// exactly the tags wanted, in order.
func isTagList(resp response, repo string, want ...string) error {
	if resp.status != http.StatusOK {
		return fmt.Errorf("tags of %s: status %d %s", repo, resp.status, resp.body)
	}
	var tl struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(resp.body, &tl); err != nil {
		return fmt.Errorf("tags of %s: %v in %s", repo, err, resp.body)
	}
	if tl.Name != repo || !slices.Equal(tl.Tags, want) {
		return fmt.Errorf("tags list %s, want name %q tags %q", resp.body, repo, want)
	}
	return nil
}

func (j *journey) anonymous(t *testing.T) {
	out := j.sh.must(t, "", "docker", "logout", j.registry())
	if !strings.Contains(out, "Removing login credentials for "+j.registry()) {
		t.Fatalf("docker logout did not remove the credentials:\n%s", out)
	}
	j.sh.must(t, "", "docker", "rmi", j.hello)
	j.sh.mustFail(t, "", j.pullDenied(j.hello), "docker", "pull", j.hello)
}

func (j *journey) wrongPassword(t *testing.T) {
	wrong := j.sh.mustFail(t, "not-"+j.adminPass, []string{authRequired},
		"docker", "login", j.registry(), "-u", "admin", "--password-stdin")
	// An unknown user must be told exactly the same thing: no enumeration.
	unknown := j.sh.mustFail(t, "whatever-password", []string{authRequired},
		"docker", "login", j.registry(), "-u", "nosuchuser", "--password-stdin")
	if wrong != unknown {
		t.Errorf("wrong password and unknown user print different errors:\n%s\n---\n%s", wrong, unknown)
	}
}

func (j *journey) curlTokens(t *testing.T) {
	tok, acc := j.tokenFor(t, "reader", j.readerPass, "repository:apps/hello:pull")
	if tok.ExpiresIn != 900 {
		t.Errorf("expires_in = %d, want 900 (token.expiration)", tok.ExpiresIn)
	}
	if _, err := time.Parse(time.RFC3339, tok.IssuedAt); err != nil {
		t.Errorf("issued_at %q is not RFC 3339: %v", tok.IssuedAt, err)
	}
	if err := wantActions(acc, "apps/hello", "pull"); err != nil {
		t.Fatal(err)
	}

	base := "https://" + j.registry() + "/v2/apps/hello"
	tags := j.get(t, request{url: base + "/tags/list", bearer: tok.Token})
	if err := isTagList(tags, "apps/hello", "1"); err != nil {
		t.Error(err)
	}

	man := j.get(t, request{url: base + "/manifests/1", bearer: tok.Token, headers: []string{
		"Accept: application/vnd.docker.distribution.manifest.v2+json",
		"Accept: application/vnd.oci.image.manifest.v1+json",
	}})
	sum := sha256.Sum256(man.body)
	switch {
	case man.status != http.StatusOK:
		t.Errorf("manifest with Bearer: %d %s", man.status, man.body)
	case man.header.Get("Content-Type") != "application/vnd.docker.distribution.manifest.v2+json":
		t.Errorf("manifest Content-Type %q, want docker schema 2 (what docker pushed)", man.header.Get("Content-Type"))
	case man.header.Get("Docker-Content-Digest") != j.helloDigest:
		t.Errorf("Docker-Content-Digest %q, want %q (docker push)", man.header.Get("Docker-Content-Digest"), j.helloDigest)
	case "sha256:"+hex.EncodeToString(sum[:]) != j.helloDigest:
		t.Errorf("manifest body hashes to sha256:%x, want %s", sum, j.helloDigest)
	}

	realm := `Bearer realm="` + j.authURL() + `",service="` + service + `"`
	anon := j.get(t, request{url: base + "/tags/list"})
	wantChallenge(t, anon, realm+`,scope="repository:apps/hello:pull"`)

	// A token whose grants do not cover the repository: insufficient_scope.
	tok, acc = j.tokenFor(t, "reader", j.readerPass, "repository:private/hello:pull")
	if err := wantActions(acc, "private/hello"); err != nil {
		t.Fatal(err)
	}
	denied := j.get(t, request{url: "https://" + j.registry() + "/v2/private/hello/tags/list", bearer: tok.Token})
	wantChallenge(t, denied, realm+`,scope="repository:private/hello:pull",error="insufficient_scope"`)
}

// wantChallenge checks a 401 with exactly the challenge and an OCI body.
func wantChallenge(t *testing.T, r response, challenge string) {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Errorf("status %d, want 401; body %s", r.status, r.body)
	}
	if got := r.header.Values("Www-Authenticate"); len(got) != 1 || got[0] != challenge {
		t.Errorf("WWW-Authenticate %q, want exactly %q", got, challenge)
	}
	var body struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) == 0 || body.Errors[0].Code != "UNAUTHORIZED" {
		t.Errorf("body %s, want an OCI error with code UNAUTHORIZED", r.body)
	}
}
