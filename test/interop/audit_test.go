package interop

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	v3token "github.com/distribution/distribution/v3/registry/auth/token"
	v2token "github.com/docker/distribution/registry/auth/token"
)

// auditTypes decodes raw's header and claims into the stock packages' own
// types with unknown members refused: every member we send is one both
// generations read, with the JSON type they read it as (exp/nbf/iat as
// integers, aud a string for v2.8.3, access entries as objects with
// type/name/actions). Acceptance alone would not show a member that a
// stock verifier silently drops.
func auditTypes(t *testing.T, raw string) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	header, claims := decodeSegment(t, parts[0]), withoutPullClaim(t, decodeSegment(t, parts[1]))
	strict(t, "v2.8.3 Header", header, &v2token.Header{})
	var v2 v2token.ClaimSet
	strict(t, "v2.8.3 ClaimSet", claims, &v2)
	var v3 v3token.ClaimSet
	strict(t, "v3.1.1 ClaimSet", claims, &v3)
	if v2.Expiration == 0 || v2.IssuedAt == 0 || v2.NotBefore == 0 || v2.Access == nil {
		t.Errorf("claims %s: exp, iat, nbf and access must all be present", claims)
	}
	if len(v3.Audience) != 1 || v3.Audience[0] != v2.Audience {
		t.Errorf("claims %s: v3 reads aud %q, v2.8.3 %q", claims, v3.Audience, v2.Audience)
	}
}

func decodeSegment(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("segment %q: %v", s, err)
	}
	return b
}

func strict(t *testing.T, what string, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Errorf("%s refuses %s: %v", what, data, err)
	}
}
