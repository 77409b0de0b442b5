package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// dockerStack is deploy/compose brought up as a user would (make images,
// certgen, setup.sh, docker-compose up) under a project of its own, plus a
// second registry container with auth off over the same volume.
type dockerStack struct {
	repoRoot, dir, project      string
	compose                     []string
	env                         []string
	regPort, authPort, openPort int
	tag                         string
	adminPass                   string
	caPool                      *x509.CertPool
	trusted                     []string
	openName                    string
	log                         io.Writer
}

// trustMarker marks a certs.d directory this harness made.
const trustMarker = ".wharfbench"

// dockerSkipReason says why row 11 cannot run here, or "".
func dockerSkipReason(cfg config) string {
	if cfg.docker == "off" {
		return "skipped: -docker off"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		return "skipped: no docker (" + strings.TrimSpace(tail(string(out), 1)) + ")"
	}
	if os.Geteuid() != 0 {
		return "skipped: needs root (keys for uid 65532, CA in /etc/docker/certs.d)"
	}
	return ""
}

// composeCommand finds docker-compose or the compose plugin.
func composeCommand() ([]string, error) {
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}, nil
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}, nil
	}
	return nil, errors.New("neither docker-compose nor the docker compose plugin is installed")
}

// findRepoRoot walks up from the working directory to the module root.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "deploy", "compose", "docker-compose.yml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from the repository: deploy/compose/docker-compose.yml not found above the working directory")
		}
		dir = parent
	}
}

// newDockerStack builds the images from bin/, makes certificates and the
// auth config, trusts the CA, and starts both stacks.
func newDockerStack(b *bench) (s *dockerStack, err error) {
	root, err := findRepoRoot()
	if err != nil {
		return nil, err
	}
	compose, err := composeCommand()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.dir, "docker")
	s = &dockerStack{
		repoRoot: root, dir: dir, compose: compose, log: b.log,
		project:   "wharfbench" + randomPassword()[:8],
		tag:       "wharfbench",
		adminPass: "admin-" + randomPassword(),
	}
	defer func() {
		if err != nil {
			s.close()
			s = nil
		}
	}()
	// The containers run as uid 65532 and must reach into the bind mounts.
	for _, d := range []string{b.dir, dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return s, err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return s, err
		}
	}
	for _, p := range []*int{&s.regPort, &s.authPort, &s.openPort} {
		if *p, err = freePort(); err != nil {
			return s, err
		}
	}
	s.openName = s.project + "-open"
	certs := filepath.Join(dir, "certs")
	s.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"DOCKER_CONFIG=" + filepath.Join(dir, "dockercfg"),
		"DOCKER_BUILDKIT=0",
		"WHARF_TAG=" + s.tag,
		"WHARF_HOST=localhost",
		"WHARF_BIND=127.0.0.1",
		"WHARF_REGISTRY_PORT=" + strconv.Itoa(s.regPort),
		"WHARF_AUTH_PORT=" + strconv.Itoa(s.authPort),
		"WHARF_CERTS_DIR=" + certs,
		"AUTH_CONFIG_DIR=" + filepath.Join(dir, "auth"),
		"REGISTRY_CONFIG_DIR=" + filepath.Join(root, "configs", "compose", "registry"),
	}
	fmt.Fprintln(s.log, "  row 11: building images, certificates and config")
	if err := s.buildImages(); err != nil {
		return s, err
	}
	steps := [][]string{
		{filepath.Join(root, "bin", "certgen"), "--out", certs, "--owner", "65532:65532"},
		{"env", "ADMIN_PASSWORD=" + s.adminPass, "READER_PASSWORD=reader-" + randomPassword(), "BCRYPT_COST=10",
			"AUTH_BIN=" + filepath.Join(root, "bin", "auth"), filepath.Join(root, "deploy", "compose", "setup.sh")},
	}
	for _, argv := range steps {
		if _, err := s.run(argv...); err != nil {
			return s, err
		}
	}
	ca, err := os.ReadFile(filepath.Join(certs, "ca.crt"))
	if err != nil {
		return s, err
	}
	s.caPool = x509.NewCertPool()
	s.caPool.AppendCertsFromPEM(ca)
	if err := s.trust(ca); err != nil {
		return s, err
	}
	fmt.Fprintln(s.log, "  row 11: docker-compose up")
	if _, err := s.run(s.composeArgs("up", "-d")...); err != nil {
		return s, err
	}
	for _, svc := range []string{"auth", "registry"} {
		if err := s.waitHealthy(svc); err != nil {
			return s, err
		}
	}
	if err := s.startOpen(); err != nil {
		return s, err
	}
	return s, nil
}

