package authserver

import (
	"testing"

	"github.com/wharf-registry/wharf/pkg/token"
)

// TestCacheKeySeparatesEveryClaim: a token is reused only for exactly the
// same account, service and grants (actions in any order), however the
// strings could be cut and joined.
func TestCacheKeySeparatesEveryClaim(t *testing.T) {
	ra := func(typ, class, name string, actions ...string) token.ResourceActions {
		return token.ResourceActions{Type: typ, Class: class, Name: name, Actions: actions}
	}
	name := "team/*"
	type claims struct {
		account, service string
		access           []token.ResourceActions
		pull             *[]token.PullRule
	}
	distinct := []claims{
		{"a", "bc", nil, nil},
		{"ab", "c", nil, nil},
		{"a", "bc", []token.ResourceActions{}, nil},
		{"a", "bc", []token.ResourceActions{ra("repository", "", "app", "pull")}, nil},
		{"a", "bc", []token.ResourceActions{ra("repository", "", "app", "pull", "push")}, nil},
		{"a", "bc", []token.ResourceActions{ra("repository", "", "app", "pullpush")}, nil},
		{"a", "bc", []token.ResourceActions{ra("repository", "", "app")}, nil},
		{"a", "bc", []token.ResourceActions{ra("repository", "", "app"), ra("repository", "", "b")}, nil},
		{"a", "bc", []token.ResourceActions{ra("repository", "plugin", "app", "pull")}, nil},
		{"a", "bc", []token.ResourceActions{ra("repositoryp", "", "app", "pull")}, nil},
		{"a", "bc", []token.ResourceActions{ra("repository", "", "1:app", "pull")}, nil},
		{"a", "bc", []token.ResourceActions{ra("repository", "", "app", "1:pull")}, nil},
		{"1:a", "bc", nil, nil},
		{"a", "bc", nil, &[]token.PullRule{}},
		{"a", "bc", nil, &[]token.PullRule{{Actions: []string{"pull"}}}},
		{"a", "bc", nil, &[]token.PullRule{{Name: &name, Actions: []string{"pull"}}}},
		{"a", "bc", nil, new([]token.PullRule)},
	}
	seen := map[string]int{}
	for i, c := range distinct {
		k := cacheKey(c.account, c.service, grant{access: c.access, pull: c.pull})
		if j, ok := seen[k]; ok {
			t.Errorf("claims %d and %d share the key %q", j, i, k)
		}
		seen[k] = i
	}
	a := cacheKey("a", "s", grant{access: []token.ResourceActions{ra("repository", "", "app", "push", "pull")}})
	b := cacheKey("a", "s", grant{access: []token.ResourceActions{ra("repository", "", "app", "pull", "push")}})
	if a != b {
		t.Errorf("the same grants in another order: %q and %q", a, b)
	}
}
