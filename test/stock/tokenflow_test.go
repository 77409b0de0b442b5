package stock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
	"github.com/wharf-registry/wharf/internal/testkit"
)

// The issuer and service the generated configs agree on.
const (
	issuer  = "wharf stock-interop issuer"
	service = "stock-registry"
)

// authConfig is docker_auth's format, as a docker_auth user would write it
// (admin may do anything, reader may pull, the anonymous user exists but is
// granted nothing), plus our kid_format and services.
const authConfig = `server:
  addr: "127.0.0.1:%d"
token:
  issuer: %q
  expiration: 900
  key: %q
%s  kid_format: %q
  services: [%q]
users:
  admin:
    password: %q
  reader:
    password: %q
  "": {}
acl:
  - match: {account: admin}
    actions: ["*"]
    comment: "admin may do anything, the catalog included"
  - match: {account: reader, type: repository}
    actions: ["pull"]
    comment: "reader pulls every repository"
`

// trust is one way a stock registry can be told to trust our tokens.
type trust struct {
	name string
	rsa  bool
	// kid is our auth's token.kid_format.
	kid string
	// x5c: our auth has the certificate and sends it in every token;
	// otherwise it has the key only and the registry finds it by kid.
	x5c bool
	// jwks: the registry trusts our /.well-known/jwks.json, saved to a
	// file (registry:3's auth.token.jwks); otherwise our certificate, as
	// rootcertbundle.
	jwks bool
	// stocks are the stock registries that verify tokens this way.
	stocks []testkit.StockRegistry
}

// trusts are the setups that matter. registry:2 v2.8 looks a key up by
// libtrust kid or verifies x5c; registry:3 verifies x5c or looks the kid up
// by RFC 7638 thumbprint (among rootcertbundle's keys and the JWKS).
var trusts = []trust{
	{name: "RSA, libtrust kid and x5c", rsa: true, kid: "libtrust", x5c: true,
		stocks: testkit.StockRegistries},
	{name: "ECDSA P-256, libtrust kid and x5c", kid: "libtrust", x5c: true,
		stocks: testkit.StockRegistries},
	// registry:3 refuses this one (invalid token): it looks kids up by
	// thumbprint only, so a libtrust kid needs x5c there.
	{name: "ECDSA P-256, libtrust kid, no certificate", kid: "libtrust",
		stocks: []testkit.StockRegistry{testkit.StockRegistryV2}},
	{name: "RSA, jwk-thumbprint kid, no certificate, JWKS file", rsa: true, kid: "jwk-thumbprint", jwks: true,
		stocks: []testkit.StockRegistry{testkit.StockRegistryV3}},
	{name: "ECDSA P-256, jwk-thumbprint kid, no certificate, rootcertbundle", kid: "jwk-thumbprint",
		stocks: []testkit.StockRegistry{testkit.StockRegistryV3}},
}

// TestOurAuthInFrontOfStockRegistry is the first step of anyone replacing
// docker_auth: our auth issues the tokens, the stock registry checks them,
// go-containerregistry runs the real token flow (challenge, realm with
// Basic credentials, Bearer retry).
func TestOurAuthInFrontOfStockRegistry(t *testing.T) {
	for _, tr := range trusts {
		for _, r := range tr.stocks {
			t.Run(r.Version+"/"+tr.name, func(t *testing.T) {
				authURL, host := startAuthAndStock(t, stockProgram(t, r), tr)
				testTokenFlow(t, authURL, host)
			})
		}
	}
}

// TestKidFormTheStockRegistryCannotRead shows why token.kid_format matters:
// without x5c, each stock generation finds the key only by its own kid form
// and refuses the other (invalid token), so the cases above that pass
// prove the form they name.
func TestKidFormTheStockRegistryCannotRead(t *testing.T) {
	for _, tc := range []struct {
		r   testkit.StockRegistry
		kid string
	}{
		{testkit.StockRegistryV2, "jwk-thumbprint"},
		{testkit.StockRegistryV3, "libtrust"},
	} {
		t.Run(tc.r.Version+" with a "+tc.kid+" kid", func(t *testing.T) {
			_, host := startAuthAndStock(t, stockProgram(t, tc.r), trust{kid: tc.kid})
			_, err := remote.Catalog(t.Context(), mustRegistry(t, host), newClient(t, admin).opts...)
			wantRefused(t, "catalog as admin", err, http.StatusUnauthorized, transport.UnauthorizedErrorCode)
		})
	}
}