// buildImages does what scripts/build-images.sh (make images) does, in a
// build context of its own so that a `make images` running meanwhile is
// not disturbed: wharf/auth and wharf/registry FROM scratch out of bin/.
func (s *dockerStack) buildImages() error {
	ctxDir := filepath.Join(s.dir, "image-context")
	if err := os.MkdirAll(filepath.Join(ctxDir, "empty"), 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"auth": "bin/auth", "registry": "bin/registry", "htpasswd": "bin/htpasswd", "healthcheck": "bin/healthcheck",
		"passwd": "deploy/compose/image/passwd", "group": "deploy/compose/image/group",
		"config.yml": "deploy/compose/image/config.yml", "Dockerfile": "deploy/compose/Dockerfile.scratch",
	}
	for dst, src := range files {
		data, err := os.ReadFile(filepath.Join(s.repoRoot, src))
		if err != nil {
			return fmt.Errorf("%v (run make build)", err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, dst), data, 0o755); err != nil {
			return err
		}
	}
	for _, target := range []string{"auth", "registry"} {
		if _, err := s.run("docker", "build", "--quiet", "--target", target, "-t", "wharf/"+target+":"+s.tag, ctxDir); err != nil {
			return err
		}
	}
	return nil
}

func (s *dockerStack) composeArgs(args ...string) []string {
	argv := append([]string{}, s.compose...)
	argv = append(argv, "-p", s.project, "-f", filepath.Join(s.repoRoot, "deploy", "compose", "docker-compose.yml"))
	return append(argv, args...)
}

// run runs a command with the stack's environment and returns its output.
func (s *dockerStack) run(argv ...string) (string, error) { return s.runWith(nil, argv...) }

// runWith is run with stdin.
func (s *dockerStack) runWith(stdin io.Reader, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdin = s.repoRoot, s.env, stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, tail(string(out), 15))
	}
	return string(out), nil
}

// trust installs the CA where the Docker daemon looks for it, for the
// registry, the realm and the auth-off registry.
func (s *dockerStack) trust(ca []byte) error {
	for _, port := range []int{s.regPort, s.authPort, s.openPort} {
		d := filepath.Join("/etc/docker/certs.d", "localhost:"+strconv.Itoa(port))
		if _, err := os.Stat(d); err == nil {
			if _, err := os.Stat(filepath.Join(d, trustMarker)); err != nil {
				return fmt.Errorf("%s exists and is not ours; not touching it", d)
			}
			os.RemoveAll(d)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		s.trusted = append(s.trusted, d)
		if err := writeFiles(map[string][]byte{filepath.Join(d, trustMarker): nil, filepath.Join(d, "ca.crt"): ca}); err != nil {
			return err
		}
	}
	return nil
}

// containerID returns a compose service's container id.
func (s *dockerStack) containerID(svc string) (string, error) {
	out, err := s.run(s.composeArgs("ps", "-q", svc)...)
	return strings.TrimSpace(out), err
}

func (s *dockerStack) waitHealthy(svc string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		id, err := s.containerID(svc)
		if err == nil && id != "" {
			out, _ := s.run("docker", "inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", id)
			switch st := strings.TrimSpace(out); {
			case st == "running healthy":
				return nil
			case strings.HasPrefix(st, "exited") || strings.HasSuffix(st, "unhealthy"):
				logs, _ := s.run(s.composeArgs("logs", "--no-color", svc)...)
				return fmt.Errorf("%s is %s:\n%s", svc, st, tail(logs, 20))
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("%s did not become healthy", svc)
}

// openConfig is configs/compose/registry/config.yml without its auth
// section: the auth-off registry.
const openConfig = `version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
  tls:
    certificate: /certs/server.crt
    key: /certs/server.key
`

// startOpen runs the same image with auth off, over the compose project's
// volume, published on openPort.
func (s *dockerStack) startOpen() error {
	id, err := s.containerID("registry")
	if err != nil {
		return err
	}
	vol, err := s.run("docker", "inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/var/lib/registry"}}{{.Name}}{{end}}{{end}}`, id)
	if err != nil {
		return err
	}
	cfgDir := filepath.Join(s.dir, "open")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "config.yml"), []byte(openConfig), 0o644); err != nil {
		return err
	}
	if _, err := s.run("docker", "run", "-d", "--name", s.openName,
		"-p", fmt.Sprintf("127.0.0.1:%d:5000", s.openPort),
		"-v", strings.TrimSpace(vol)+":/var/lib/registry",
		"-v", cfgDir+":/etc/docker/registry:ro",
		"-v", filepath.Join(s.dir, "certs")+":/certs:ro",
		"wharf/registry:"+s.tag); err != nil {
		return err
	}
	c := s.httpClient()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := c.Get(fmt.Sprintf("https://localhost:%d/v2/", s.openPort))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	logs, _ := s.run("docker", "logs", s.openName)
	return fmt.Errorf("the auth-off registry did not answer:\n%s", tail(logs, 20))
}

// httpClient trusts the stack's CA.
func (s *dockerStack) httpClient() *http.Client {
	t := newTransport(4)
	t.TLSClientConfig = &tls.Config{RootCAs: s.caPool}
	return &http.Client{Transport: t, Timeout: time.Minute}
}

// close removes everything the stack made: containers, volume, pulled and
// built image tags, trusted CAs.
func (s *dockerStack) close() {
	if s == nil {
		return
	}
	s.run("docker", "rm", "-f", s.openName)
	s.run(s.composeArgs("down", "-v", "--remove-orphans", "--timeout", "10")...)
	for _, d := range s.trusted {
		os.RemoveAll(d)
	}
	s.run("docker", "rmi", "wharf/auth:"+s.tag, "wharf/registry:"+s.tag)
}
