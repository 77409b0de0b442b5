package authserver

import (
	"encoding/json"
	"net/netip"

	"github.com/wharf-registry/wharf/pkg/acl"
	"github.com/wharf-registry/wharf/pkg/token"
)

// The filtered catalog, the token server's half. The registry must list
// in /v2/_catalog only what the bearer may pull, on any number of replicas
// and without reading this server's config. So a token asked for the
// catalog (scope registry:catalog:...) carries the account's pull rules,
// narrowed by pkg/acl's NarrowPull to this account, service and client
// address, in the token.PullClaim claim; the registry matches each name it
// lists against them, first match wins.
//
// Who gets the claim:
//   - an account the ACL grants the catalog: the list it sees is filtered
//     like everybody's (an admin whose rules grant every pull sees all);
//   - an account the ACL grants nothing on the catalog (no rule matched, or
//     the rule that did grants other actions): a list of what one may pull
//     reveals nothing new. Its token still lists registry:catalog with no
//     actions, so a stock registry (registry:2, registry:3), which ignores
//     the claim, refuses it the catalog exactly as before; our registry
//     takes the claim as the permission to list.
//   - not when the deciding rule is a deny written for a resource
//     (`actions: []` with a type or name condition, acl.DeniesResource):
//     that still denies the catalog.
//
// maxPullClaimBytes bounds the claim: tokens travel in a header, and
// proxies refuse long ones (nginx's default buffer is 8 KiB for the whole
// line). Rules that do not fit are not sent; the token then grants what
// the ACL grants, as before this feature (see catalogRules).
const maxPullClaimBytes = 4096

// What catalogRules decided, for the request log.
const (
	catalogFiltered = "filtered"
	catalogDenied   = "denied"
	catalogTooLarge = "rules too large"
)

// catalogRules returns the pull rules to sign into a token with grant g,
// and what was decided ("" when the catalog was not asked for).
func catalogRules(snap *snapshot, id identity, service string, ip netip.Addr, g grant) (*[]token.PullRule, string) {
	i := -1
	for j, ra := range g.access {
		if ra.Type == "registry" && ra.Name == "catalog" {
			i = j
		}
	}
	if i < 0 {
		return nil, ""
	}
	rules := snap.cfg.Rules
	if rules.DeniesResource(g.rules[i]) {
		return nil, catalogDenied
	}
	entries := rules.NarrowPull(acl.Request{Account: id.account, Labels: id.labels, Service: service, IP: ip})
	pull := make([]token.PullRule, len(entries))
	for j, e := range entries {
		pull[j] = token.PullRule{Name: e.Match.Name, Actions: *e.Actions}
	}
	if b, err := json.Marshal(pull); err != nil || len(b) > maxPullClaimBytes {
		// Fail closed: without the claim, an account the ACL did not grant
		// the catalog gets no catalog at all.
		return nil, catalogTooLarge
	}
	return &pull, catalogFiltered
}
