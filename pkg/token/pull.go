package token

import (
	"encoding/json"
	"slices"
)

// PullClaim is the name of the claim holding an account's pull rules,
// already narrowed to the account, service and client address (pkg/acl's
// NarrowPull). The token server adds it to tokens granting the catalog so
// that the registry can list only what the bearer may pull, without
// reading the token server's config. Registries that do not know it (stock
// registry:2 and registry:3) ignore it, as JWT registries ignore every
// claim they do not read.
const PullClaim = "wharf_pull"

// PullRule is one rule of the PullClaim, in the order of the ACL: the
// first rule whose Name matches a repository decides it. Name is a pkg/acl
// pattern (glob or /regex/, no placeholders); nil matches every name.
// Actions is ["pull"] or [].
type PullRule struct {
	Name    *string  `json:"name,omitempty"`
	Actions []string `json:"actions"` // never null in JSON
}

// MarshalJSON writes Actions as [] rather than null: a deny rule must stay
// a deny rule for every reader of the claim.
func (r PullRule) MarshalJSON() ([]byte, error) {
	type plain PullRule // drops this method, so no recursion
	p := plain(r)
	if p.Actions == nil {
		p.Actions = []string{}
	}
	return json.Marshal(p)
}

func clonePull(rules *[]PullRule) *[]PullRule {
	if rules == nil {
		return nil
	}
	out := make([]PullRule, len(*rules))
	for i, r := range *rules {
		if r.Name != nil {
			name := *r.Name
			r.Name = &name
		}
		r.Actions = slices.Clone(r.Actions)
		out[i] = r
	}
	return &out
}
