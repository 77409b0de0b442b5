package testkit

import (
	"fmt"
	"strings"
	"testing"
)

// errorRecorder is a testing.TB that keeps what Errorf reports instead of
// failing the test that runs checkSkips.
type errorRecorder struct {
	testing.TB
	errors []string
}

func (r *errorRecorder) Helper() {}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestCheckSkipsHoldsThePinnedListExact reads junit cases as the suite
// writes them (a name may repeat, one per step) and checks which lists
// pass and what each failure says.
func TestCheckSkipsHoldsThePinnedListExact(t *testing.T) {
	const mount, tagParam = "blobs/mount/blob-mount", "manifests/put-with-tag-param"
	skip := func(name, reason string) junitCase {
		return junitCase{Name: name, Status: "skipped", Out: reason + "\nmore detail"}
	}
	pass := func(name string) junitCase { return junitCase{Name: name, Status: "passed"} }
	pinned := ConformanceSkips{mount: mountFallback}
	tests := []struct {
		name  string
		cases []junitCase
		want  []string // substrings of the expected errors, in order
	}{
		{"exactly the pinned skips", []junitCase{skip(mount, mountFallback), pass(tagParam), pass(tagParam)}, nil},
		{"a capability turned unsupported", []junitCase{skip(mount, mountFallback), skip(tagParam, "tag param ignored")},
			[]string{"skipped, not in the pinned list (a capability the suite now finds unsupported): " + tagParam}},
		{"a pinned skip for another reason", []junitCase{skip(mount, "registry returned status 500")},
			[]string{"skipped for \"registry returned status 500\""}},
		{"a pinned skip that passes now", []junitCase{pass(mount), pass(mount)},
			[]string{mount + ", pinned as skipped, ran (passed, passed): remove it"}},
		{"a pinned skip that passes in one step", []junitCase{skip(mount, mountFallback), pass(mount)},
			[]string{"ran (passed)"}},
		{"a pinned check that is gone", []junitCase{pass(tagParam)},
			[]string{mount + ", pinned as skipped, did not run at all"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &errorRecorder{TB: t}
			checkSkips(r, &junitSuite{Cases: tc.cases}, pinned)
			if len(r.errors) != len(tc.want) {
				t.Fatalf("errors %q; want %d", r.errors, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(r.errors[i], w) {
					t.Errorf("error %q; want it to contain %q", r.errors[i], w)
				}
			}
		})
	}
}
