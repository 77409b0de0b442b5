package token_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/pkg/token"
)

// The pull claim survives signing and verification as written: absent
// stays absent (nil), an empty list stays an empty list (it grants
// nothing, and must never read as "no claim"), a deny rule keeps its [].
func TestPullClaimRoundTrips(t *testing.T) {
	v := newTestVerifier(t, nil)
	nginx := "nginx"
	tests := []struct {
		name string
		json any // the claim as forged into the payload; nil: absent
		want *[]token.PullRule
	}{
		{"absent", nil, nil},
		{"empty list", []any{}, &[]token.PullRule{}},
		{"rules in order", []any{
			map[string]any{"name": "secret/*", "actions": []string{}},
			map[string]any{"name": nginx, "actions": []string{"pull"}},
			map[string]any{"actions": []string{"pull"}},
		}, &[]token.PullRule{
			{Name: ptr("secret/*"), Actions: []string{}},
			{Name: &nginx, Actions: []string{"pull"}},
			{Actions: []string{"pull"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tokenSpec{alg: "RS256", header: kid("rsa-key"), signer: "rsa", claims: func(m map[string]any) {
				if tt.json != nil {
					m[token.PullClaim] = tt.json
				}
			}}.build(t)
			for range 2 { // the second comes from the verifier's cache
				c, err := v.Verify(context.Background(), raw)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(c.Pull, tt.want) {
					t.Fatalf("Pull = %s, want %s", js(c.Pull), js(tt.want))
				}
				if c.Pull != nil && len(*c.Pull) > 0 {
					(*c.Pull)[0].Actions = []string{"pull"} // must not reach the cache
				}
			}
		})
	}
}

func TestPullClaimJSON(t *testing.T) {
	c := token.Claims{Pull: &[]token.PullRule{{Name: ptr("x")}, {Actions: []string{"pull"}}}}
	var members map[string]json.RawMessage
	if err := json.Unmarshal([]byte(js(c)), &members); err != nil {
		t.Fatal(err)
	}
	if got, want := string(members[token.PullClaim]), `[{"name":"x","actions":[]},{"actions":["pull"]}]`; got != want {
		t.Errorf("%s = %s, want %s", token.PullClaim, got, want)
	}
	var none []token.PullRule
	if got := js(token.Claims{Pull: &none}); !strings.Contains(got, `"`+token.PullClaim+`":[]`) {
		t.Errorf("an empty list of pull rules is not written as []: %s", got)
	}
	if got := js(token.Claims{}); strings.Contains(got, token.PullClaim) {
		t.Errorf("a token without pull rules carries the claim: %s", got)
	}
}

func ptr(s string) *string { return &s }

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
