// Package interop proves that the tokens our auth issues are accepted, with
// exactly the access it meant to grant, by the stock verification code of
// registry:2 (github.com/docker/distribution v2.8.3, registry/auth/token)
// and registry:3 (github.com/distribution/distribution/v3 v3.1.1, the same
// package), called as the stock registries call it.
//
// It is a module of its own so that those libraries, and the old versions
// they pin, stay out of wharf's go.mod. Its import path lies under wharf's,
// so it may import wharf's internal packages (the replace directive points
// at ../..), and it builds cmd/auth with wharf's own go.mod.
package interop
