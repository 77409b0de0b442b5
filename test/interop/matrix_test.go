package interop

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// verifierSetup names one stock verifier configuration.
type verifierSetup string

const (
	v2Bundle     verifierSetup = "v2.8.3 rootcertbundle"
	v3Bundle     verifierSetup = "v3.1.1 rootcertbundle"
	v3JWKS       verifierSetup = "v3.1.1 jwks"
	v3JWKSBundle verifierSetup = "v3.1.1 jwks+rootcertbundle"
)

var verifierSetups = []verifierSetup{v2Bundle, v3Bundle, v3JWKS, v3JWKSBundle}

// expectation says whether a stock verifier accepts tokens of an auth
// setup, and if not, what it logs as the reason. Measured, then pinned:
//
//   - x5c wins in both generations: the chain is checked against the bundle
//     and the kid is never looked at.
//   - Without x5c the kid decides: v2.8.3 indexes the bundle's keys by
//     libtrust key ID, v3.1.1 by RFC 7638 thumbprint, and v3.1.1 indexes a
//     jwks file's keys by the "kid" we publish (the kid_format in use).
//   - v3.1.1 with only a jwks refuses every x5c token: it tries x5c first,
//     against an empty root pool, and does not fall back to the kid.
func expectation(v verifierSetup, s authSetup) (accepted bool, reason string) {
	const untrustedKid = "token signed by untrusted key with ID"
	switch {
	case s.x5c() && v == v3JWKS:
		return false, "certificate signed by unknown authority"
	case s.x5c():
		return true, ""
	case v == v2Bundle && s.kidFormat != "libtrust":
		return false, untrustedKid
	case v == v3Bundle && s.kidFormat != "jwk-thumbprint":
		return false, untrustedKid
	}
	return true, ""
}

// TestStockVerifiersOnOurTokens issues tokens with the built auth for every
// key type, kid format and certificate mode (none, CA-issued, self-signed),
// and feeds each one to each
// stock verifier with every probe, checking acceptance and exactly the
// access granted (partial and empty grants included).
func TestStockVerifiersOnOurTokens(t *testing.T) {
	type tally struct{ accepted, refused int }
	counts := map[verifierSetup]*tally{}
	for _, v := range verifierSetups {
		counts[v] = &tally{}
	}
	var table []string
	combos := 0
	for _, kt := range keyTypes {
		pki := newTokenPKI(t, kt)
		for _, kid := range []string{"libtrust", "jwk-thumbprint"} {
			for _, cert := range []certMode{noCert, caIssued, selfSigned} {
				s := authSetup{pki: pki, kidFormat: kid, cert: cert}
				label := fmt.Sprintf("%s/%s/%s", kt.name, kid, cert)
				t.Run(label, func(t *testing.T) {
					auth := startAuth(t, s)
					jwks := saveJWKS(t, auth)
					bundle := s.bundle()
					verifiers := map[verifierSetup]stockVerifier{
						v2Bundle:     newV2(t, bundle),
						v3Bundle:     newV3(t, string(v3Bundle), bundle, ""),
						v3JWKS:       newV3(t, string(v3JWKS), "", jwks),
						v3JWKSBundle: newV3(t, string(v3JWKSBundle), bundle, jwks),
					}
					seen := map[verifierSetup]map[bool]int{}
					for _, tc := range tokenCases {
						raw := issueToken(t, auth, tc)
						auditTypes(t, raw)
						checkPullClaim(t, raw, tc)
						for _, vs := range verifierSetups {
							combos++
							ok, reason := expectation(vs, s)
							got := checkToken(t, verifiers[vs], raw, tc, ok, reason)
							if seen[vs] == nil {
								seen[vs] = map[bool]int{}
							}
							seen[vs][got]++
							if got {
								counts[vs].accepted++
							} else {
								counts[vs].refused++
							}
						}
					}
					var row []string
					for _, vs := range verifierSetups {
						switch {
						case seen[vs][true] == len(tokenCases):
							row = append(row, "accepted")
						case seen[vs][false] == len(tokenCases):
							row = append(row, "REFUSED ")
						default:
							row = append(row, "mixed   ")
						}
					}
					table = append(table, fmt.Sprintf("%-36s %s", label, strings.Join(row, "  ")))
				})
			}
		}
	}
	sort.Strings(table)
	t.Logf("%d token x verifier combinations (%d probes each):\n%-36s %s\n%s", combos, len(probes),
		"key/kid/certificate", joinSetups(), strings.Join(table, "\n"))
	for _, vs := range verifierSetups {
		t.Logf("%-28s accepted %3d tokens, refused %3d", vs, counts[vs].accepted, counts[vs].refused)
	}
}

func joinSetups() string {
	var s []string
	for _, v := range verifierSetups {
		s = append(s, string(v))
	}
	return strings.Join(s, " | ")
}

// checkToken runs every probe through v and checks the outcome: when the
// token should be accepted, exactly the probes tc's grant covers pass and
// the rest get insufficient_scope; otherwise every probe, /v2/ too, is
// refused as invalid_token with reason in the stock log. It reports
// whether the stock verifier really accepted the token (at GET /v2/, which
// needs no access).
func checkToken(t *testing.T, v stockVerifier, raw string, tc tokenCase, accepted bool, reason string) (got bool) {
	t.Helper()
	for _, p := range probes {
		out, err := v.authorize(raw, p.needs)
		if err != nil {
			t.Errorf("%s, %s, %s: not an auth answer: %v", v.name, tc.name, p.request, err)
			continue
		}
		if p.needs == nil {
			got = out.granted
		}
		switch want := accepted && tc.allows(p); {
		case out.granted != want:
			t.Errorf("%s, token %s, %s: granted=%v, want %v\nchallenge: %s\nlog: %s",
				v.name, tc.name, p.request, out.granted, want, out.challenge, out.log)
		case want:
		case accepted && !strings.Contains(out.challenge, `error="insufficient_scope"`):
			t.Errorf("%s, token %s, %s: refused with %q, want insufficient_scope\nlog: %s",
				v.name, tc.name, p.request, out.challenge, out.log)
		case !accepted && (strings.Contains(out.challenge, "insufficient_scope") || !strings.Contains(out.log, reason)):
			t.Errorf("%s, token %s, %s: refused with %q, log %q; want a refusal of the token (%q)",
				v.name, tc.name, p.request, out.challenge, out.log, reason)
		}
	}
	return got
}
