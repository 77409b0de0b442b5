package hardening

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// The registry binary is built once, on first use, into binDir.
var (
	buildOnce sync.Once
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// slow reports whether the slow parts of the suite were asked for.
func slow() bool { return os.Getenv("WHARF_HARDENING_SLOW") == "1" }

// registryBinary returns the path of a freshly built cmd/registry. It is a
// plain build: -race would triple the build on two cores, and the binary's
// concurrency is covered by the in-process tests.
func registryBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the registry binary; skipped with -short")
	}
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "wharf-hardening-bin-"); buildErr != nil {
			return
		}
		buildErr = testkit.Build(binDir, "./cmd/registry")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "registry")
}

// process is a running registry binary.
type process struct {
	*testkit.Process
	URL    string // http://127.0.0.1:PORT
	config string // path of its config file
}

// startBinary runs `registry serve` over the storage root with deletes
// enabled and extra appended to the config, and waits until /healthz
// answers (200 or, on a full disk, 503). It is killed with SIGKILL when the
// test ends.
func startBinary(t *testing.T, root, extra string) *process {
	t.Helper()
	bin := registryBinary(t)
	path := filepath.Join(t.TempDir(), "config.yml")
	kp := testkit.Start(t, testkit.Spec{
		Name: "registry", Bin: bin,
		Args: func(port int) []string {
			cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %q\n  delete:\n    enabled: true\nhttp:\n  addr: \"127.0.0.1:%d\"\n%s",
				root, port, extra)
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"serve", path}
		},
		HealthHost: "127.0.0.1",
		AnyStatus:  true,
		Dir:        ".", // the test's own directory, as a plain exec would
		StopSignal: syscall.SIGKILL,
		FailTail:   1 << 20, // all of it
	})
	return &process{Process: kp, URL: fmt.Sprintf("http://127.0.0.1:%d", kp.Port()), config: path}
}

// kill sends SIGKILL, as a crash or the OOM killer would, and waits until
// the process is gone.
func (p *process) kill() {
	_ = p.Kill()
	<-p.Exited()
}

// waitForLog waits until the process has logged a line containing one of
// subs and returns which. The deadline only guards against a hang.
func (p *process) waitForLog(t *testing.T, subs ...string) string {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		out := p.Output()
		for _, s := range subs {
			if strings.Contains(out, s) {
				return s
			}
		}
	}
	t.Fatalf("the registry never logged any of %q:\n%s", subs, p.Output())
	return ""
}

// fsck runs `registry fsck` on the process's config and fails the test
// unless the store is consistent.
func fsck(t *testing.T, p *process) {
	t.Helper()
	out, err := exec.Command(registryBinary(t), "fsck", p.config).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "storage consistent") {
		t.Errorf("registry fsck: %v\n%s", err, out)
	}
}

// checkBlobFiles verifies every blob data file under root against the
// digest its path names, linked or not: a partial or empty file where a
// blob belongs is what a crash must never leave.
func checkBlobFiles(t *testing.T, root string) {
	t.Helper()
	blobs := filepath.Join(root, "docker/registry/v2/blobs")
	err := filepath.WalkDir(blobs, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if de.IsDir() || de.Name() != "data" {
			return nil
		}
		rel, _ := filepath.Rel(blobs, p)
		parts := strings.Split(filepath.ToSlash(rel), "/") // alg/xx/hex/data
		var h hash.Hash
		switch parts[0] {
		case "sha256":
			h = sha256.New()
		case "sha512":
			h = sha512.New()
		default:
			t.Errorf("blob file of unknown algorithm: %s", rel)
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != parts[2] {
			t.Errorf("blob file %s holds content of %s:%s", rel, parts[0], got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
