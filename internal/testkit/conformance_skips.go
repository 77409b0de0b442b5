package testkit

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// ConformanceSkips is the exact set of checks one configuration of the suite
// may skip: the check's name in junit.xml, and the first line of the reason
// the suite gives. The suite marks a check "skipped" when the registry lacks
// what it tests (a mount answered 202, no referrers API, ?tag= ignored), so
// a capability that stops working shows up as a skip, not as a failure:
// RunConformance fails on every skip not listed here, and on every listed
// check that no longer skips, so that each list stays exact.
type ConformanceSkips map[string]string

// mountFallback is the suite's reason when a mount request (POST
// ?mount=<digest>[&from=<repo>]) is answered with an upload session.
const mountFallback = "registry returned status 202, fell back to blob POST+PUT"

// ConformanceSkipsNoAuth is what the suite skips against an anonymous
// registry (test/integration without auth, test/scaleout on each S3
// server). Both are the mount without `from`: blobs are visible only in the
// repositories that link them (NOTES.md), and an anonymous caller is granted
// no repository to look in, so the spec's fallback, an upload session, is
// the answer.
var ConformanceSkipsNoAuth = ConformanceSkips{
	"OCI Conformance Test/sha256 blobs/mount anonymous/blob-mount-anonymous": mountFallback,
	"OCI Conformance Test/sha512 blobs/mount anonymous/blob-mount-anonymous": mountFallback,
}

// ConformanceSkipsTokenFlow is what the suite skips through the token flow:
// the mount without `from` as above (the suite's token names only the
// target repository), and the mount with `from=repo2`. The suite reuses
// the token it got for repo1 (OCI_CACHE_AUTH) and never asks for
// repository:repo2:pull, and our registry, lacking that grant, falls back
// to an upload session instead of answering 401 (a caller may push where
// it may not pull the source). Docker and go-containerregistry ask for the
// source's pull scope up front and do mount (test/integration's token-flow
// tests).
var ConformanceSkipsTokenFlow = ConformanceSkips{
	"OCI Conformance Test/sha256 blobs/mount anonymous/blob-mount-anonymous": mountFallback,
	"OCI Conformance Test/sha512 blobs/mount anonymous/blob-mount-anonymous": mountFallback,
	"OCI Conformance Test/sha256 blobs/mount/blob-mount":                     mountFallback,
	"OCI Conformance Test/sha512 blobs/mount/blob-mount":                     mountFallback,
}

// checkSkips fails t for every skipped check that want does not list (or
// lists with another reason), and for every listed check that ran without
// being skipped or did not run at all. A name may occur several times in
// junit.xml (one per step); a listed check must skip every time.
func checkSkips(t testing.TB, suite *junitSuite, want ConformanceSkips) {
	t.Helper()
	type seen struct {
		skipped  int
		statuses []string // of the occurrences that were not skipped
	}
	got := map[string]*seen{}
	for _, tc := range suite.Cases {
		s := got[tc.Name]
		if s == nil {
			s = &seen{}
			got[tc.Name] = s
		}
		if tc.Status != "skipped" {
			s.statuses = append(s.statuses, tc.Status)
			continue
		}
		s.skipped++
		// The suite's reason, e.g. "registry returned status 202, fell
		// back to blob POST+PUT" for a mount it did not get.
		reason, _, _ := strings.Cut(strings.TrimSpace(tc.Out), "\n")
		wantReason, expected := want[tc.Name]
		switch {
		case !expected:
			t.Errorf("conformance check skipped, not in the pinned list (a capability the suite now finds unsupported): %s: %s", tc.Name, reason)
		case reason != wantReason:
			t.Errorf("conformance check %s skipped for %q; the pinned list expects %q", tc.Name, reason, wantReason)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		switch s := got[name]; {
		case s == nil:
			t.Errorf("conformance check %s, pinned as skipped, did not run at all: update the pinned list", name)
		case len(s.statuses) > 0:
			t.Errorf("conformance check %s, pinned as skipped, ran (%s): remove it from the pinned list", name, strings.Join(s.statuses, ", "))
		}
	}
}