// startAuthAndStock starts our auth and the stock registry p trusting it
// the way tr says, and returns the auth's base URL and the registry's host.
func startAuthAndStock(t *testing.T, p program, tr trust) (authURL, host string) {
	t.Helper()
	dir := t.TempDir()
	// The self-signed certificate a docker_auth deployment makes for its
	// key: at once the auth's certificate and the registry's rootcertbundle.
	kind := "p256"
	if tr.rsa {
		kind = "rsa"
	}
	kp := authtest.WriteKeyPair(t, dir, "token", kind)
	certLine := ""
	if tr.x5c {
		certLine = fmt.Sprintf("  certificate: %q\n", kp.Cert)
	}
	auth := testkit.Start(t, testkit.Spec{
		Name: "wharf auth",
		Bin:  authBin,
		Args: func(port int) []string {
			cfg := fmt.Sprintf(authConfig, port, issuer, kp.Key, certLine, tr.kid, service, authtest.AdminHash, authtest.ReaderHash)
			return []string{"serve", testkit.WriteFile(t, dir, "auth_config.yml", []byte(cfg))}
		},
	})
	wantTokenShape(t, auth.URL("http"), tr, kp.Public)
	trustLine := fmt.Sprintf("rootcertbundle: %q", kp.Cert)
	if tr.jwks {
		trustLine = fmt.Sprintf("jwks: %q", saveJWKS(t, auth.URL("http"), dir))
	}
	reg := startRegistry(t, p, t.TempDir(), fmt.Sprintf(`auth:
  token:
    realm: %q
    service: %q
    issuer: %q
    %s
`, auth.URL("http")+"/auth", service, issuer, trustLine))
	return auth.URL("http"), reg.Host()
}

// saveJWKS writes our auth's published key set to a file, as an operator
// would with curl.
func saveJWKS(t *testing.T, authURL, dir string) string {
	t.Helper()
	resp, err := http.Get(authURL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /.well-known/jwks.json: %s, %v", resp.Status, err)
	}
	return testkit.WriteFile(t, dir, "jwks.json", set)
}

// testTokenFlow runs every account against the registry at host: admin
// logs in, pushes and pulls back, reader pulls but may not push, anonymous
// may not pull, only admin lists the catalog, and the OAuth2 grants
// containerd uses give tokens the registry takes.
func testTokenFlow(t *testing.T, authURL, host string) {
	arts := content(t)
	adminC, readerC, anonC := newClient(t, admin), newClient(t, reader), newClient(t, anonymous)

	wantLogin(t, authURL, host)
	push(t, host, adminC, arts)
	k := &checker{t: t, host: host, c: adminC}
	k.serves(arts)
	k.catalog(arts)

	kr := &checker{t: t, host: host, c: readerC}
	kr.serves(arts)
	t.Logf("admin and reader pulled everything back: %d checks", k.n+kr.n)

	// The refusals: each one a registry answer a client shows, with the
	// code docker prints as "denied" or "unauthorized".
	err := pushErr(t, host, readerC, artifact{repo: "reader/own", tags: []string{"1"}, img: dockerImage(t, "amd64")})
	wantRefused(t, "push as reader", err, http.StatusUnauthorized, transport.UnauthorizedErrorCode, transport.DeniedErrorCode)
	_, _, d := arts[0].manifest(t)
	_, err = getErr(t, digestRef(t, host, arts[0].repo, d.String()), anonC)
	wantRefused(t, "pull as anonymous", err, http.StatusUnauthorized, transport.UnauthorizedErrorCode, transport.DeniedErrorCode)
	_, err = catalogErr(t, host, readerC)
	wantRefused(t, "catalog as reader", err, http.StatusUnauthorized, transport.UnauthorizedErrorCode, transport.DeniedErrorCode)
	wantInsufficientScope(t, authURL, host, arts[0].repo)
	wantOAuth2Tokens(t, authURL, host, arts[0].repo)
}
