package scaleout

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The OCI conformance suite as test/integration runs it (same pin, same
// switches, same reading of its junit.xml), pointed at the proxy.

// conformanceModule is the suite pinned in NOTES.md.
const conformanceModule = "github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111"

// keepResultsEnv names a directory where the suite's reports are kept, one
// subdirectory per run, as in test/integration.
const keepResultsEnv = "WHARF_CONFORMANCE_RESULTS"

// conformanceEnv turns on every API and data switch; see
// test/integration/conformance_test.go for why OCI_DATA_SPARSE stays off.
var conformanceEnv = []string{
	"OCI_TLS=disabled",
	"OCI_VERSION=1.1",
	"OCI_REPO1=conformance/repo1",
	"OCI_REPO2=conformance/repo2",
	"OCI_CACHE_AUTH=true",
	"OCI_LOG=warn",
	"OCI_API_PING=true",
	"OCI_API_PULL=true",
	"OCI_API_PUSH=true",
	"OCI_API_BLOBS_ATOMIC=true",
	"OCI_API_BLOBS_DELETE=true",
	"OCI_API_BLOBS_DIGEST_HEADER=true",
	"OCI_API_BLOBS_MOUNT_ANONYMOUS=true",
	"OCI_API_BLOBS_UPLOAD_CANCEL=true",
	"OCI_API_MANIFESTS_ATOMIC=true",
	"OCI_API_MANIFESTS_DELETE=true",
	"OCI_API_MANIFESTS_DIGEST_HEADER=true",
	"OCI_API_MANIFESTS_TAG_PARAM=true",
	"OCI_API_TAGS_ATOMIC=true",
	"OCI_API_TAGS_DELETE=true",
	"OCI_API_TAGS_LIST=true",
	"OCI_API_REFERRER=true",
	"OCI_DATA_IMAGE=true",
	"OCI_DATA_INDEX=true",
	"OCI_DATA_INDEX_LIST=true",
	"OCI_DATA_SPARSE=false",
	"OCI_DATA_ARTIFACT=true",
	"OCI_DATA_SUBJECT=true",
	"OCI_DATA_SUBJECT_MISSING=true",
	"OCI_DATA_ARTIFACT_LIST=true",
	"OCI_DATA_SUBJECT_LIST=true",
	"OCI_DATA_DATA_FIELD=true",
	"OCI_DATA_NONDISTRIBUTABLE=true",
	"OCI_DATA_CUSTOM_FIELDS=true",
	"OCI_DATA_NO_LAYERS=true",
	"OCI_DATA_EMPTY_BLOB=true",
	"OCI_DATA_SHA512=true",
}

// TestOCIConformanceThroughTheProxy runs the suite against three registries
// on one bucket through the round-robin proxy, once per S3 server, and
// once more on versitygw through the token flow with both auth servers
// behind their own proxy. Every request of the suite lands on the next
// process, so every multi-request operation crosses processes.
func TestOCIConformanceThroughTheProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite is slow; run without -short")
	}
	eachS3(t, func(t *testing.T, s *s3Server) {
		c := startCluster(t, s, clusterOptions{})
		runConformance(t, c.proxy.Host(), "", "")
	})
	t.Run("versitygw through the token flow", func(t *testing.T) {
		s := needS3(t, "versitygw")
		pair := startAuthPair(t)
		c := startCluster(t, s, clusterOptions{authYAML: pair.registry})
		runConformance(t, c.proxy.Host(), testUser, testPassword)
	})
}

var conformance struct {
	once sync.Once
	bin  string
	err  error
}

// conformanceBinary installs the pinned suite once per test binary.
func conformanceBinary(t *testing.T) string {
	t.Helper()
	conformance.once.Do(func() {
		cmd := exec.Command("go", "install", conformanceModule)
		cmd.Env = append(os.Environ(), "GOBIN="+binDir, "GOFLAGS=-buildvcs=false")
		cmd.Dir = binDir
		if out, err := cmd.CombinedOutput(); err != nil {
			conformance.err = fmt.Errorf("go install %s: %v\n%s", conformanceModule, err, out)
			return
		}
		conformance.bin = filepath.Join(binDir, "conformance")
	})
	if conformance.err != nil {
		t.Fatal(conformance.err)
	}
	return conformance.bin
}

// runConformance runs the suite against registry (as user, when set) and
// fails the test with every failing check.
func runConformance(t *testing.T, registry, user, password string) {
	t.Helper()
	bin := conformanceBinary(t)
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	if keep := os.Getenv(keepResultsEnv); keep != "" {
		results = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.RemoveAll(results); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"OCI_REGISTRY=" + registry, "OCI_RESULTS_DIR=" + results, "HOME=" + dir}
	if user != "" {
		env = append(env, "OCI_USERNAME="+user, "OCI_PASSWORD="+password)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = dir // empty: no stray oci-conformance.yaml is read
	cmd.Env = append(env, conformanceEnv...)
	out, runErr := cmd.CombinedOutput()
	if err := os.MkdirAll(results, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(results, "output.txt"), out, 0o600); err != nil {
		t.Fatal(err)
	}
	suite, err := readJUnit(filepath.Join(results, "junit.xml"))
	if err != nil {
		// The suite exits 0 even when it cannot load its configuration.
		t.Fatalf("no results from the conformance suite (exit %d): %v\n%s", exitCode(runErr), err, tail(string(out), 40))
	}
	t.Logf("conformance against %s: %d checks, %d failed, %d errors, %d skipped, %d disabled (exit %d)",
		registry, suite.Tests, suite.Failures, suite.Errors, suite.Skipped, suite.Disabled, exitCode(runErr))
	const detailed = 40
	failed := 0
	var skipped []string
	for _, tc := range suite.Cases {
		switch tc.Status {
		case "failure", "error":
			if failed++; failed <= detailed {
				t.Errorf("conformance %s: %s\n    %s", tc.Status, tc.Name, strings.ReplaceAll(strings.TrimSpace(tc.Out), "\n", "\n    "))
			}
		case "skipped":
			reason, _, _ := strings.Cut(strings.TrimSpace(tc.Out), "\n")
			skipped = append(skipped, tc.Name+": "+reason)
		}
	}
	if len(skipped) > 0 {
		t.Logf("skipped checks (features the suite found unsupported):\n  %s", strings.Join(skipped, "\n  "))
	}
	if suite.Failures+suite.Errors > 0 || exitCode(runErr) != 0 {
		t.Errorf("conformance suite: exit %d, %d failures, %d errors; want exit 0 and none", exitCode(runErr), suite.Failures, suite.Errors)
	}
	if suite.Tests-suite.Skipped-suite.Disabled <= 0 {
		t.Errorf("conformance suite passed no check at all")
	}
}

// junitSuite is the part of the suite's junit.xml the test reads.
type junitSuite struct {
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Disabled int         `xml:"disabled,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name   string `xml:"name,attr"`
	Status string `xml:"status,attr"`
	Out    string `xml:"system-out"`
}

func readJUnit(path string) (*junitSuite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Suites []junitSuite `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if len(doc.Suites) != 1 {
		return nil, fmt.Errorf("%s holds %d test suites, want 1", path, len(doc.Suites))
	}
	return &doc.Suites[0], nil
}

// exitCode extracts a command's exit status; -1 when it did not exit.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
