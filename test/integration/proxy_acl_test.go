package integration

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// aclAuthConfig grants reader pull on stock/open/* only: a rule on the
// cache's prefixed names, which the upstream's names (open/app) would not
// match.
const aclAuthConfig = `server:
  addr: "127.0.0.1:%d"
token:
  issuer: %q
  expiration: 900
  certificate: %q
  key: %q
  kid_format: libtrust
  services: [%q]
users:
  reader:
    password: %q
acl:
  - match: {account: reader, type: repository, name: "stock/open/*"}
    actions: [pull]
`

// The cache's token auth and ACL decide who may pull what, on the local,
// prefixed names; a refused pull never reaches the upstream.
func TestPullThroughCacheACLMatchesPrefixedNames(t *testing.T) {
	t.Parallel()
	ups := startUpstreams(t)
	anon := newClient(t, account{}, nil)
	open := pushImage(t, anon, ups.stockHost+"/open/app:1")
	pushImage(t, anon, ups.stockHost+"/closed/app:1")

	dir := t.TempDir()
	ca := newAuthority(t)
	signer := newKey(t, p256)
	caFile := testkit.WriteFile(t, dir, "ca.pem", certPEM(ca.cert))
	certFile := testkit.WriteFile(t, dir, "token.pem", certPEM(ca.issueSigning(t, signer.Public())))
	keyFile := testkit.WriteFile(t, dir, "token.key", keyPEM(t, signer, false))
	reader := account{"reader", "reader-secret-1"}
	auth := start(t, server{
		name: "cache auth",
		bin:  authBin,
		args: func(port int) []string {
			cfg := fmt.Appendf(nil, aclAuthConfig, port, testIssuer, certFile, keyFile, testService, hash(t, reader.password))
			return []string{"serve", testkit.WriteFile(t, dir, "auth_config.yml", cfg)}
		},
		env: noEnv,
	})
	cache := startCache(t, proxiesSection("1h", "stock="+ups.stock.URL())+fmt.Sprintf(`auth:
  token:
    realm: %q
    service: %q
    issuer: %q
    rootcertbundle: %q
`, auth.URL("http")+"/auth", testService, testIssuer, caFile))

	c := newClient(t, reader, nil)
	pullImage(t, c, cache.Host()+"/stock/open/app:1", open)
	before := ups.stock.Total()
	_, err := remote.Image(ref(t, cache.Host()+"/stock/closed/app:1"), c.opts...)
	wantHTTPError(t, "pull outside the ACL", err, http.StatusUnauthorized, transport.UnauthorizedErrorCode)
	if n := ups.stock.Total() - before; n != 0 {
		t.Errorf("a pull the ACL refuses made %d upstream requests", n)
	}
}
