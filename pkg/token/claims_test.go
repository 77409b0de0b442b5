package token_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/wharf-registry/wharf/pkg/token"
)

func TestClaimsAllowOnlyGrantedActions(t *testing.T) {
	c := &token.Claims{Access: []token.ResourceActions{
		{Type: "repository", Name: "team/app", Actions: []string{"pull", "push"}},
		{Type: "repository", Name: "team/ro", Actions: []string{"pull"}},
		{Type: "repository", Name: "team/all", Actions: []string{"*"}},
		{Type: "repository", Name: "team/none", Actions: []string{}},
		{Type: "registry", Name: "catalog", Actions: []string{"*"}},
	}}
	tests := []struct {
		typ, name, action string
		want              bool
	}{
		{"repository", "team/app", "pull", true},
		{"repository", "team/app", "push", true},
		{"repository", "team/app", "delete", false},
		{"repository", "team/ro", "push", false},
		{"repository", "team/all", "delete", true},
		{"repository", "team/none", "pull", false},
		{"repository", "team/other", "pull", false},
		{"repository", "team", "pull", false},
		{"registry", "catalog", "*", true},
		{"registry", "team/app", "pull", false},
		{"repository", "catalog", "pull", false},
	}
	for _, tt := range tests {
		t.Run(tt.typ+":"+tt.name+":"+tt.action, func(t *testing.T) {
			if got := c.Allows(tt.typ, tt.name, tt.action); got != tt.want {
				t.Fatalf("Allows = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("nil claims allow nothing", func(t *testing.T) {
		var nilClaims *token.Claims
		if nilClaims.Allows("repository", "team/app", "pull") {
			t.Fatal("nil claims allowed an action")
		}
	})
}

func TestClaimsJSONNeverHasNullLists(t *testing.T) {
	tests := []struct {
		name   string
		claims token.Claims
		want   string // the "access" member
	}{
		{"docker login grants nothing", token.Claims{}, `[]`},
		{"nothing granted on a resource", token.Claims{Access: []token.ResourceActions{{Type: "repository", Name: "a"}}},
			`[{"type":"repository","name":"a","actions":[]}]`},
		{"actions are sorted", token.Claims{Access: []token.ResourceActions{{Type: "repository", Name: "a", Actions: []string{"push", "delete", "pull"}}}},
			`[{"type":"repository","name":"a","actions":["delete","pull","push"]}]`},
		{"class is kept", token.Claims{Access: []token.ResourceActions{{Type: "repository", Class: "plugin", Name: "a", Actions: []string{"pull"}}}},
			`[{"type":"repository","class":"plugin","name":"a","actions":["pull"]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.claims.Subject = "alice"
			data, err := json.Marshal(tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			var members map[string]json.RawMessage
			if err := json.Unmarshal(data, &members); err != nil {
				t.Fatal(err)
			}
			if got := string(members["access"]); got != tt.want {
				t.Errorf("access = %s, want %s", got, tt.want)
			}
			if got := string(members["sub"]); got != `"alice"` {
				t.Errorf("sub = %s, registered claims lost", got)
			}
		})
	}
	t.Run("marshalling does not reorder the caller's actions", func(t *testing.T) {
		actions := []string{"push", "pull"}
		if _, err := json.Marshal(token.Claims{Access: []token.ResourceActions{{Type: "repository", Name: "a", Actions: actions}}}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(actions, ",") != "push,pull" {
			t.Fatalf("actions changed to %q", actions)
		}
	})
}

// registry:2 v2.8 decodes "aud" into a string and refuses an array; the
// stock verifier itself is run against our tokens in test/interop.
func TestOneAudienceIsAStringSeveralAreAList(t *testing.T) {
	tests := []struct {
		aud  jwt.ClaimStrings
		want string // the "aud" member, "" when absent
	}{
		{nil, ""},
		{jwt.ClaimStrings{"Docker registry"}, `"Docker registry"`},
		{jwt.ClaimStrings{"a", "b"}, `["a","b"]`},
	}
	for _, tt := range tests {
		var c token.Claims
		c.Audience = tt.aud
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(data, &members); err != nil {
			t.Fatal(err)
		}
		if got := string(members["aud"]); got != tt.want {
			t.Errorf("aud %q = %s, want %s", tt.aud, got, tt.want)
		}
		var back token.Claims
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if strings.Join(back.Audience, ",") != strings.Join(tt.aud, ",") {
			t.Errorf("aud %q read back as %q", tt.aud, back.Audience)
		}
	}
}

// docker_auth writes "sub":"" for anonymous tokens (test/integration's
// docker_auth replay compares the claims); jwt/v5 alone would drop it.
func TestAnonymousTokenHasEmptySubject(t *testing.T) {
	data, err := json.Marshal(token.Claims{})
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		t.Fatal(err)
	}
	if got, ok := members["sub"]; !ok || string(got) != `""` {
		t.Errorf("sub = %s (present %v), want \"\"", got, ok)
	}
}

func TestTokenIDsAreRandom128Bit(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := token.NewJTI()
		raw, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(raw) != 16 {
			t.Fatalf("NewJTI() = %q: want 16 bytes base64url, got %d bytes, %v", id, len(raw), err)
		}
		if seen[id] {
			t.Fatalf("NewJTI() repeated %q", id)
		}
		seen[id] = true
	}
}
