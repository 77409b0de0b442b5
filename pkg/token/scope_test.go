package token_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/pkg/token"
)

func TestScopeGrammarAcceptsDockerScopes(t *testing.T) {
	tests := []struct {
		in   string
		want token.Scope
		text string // canonical String(); "" means same as in
	}{
		{"repository:app:pull", token.Scope{Type: "repository", Name: "app", Actions: []string{"pull"}}, ""},
		{"repository:localhost:5000/app:pull,push",
			token.Scope{Type: "repository", Name: "localhost:5000/app", Actions: []string{"pull", "push"}}, ""},
		{"repository(plugin):x:pull", token.Scope{Type: "repository", Class: "plugin", Name: "x", Actions: []string{"pull"}}, ""},
		{"registry:catalog:*", token.Scope{Type: "registry", Name: "catalog", Actions: []string{"*"}}, ""},
		{"repository:library/alpine:push,,pull,push,",
			token.Scope{Type: "repository", Name: "library/alpine", Actions: []string{"push", "pull"}}, "repository:library/alpine:push,pull"},
		{"repository:a/b-c/d_e.f:", token.Scope{Type: "repository", Name: "a/b-c/d_e.f", Actions: []string{}}, ""},
		{"repository:Registry.Example.com/team/app:delete",
			token.Scope{Type: "repository", Name: "Registry.Example.com/team/app", Actions: []string{"delete"}}, ""},
		{"repository:[::1]:5000/app:pull", token.Scope{Type: "repository", Name: "[::1]:5000/app", Actions: []string{"pull"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := token.ParseScope(tt.in)
			if err != nil {
				t.Fatalf("ParseScope: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseScope = %#v, want %#v", got, tt.want)
			}
			text := tt.text
			if text == "" {
				text = tt.in
			}
			if got.String() != text {
				t.Errorf("String() = %q, want %q", got.String(), text)
			}
			again, err := token.ParseScope(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("String() does not parse back: %#v, %v", again, err)
			}
		})
	}
}

func TestScopeGrammarRejectsMalformedScopes(t *testing.T) {
	for _, in := range []string{
		"",
		"repository",
		"repository:app",
		":a:b",
		"Repository:a:pull",
		"repo$:a:pull",
		"repository::pull",
		"repository:App:pull",
		"repository:app/:pull",
		"repository:/app:pull",
		"repository:app//x:pull",
		"repository:app:Pull",
		"repository:app:pull;push",
		"repository:app:pu ll",
		"repository(:app:pull",
		"repository(plugin:app:pull",
		"repository():app:pull",
		"repository(Plugin):app:pull",
		"repository(plugin)x:app:pull",
		"repository:localhost:5000",      // the port is taken as actions: "5000" is no action
		"repository:localhost:5000:pull", // a domain without a path is no name
		"repository:" + strings.Repeat("a", 256) + ":pull",
		"repository:app:" + strings.Repeat("pull,", 200),
	} {
		t.Run(in, func(t *testing.T) {
			got, err := token.ParseScope(in)
			if !errors.Is(err, token.ErrMalformedScope) {
				t.Fatalf("ParseScope(%q) = %#v, %v; want ErrMalformedScope", in, got, err)
			}
		})
	}
}

func TestScopeParamsMaySplitOrRepeat(t *testing.T) {
	tests := []struct {
		name   string
		params []string
		want   []string
	}{
		{"none", nil, nil},
		{"blank params skipped", []string{"", "  "}, nil},
		{"one", []string{"repository:app:pull"}, []string{"repository:app:pull"}},
		{"repeated", []string{"repository:a:pull", "repository:b:push"}, []string{"repository:a:pull", "repository:b:push"}},
		{"space separated", []string{"repository:a:pull repository:b:pull,push  registry:catalog:*"},
			[]string{"repository:a:pull", "repository:b:pull,push", "registry:catalog:*"}},
		{"mixed", []string{"repository:a:pull repository:b:pull", "repository:c:delete"},
			[]string{"repository:a:pull", "repository:b:pull", "repository:c:delete"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := token.ParseScopes(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, s := range got {
				texts = append(texts, s.String())
			}
			if !reflect.DeepEqual(texts, tt.want) {
				t.Fatalf("ParseScopes = %q, want %q", texts, tt.want)
			}
		})
	}
}

func TestScopeParamsRejectAnyMalformedScope(t *testing.T) {
	_, err := token.ParseScopes([]string{"repository:a:pull", "repository:b:pull bogus"})
	if !errors.Is(err, token.ErrMalformedScope) {
		t.Fatalf("err = %v, want ErrMalformedScope", err)
	}
}

func TestScopeParamsAreLimitedToMaxScopes(t *testing.T) {
	many := func(n int) []string {
		var params []string
		for i := range n {
			params = append(params, fmt.Sprintf("repository:r%d:pull", i))
		}
		return params
	}
	t.Run("at the limit", func(t *testing.T) {
		got, err := token.ParseScopes(many(token.MaxScopes))
		if err != nil || len(got) != token.MaxScopes {
			t.Fatalf("got %d scopes, %v; want %d", len(got), err, token.MaxScopes)
		}
	})
	t.Run("one more in repeated params", func(t *testing.T) {
		if _, err := token.ParseScopes(many(token.MaxScopes + 1)); !errors.Is(err, token.ErrMalformedScope) {
			t.Fatalf("err = %v, want ErrMalformedScope", err)
		}
	})
	t.Run("one more in one space-separated param", func(t *testing.T) {
		joined := strings.Join(many(token.MaxScopes+1), " ")
		if _, err := token.ParseScopes([]string{joined}); !errors.Is(err, token.ErrMalformedScope) {
			t.Fatalf("err = %v, want ErrMalformedScope", err)
		}
	})
}
