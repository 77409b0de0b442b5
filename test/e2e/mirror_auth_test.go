//go:build e2e

package e2e

import (
	"runtime"
	"testing"
)

// TestDockerMirrorWithHtpasswd runs the mirror with htpasswd auth. The
// daemon has no login of its own for a mirror: `docker login
// localhost:PORT` is never used for it. What it sends to a mirror's Basic
// challenge is the Docker Hub login the CLI passes with the pull (the
// "https://index.docker.io/v1/" entry of config.json). So an anonymous
// pull is refused by the mirror, and the daemon then falls back to Docker
// Hub itself; with the mirror's account stored as the Hub login the pull
// goes through the mirror.
func TestDockerMirrorWithHtpasswd(t *testing.T) {
	user, pass := "puller", "pw-"+randHex(8)
	rig := newMirrorRig(t, htpasswdFile(t, user, pass))
	counter, image := rig.counter, rig.image

	refused := func(t *testing.T, sh runner) {
		// What the user sees is the fallback's error (Docker Hub is out
		// of reach here), not the mirror's 401.
		sh.mustFail(t, "", []string{"Error response from daemon"}, "docker", "pull", image)
		if n := counter.Total(); n != 0 {
			t.Errorf("the mirror asked the upstream %d times for a refused client (%v)", n, counter.Counts())
		}
		if r := sh.quiet("", "docker", "image", "inspect", image); r.ok() {
			t.Errorf("%s exists locally after a refused pull", image)
		}
	}
	t.Run("anonymous pull is refused by the mirror", func(t *testing.T) { refused(t, dockerRunner(t, "")) })
	t.Run("a wrong password as the Hub login is refused", func(t *testing.T) {
		refused(t, dockerRunner(t, user+":wrong"))
	})
	t.Run("the mirror's account as the Hub login pulls through it", func(t *testing.T) {
		sh := dockerRunner(t, user+":"+pass)
		sh.must(t, "", "docker", "pull", image)
		if n := counter.Counts()["GET blobs"]; n < 2 {
			t.Errorf("the upstream served %d blob GETs, want the config and the layer (%v)", n, counter.Counts())
		}
		if got := sh.must(t, "", "docker", "run", "--rm", image); got != helloOutput(runtime.GOARCH) {
			t.Errorf("docker run printed %q, want %q", got, helloOutput(runtime.GOARCH))
		}
	})
}
