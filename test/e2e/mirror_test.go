//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// TestDockerPullsLibraryImagesThroughTheMirror is issue 14's proof with the
// real engine: dockerd with `registry-mirrors` pointing at our registry in
// proxy mode pulls a Docker Hub name (`NAME:1`, meaning library/NAME) that
// exists only on a local upstream. There is no internet here, so a pull
// that succeeds was served by the mirror.
func TestDockerPullsLibraryImagesThroughTheMirror(t *testing.T) {
	rig := newMirrorRig(t, "")
	counter, repo, image, digest := rig.counter, rig.repo, rig.image, rig.digest
	sh := dockerRunner(t, "")

	t.Run("first pull comes from the upstream through the mirror", func(t *testing.T) {
		out := sh.must(t, "", "docker", "pull", image)
		if !strings.Contains(out, "docker.io/library/"+image) {
			t.Errorf("docker pull did not name docker.io/library/%s:\n%s", image, out)
		}
		if !strings.Contains(out, "Digest: "+digest.String()) {
			t.Errorf("docker pull did not report the upstream's digest %s", digest)
		}
		if got := repoDigest(t, sh, image); got != repo+"@"+digest.String() {
			t.Errorf("pulled image's repo digest %s, want the upstream's %s", got, digest)
		}
		if n := counter.Counts()["GET blobs"]; n < 2 {
			t.Errorf("the upstream served %d blob GETs, want the config and the layer (%v)", n, counter.Counts())
		}
		if got := sh.must(t, "", "docker", "run", "--rm", image); got != helloOutput(runtime.GOARCH) {
			t.Errorf("docker run printed %q, want %q", got, helloOutput(runtime.GOARCH))
		}
	})

	t.Run("second pull after rmi is served from the cache", func(t *testing.T) {
		sh.must(t, "", "docker", "rmi", image)
		before, counts := counter.Total(), counter.Counts()
		sh.must(t, "", "docker", "pull", image)
		if asked := counter.Total() - before; asked != 0 {
			t.Errorf("second pull asked the upstream %d times, want 0 (before %v, after %v)", asked, counts, counter.Counts())
		}
		if got := sh.must(t, "", "docker", "run", "--rm", image); got != helloOutput(runtime.GOARCH) {
			t.Errorf("docker run printed %q, want %q", got, helloOutput(runtime.GOARCH))
		}
	})

	t.Run("a name the upstream lacks fails fast", func(t *testing.T) {
		absent := "wharf-e2e-absent-" + randHex(4) + ":1"
		before := counter.Counts()["GET manifests"] + counter.Counts()["HEAD manifests"]
		started := time.Now()
		sh.mustFail(t, "", []string{"Error response from daemon"}, "docker", "pull", absent)
		took := time.Since(started)
		t.Logf("docker pull of %s failed after %v", absent, took.Round(time.Millisecond))
		// The bound only catches a hang (the mirror's upstream timeouts
		// are 5 s and 20 s): a 404 upstream must not wait for them.
		if took > 60*time.Second {
			t.Errorf("docker pull of a missing name took %v, want a prompt failure", took)
		}
		if asked := counter.Counts()["GET manifests"] + counter.Counts()["HEAD manifests"] - before; asked == 0 {
			t.Errorf("the mirror never asked the upstream for %s: the daemon did not use it", absent)
		}
		if r := sh.quiet("", "docker", "image", "inspect", absent); r.ok() {
			t.Errorf("%s exists locally after a failed pull", absent)
		}
	})
}

// mirrorRig is the setup of a mirror test: the stock upstream behind a
// counting proxy holding library/REPO:1, our registry as its cache, and
// dockerd using that as its registry mirror.
type mirrorRig struct {
	counter *testkit.CountingProxy // counts what the mirror asks the upstream
	repo    string                 // unique per run, so parallel suites never share it
	image   string                 // REPO:1, the Docker Hub name docker pulls
	digest  v1.Hash                // of the manifest pushed to the upstream
}

// newMirrorRig sets a mirror test up; htpasswd, when not empty, turns on
// the mirror's htpasswd auth with that file. The pulled image is removed
// from the engine when the test ends.
func newMirrorRig(t *testing.T, htpasswd string) *mirrorRig {
	t.Helper()
	cfg := daemonConfigPath(t)
	counter, upstreamHost := startMirrorUpstream(t)
	repo := "wharf-e2e-mirror-" + randHex(4)
	rig := &mirrorRig{counter: counter, repo: repo, image: repo + ":1", digest: pushLibraryHello(t, upstreamHost, repo)}
	mirror := startMirror(t, counter.URL(), htpasswd)
	useRegistryMirror(t, cfg, mirror.URL("http"))
	t.Cleanup(func() { dockerRunner(t, "").run(t, "", "docker", "rmi", "-f", rig.image) })
	return rig
}

