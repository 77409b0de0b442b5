package authserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/pkg/token"
)

// pullClaim asks for scopes as user (optionally through a trusted proxy
// for client address xff) and returns the token's catalog grant and its
// pull claim as JSON ("absent" when it has none).
func pullClaim(t *testing.T, f *fixture, service, user, pw, xff string, scopes ...string) (catalog, claim, raw string) {
	t.Helper()
	q := url.Values{"service": {service}, "scope": scopes}
	req, err := http.NewRequest(http.MethodGet, f.ts.URL+"/auth?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "-" {
		req.SetBasicAuth(user, pw)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	tr := tokenBody(t, do(t, req))
	tok, _, acc := verifyJose(t, tr.Token, f.kp.Public)
	var extra struct {
		Pull *[]token.PullRule `json:"wharf_pull"`
	}
	if err := tok.Claims(f.kp.Public, &extra); err != nil {
		t.Fatal(err)
	}
	claim = "absent"
	if extra.Pull != nil {
		b, _ := json.Marshal(extra.Pull)
		claim = string(b)
	}
	catalog = "(not listed)"
	if a, ok := grants(acc)["registry:catalog"]; ok {
		catalog = a
	}
	return catalog, claim, tr.Token
}

func TestCatalogTokensCarryTheNarrowedPullRules(t *testing.T) {
	seed := newSeedFixture(t)
	tests := []struct {
		name, user, pw string
		scopes         []string
		wantCatalog    string
		wantClaim      string
	}{
		{"admin: granted, every pull", "admin", "adminpassword", []string{"registry:catalog:*"}, "*", `[{"actions":["pull"]}]`},
		{"reader: no grant, filtered to nginx", "reader", "readerpassword", []string{"registry:catalog:*"}, "", `[{"name":"nginx","actions":["pull"]}]`},
		{"anonymous: filtered to nothing", "-", "", []string{"registry:catalog:*"}, "", `[]`},
		{"with a repository scope", "reader", "readerpassword", []string{"repository:nginx:pull", "registry:catalog:*"}, "", `[{"name":"nginx","actions":["pull"]}]`},
		{"no catalog asked: no claim", "reader", "readerpassword", []string{"repository:nginx:pull"}, "(not listed)", "absent"},
		{"docker login: no claim", "admin", "adminpassword", nil, "(not listed)", "absent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			catalog, claim, _ := pullClaim(t, seed, "Docker registry", tt.user, tt.pw, "", tt.scopes...)
			if catalog != tt.wantCatalog || claim != tt.wantClaim {
				t.Errorf("catalog %q, claim %s; want %q, %s", catalog, claim, tt.wantCatalog, tt.wantClaim)
			}
		})
	}
}

// The claim is decided per client address and service, and an explicit
// deny of the catalog still denies it.
func TestCatalogClaimFollowsAddressServiceAndDenies(t *testing.T) {
	f := newFixture(t, `server:
	addr: ":5001"
	real_ip_header: X-Forwarded-For
	real_ip_pos: -1
	trusted_proxies: [127.0.0.0/8, "::1/128"]
token:
	issuer: "Auth Service"
	expiration: 900
	certificate: CERT
	key: KEY
users:
	reader: {password: "`+readerHash+`"}
	admin: {password: "`+adminHash+`"}
acl:
	- match: {account: admin, type: registry, name: catalog}
	  actions: []
	- match: {account: admin}
	  actions: ["*"]
	- match: {account: reader, ip: "203.0.113.0/24", name: "office/*"}
	  actions: [pull]
	- match: {service: "staging", name: "${account}/*"}
	  actions: [pull, push]
	- match: {account: reader, name: nginx}
	  actions: [pull]
	- match: {}
	  actions: []
`)
	office, officeClaim, officeTok := pullClaim(t, f, "prod", "reader", "readerpassword", "203.0.113.7", "registry:catalog:*")
	_, homeClaim, homeTok := pullClaim(t, f, "prod", "reader", "readerpassword", "198.51.100.1", "registry:catalog:*")
	_, stagingClaim, _ := pullClaim(t, f, "staging", "reader", "readerpassword", "198.51.100.1", "registry:catalog:*")
	if office != "" {
		t.Errorf("the catch-all deny decided the catalog: granted %q", office)
	}
	if want := `[{"name":"office/*","actions":["pull"]},{"name":"nginx","actions":["pull"]}]`; officeClaim != want {
		t.Errorf("from the office: %s, want %s", officeClaim, want)
	}
	if want := `[{"name":"nginx","actions":["pull"]}]`; homeClaim != want {
		t.Errorf("from elsewhere: %s, want %s", homeClaim, want)
	}
	if homeTok == officeTok {
		t.Error("a token with other pull rules was reused")
	}
	if want := `[{"name":"/^(?s:(?:reader)/[^/]*)$/","actions":["pull"]},{"name":"nginx","actions":["pull"]}]`; stagingClaim != want {
		t.Errorf("for staging: %s, want %s", stagingClaim, want)
	}
	if catalog, claim, _ := pullClaim(t, f, "prod", "admin", "adminpassword", "", "registry:catalog:*"); catalog != "" || claim != "absent" {
		t.Errorf("an explicit deny of the catalog: granted %q, claim %s", catalog, claim)
	}
}

// Rules too long for a header are not sent, and then an account the ACL
// does not grant the catalog gets none.
func TestCatalogClaimTooLargeFailsClosed(t *testing.T) {
	var acl strings.Builder
	for i := range 300 {
		fmt.Fprintf(&acl, "\t- match: {account: reader, name: \"team-%03d/*\"}\n\t  actions: [pull]\n", i)
	}
	f := newFixture(t, `server: {addr: ":5001"}
token:
	issuer: "Auth Service"
	expiration: 900
	certificate: CERT
	key: KEY
users:
	reader: {password: "`+readerHash+`"}
acl:
`+acl.String())
	catalog, claim, _ := pullClaim(t, f, "prod", "reader", "readerpassword", "", "registry:catalog:*")
	if catalog != "" || claim != "absent" {
		t.Errorf("granted %q, claim %.80s", catalog, claim)
	}
	_, claim, _ = pullClaim(t, f, "prod", "reader", "readerpassword", "", "repository:team-007/x:pull")
	if claim != "absent" {
		t.Errorf("claim without a catalog scope: %.80s", claim)
	}
}
