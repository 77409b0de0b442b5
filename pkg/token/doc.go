// Package token holds the Docker registry token model shared by the token
// server (cmd/auth) and the registry (cmd/registry).
//
// The token server parses the requested scopes (ParseScopes), decides the
// grants, and signs Claims with a Key (LoadKey, Key.Sign). It publishes its
// public keys as a JWKS (MarshalJWKS). The registry builds a Verifier from
// its auth.token configuration (root certificate bundle, trusted keys, a
// JWKSSource for a JWKS file or URL) and checks each bearer token with
// Verifier.Verify, then asks the returned Claims whether an action is
// granted (Claims.Allows).
//
// Two key id forms exist because the two generations of distribution index
// trusted keys differently: registry:2 by the libtrust fingerprint
// (LibtrustKeyID), registry:3 by the RFC 7638 thumbprint (Thumbprint). Keys
// are signed under one form and trusted under both.
//
// The package knows nothing of HTTP servers: it returns sentinel errors
// (ErrMalformedScope, ErrInvalidToken) that the HTTP layers map to status
// codes. Its only network access is JWKSSource fetching a configured URL.
package token