// startMirrorUpstream starts the stock registry:3, anonymous, behind a
// counting proxy. It returns the proxy (the mirror's upstream) and the
// registry's own localhost:PORT, where the test pushes without being
// counted.
func startMirrorUpstream(t *testing.T) (*testkit.CountingProxy, string) {
	t.Helper()
	bin := testkit.StockRegistryBinary(t, testkit.StockRegistryV3)
	root, dir := t.TempDir(), t.TempDir()
	up := testkit.Start(t, testkit.Spec{
		Name: "upstream registry " + testkit.StockRegistryV3.Version,
		Bin:  bin,
		Args: func(port int) []string {
			// No http.debug: its listener stays off.
			return []string{"serve", testkit.WriteFile(t, dir, "config.yml", registryYAML(root, port, ""))}
		},
		Env: func(int) []string { return []string{"OTEL_TRACES_EXPORTER=none"} },
		// registry:3 has no /healthz: its 404 means it is up.
		AnyStatus: true,
	})
	return testkit.NewCountingProxy(t, up.URL("http")), up.Host()
}

// startMirror starts our registry (bin/registry, as make e2e builds it) as
// a pull-through cache of upstream, configured as registry:2's mirror
// recipe does, with REGISTRY_PROXY_REMOTEURL. A non-empty htpasswd is the
// content of the file its htpasswd auth reads.
func startMirror(t *testing.T, upstream, htpasswd string) *testkit.Process {
	t.Helper()
	bin := filepath.Join(repoRoot, "bin", "registry")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("bin/registry missing: run `make e2e` (it builds bin/): %v", err)
	}
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	// The upstream as a user writes it: localhost, not an IP literal.
	remoteURL := "http://localhost:" + u.Port()
	root, dir := t.TempDir(), t.TempDir()
	auth := ""
	if htpasswd != "" {
		auth = fmt.Sprintf("auth: {htpasswd: {realm: mirror, path: %q}}\n", testkit.WriteFile(t, dir, "htpasswd", []byte(htpasswd)))
	}
	return testkit.Start(t, testkit.Spec{
		Name: "mirror (our registry, proxy mode)",
		Bin:  bin,
		Args: func(port int) []string {
			return []string{"serve", testkit.WriteFile(t, dir, "config.yml", registryYAML(root, port, auth))}
		},
		Env: func(int) []string { return []string{"REGISTRY_PROXY_REMOTEURL=" + remoteURL} },
	})
}

// registryYAML is a registry:2-format config, read by the stock registry
// and ours alike: filesystem storage in root, plain HTTP on the loopback
// port, and extra sections.
func registryYAML(root string, port int, extra string) []byte {
	return []byte(fmt.Sprintf("version: 0.1\nlog: {level: info}\nstorage: {filesystem: {rootdirectory: %q}}\nhttp: {addr: \"127.0.0.1:%d\"}\n%s",
		root, port, extra))
}

// pushLibraryHello pushes the hello image to library/repo:1 on the
// upstream at host (not through the counting proxy) and returns its
// manifest digest.
func pushLibraryHello(t *testing.T, host, repo string) v1.Hash {
	t.Helper()
	img := helloImage(t, t.TempDir(), runtime.GOARCH)
	ref, err := name.ParseReference(host + "/library/" + repo + ":1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing %s to the upstream: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// dockerRunner runs the docker CLI with a fresh DOCKER_CONFIG, so none of
// the machine user's logins take part in the pulls. A non-empty hubAuth
// ("user:password") is stored as the Docker Hub login, where `docker
// login` (without a server) would put it.
func dockerRunner(t *testing.T, hubAuth string) runner {
	t.Helper()
	dir := t.TempDir()
	if hubAuth != "" {
		conf := fmt.Sprintf(`{"auths": {"https://index.docker.io/v1/": {"auth": %q}}}`,
			base64.StdEncoding.EncodeToString([]byte(hubAuth)))
		writeFile(t, filepath.Join(dir, "config.json"), []byte(conf), 0o600)
	}
	return runner{dir: repoRoot, env: []string{"DOCKER_CONFIG=" + dir}}
}

// repoDigest is the image's first RepoDigests entry: name@manifest digest.
func repoDigest(t *testing.T, sh runner, image string) string {
	t.Helper()
	return strings.TrimSpace(sh.mustQuiet(t, "docker", "image", "inspect", "-f", "{{index .RepoDigests 0}}", image))
}

// htpasswdFile is one bcrypt line for user, at the lowest cost.
func htpasswdFile(t *testing.T, user, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + string(h) + "\n"
}
