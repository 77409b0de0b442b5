package testkit

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

// ConformanceModule is the OCI distribution-spec conformance suite pinned in
// NOTES.md (about 1,000 checks; registry:3 fails 97 of them).
const ConformanceModule = "github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111"

// ConformanceResultsEnv names a directory where the suite's reports
// (report.html, junit.xml, results.yaml, output.txt) are kept, one
// subdirectory per run; without it they go to a temporary directory.
const ConformanceResultsEnv = "WHARF_CONFORMANCE_RESULTS"

// conformanceEnv turns on every API and data switch of the suite. Names come
// from the suite's config.go: OCI_TLS=disabled is its plain-HTTP setting (the
// default is TLS, and "insecure" has no effect), and the switches that only
// OCI_VERSION=dev turns on by default (upload cancel, required digest
// headers, ?tag= on manifest PUT) are set explicitly. A registry that lacks
// an optional feature makes the suite report "Skip", not a failure, which
// is why each configuration pins the checks it may skip (ConformanceSkips).
//
// Only OCI_DATA_SPARSE stays off: it pushes manifests whose blobs were never
// uploaded and expects them to be stored, while our registry (issue 3, and the
// spec's MANIFEST_BLOB_UNKNOWN) must refuse exactly that.
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

// conformance is the suite installed once per test binary.
var conformance struct {
	once sync.Once
	bin  string
	err  error
}

// conformanceBinary installs the pinned suite into dir on the first call of
// the test binary (what `go run module@version` does, without compiling it
// twice); later calls return that binary whatever their dir.
func conformanceBinary(t testing.TB, dir string) string {
	t.Helper()
	conformance.once.Do(func() {
		cmd := exec.Command("go", "install", ConformanceModule)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			conformance.err = fmt.Errorf("go install %s: %v\n%s", ConformanceModule, err, out)
			return
		}
		conformance.bin = filepath.Join(dir, "conformance")
	})
	if conformance.err != nil {
		t.Fatal(conformance.err)
	}
	return conformance.bin
}

// RunConformance runs the pinned suite (installed into installDir) against
// registry, as user when set (anonymous otherwise), with every switch on,
// and fails the test with every failing check and its errors, unless the
// suite reports zero failures and errors, exits 0, passes some check and
// skips exactly the checks skips lists.
func RunConformance(t testing.TB, installDir, registry, user, password string, skips ConformanceSkips) {
	t.Helper()
	bin := conformanceBinary(t, installDir)
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	if keep := os.Getenv(ConformanceResultsEnv); keep != "" {
		// CI keeps report.html, junit.xml and the console output.
		results = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
		// A report left by an earlier run must not pass for this one's.
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
	// The working directory is empty, so no stray oci-conformance.yaml is read.
	cmd.Dir = dir
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
		// The suite exits 0 even when it cannot load its configuration, so
		// a missing report is a failure in its own right.
		t.Fatalf("no results from the conformance suite (exit %d): %v\n%s", ExitCode(runErr), err, Tail(string(out), 40))
	}
	t.Logf("conformance against %s: %d checks, %d failed, %d errors, %d skipped, %d disabled (exit %d)",
		registry, suite.Tests, suite.Failures, suite.Errors, suite.Skipped, suite.Disabled, ExitCode(runErr))
	if summary := conformanceSummary(string(out)); summary != "" {
		t.Logf("suite summary:\n%s", summary)
	}
	reportCases(t, suite)
	checkSkips(t, suite, skips)
	if suite.Failures+suite.Errors > 0 || ExitCode(runErr) != 0 {
		t.Errorf("conformance suite: exit %d, %d failures, %d errors; want exit 0 and none", ExitCode(runErr), suite.Failures, suite.Errors)
	}
	if suite.Tests-suite.Skipped-suite.Disabled <= 0 {
		t.Errorf("conformance suite passed no check at all")
	}
}

// reportCases fails t with every failing check and its errors, up to a
// point (one broken endpoint can fail hundreds of checks, and the first
// ones say enough; the rest are named). checkSkips judges the skipped ones.
func reportCases(t testing.TB, suite *junitSuite) {
	t.Helper()
	const detailed = 40
	var more []string
	failed := 0
	for _, tc := range suite.Cases {
		switch tc.Status {
		case "failure", "error":
			if failed++; failed <= detailed {
				t.Errorf("conformance %s: %s\n    %s", tc.Status, tc.Name, strings.ReplaceAll(strings.TrimSpace(tc.Out), "\n", "\n    "))
			} else {
				more = append(more, tc.Name)
			}
		}
	}
	if len(more) > 0 {
		t.Errorf("%d more failing checks:\n  %s", len(more), strings.Join(more, "\n  "))
	}
}

// junitSuite is the part of the suite's junit.xml the report reads.
type junitSuite struct {
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Disabled int         `xml:"disabled,attr"`
	Cases    []junitCase `xml:"testcase"`
}

// junitCase is one check of the suite.
type junitCase struct {
	Name   string `xml:"name,attr"`
	Status string `xml:"status,attr"`
	Out    string `xml:"system-out"`
}

// readJUnit reads the single test suite of a junit.xml.
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

// conformanceSummary extracts the result counts and the per-API and per-data
// status tables from the suite's console report, leaving out the long
// per-check tree and the configuration dump.
func conformanceSummary(out string) string {
	i := strings.Index(out, "OCI Conformance Result:")
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(out[i:])
}
