package interop

import (
	"encoding/json"
	"strings"
	"testing"
)

// pullClaim is pkg/token's PullClaim, written out: importing pkg/token
// would pull its JWT library into this module's go.mod for one string.
const pullClaim = "wharf_pull"

// withoutPullClaim returns the claims with the wharf_pull member removed:
// the one member we send that neither stock generation reads, on purpose
// (they decode claims without refusing unknown members, which the stock
// verifiers' acceptance of these tokens in the matrix shows). Everything
// else still goes through auditTypes' strict decoding.
func withoutPullClaim(t *testing.T, claims []byte) []byte {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(claims, &members); err != nil {
		t.Fatalf("claims %s: %v", claims, err)
	}
	if _, ok := members[pullClaim]; !ok {
		return claims
	}
	delete(members, pullClaim)
	out, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkPullClaim requires raw to carry exactly tc.pull as its wharf_pull
// claim, or none when tc.pull is "".
func checkPullClaim(t *testing.T, raw string, tc tokenCase) {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(decodeSegment(t, strings.Split(raw, ".")[1]), &members); err != nil {
		t.Fatal(err)
	}
	got, ok := members[pullClaim]
	switch {
	case tc.pull == "" && ok:
		t.Errorf("%s: token carries %s %s, want none", tc.name, pullClaim, got)
	case tc.pull != "" && string(got) != tc.pull:
		t.Errorf("%s: %s = %s, want %s", tc.name, pullClaim, got, tc.pull)
	}
}
