package authserver

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// encodingJSON is what the server wrote before appendTokenResponse, and
// what it must keep writing byte for byte.
func encodingJSON(t testing.TB, body tokenResponse) []byte {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tricky are strings encoding/json escapes in every way it has: quotes,
// backslashes, control bytes, HTML characters, U+2028/2029, invalid UTF-8,
// DEL and non-ASCII.
var tricky = []string{
	"", "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln", "2026-12-03T09:00:00Z",
	"repository:app:pull repository:localhost:5000/x:pull,push",
	`"`, `\`, "a\nb\tc\rd", "\x00\x01\x1f", "<script>&amp;</script>", "\u2028\u2029",
	"\xff\xfe", "caf\u00e9 \u65e5\u672c", "\x7f", "a\"b\\c/d",
}

func TestTokenResponseBytesEqualEncodingJSON(t *testing.T) {
	for _, s := range tricky {
		for _, other := range []string{"", "jwt.other.sig"} {
			for _, body := range []tokenResponse{
				{Token: s, AccessToken: s, ExpiresIn: 900, IssuedAt: "2026-12-03T09:00:00Z"},
				{Token: s, AccessToken: other, ExpiresIn: -1, IssuedAt: s, RefreshToken: s, Scope: s},
				{Token: "a.b.c", AccessToken: "a.b.c", ExpiresIn: 0, IssuedAt: s, RefreshToken: other, Scope: "repository:app:pull"},
				{Token: other, AccessToken: s, ExpiresIn: 1 << 40, Scope: s},
			} {
				want := encodingJSON(t, body)
				if got := appendTokenResponse(nil, body); !bytes.Equal(got, want) {
					t.Errorf("%+v:\n got %q\nwant %q", body, got, want)
				}
			}
		}
	}
}

// The server's bodies come from a signed token's issued, which carries the
// token already quoted.
func TestIssuedTokenResponseBytesEqualEncodingJSON(t *testing.T) {
	iat := time.Date(2026, 12, 3, 9, 0, 0, 0, time.FixedZone("X", 3600))
	for _, s := range tricky {
		for _, refresh := range []string{"", s} {
			body := newResponse(newIssued(s, iat, 15*time.Minute))
			body.RefreshToken, body.Scope = refresh, refresh
			want := encodingJSON(t, body)
			if got := appendTokenResponse(nil, body); !bytes.Equal(got, want) {
				t.Errorf("token %q:\n got %q\nwant %q", s, got, want)
			}
		}
	}
}

// FuzzTokenResponseBytesEqualEncodingJSON holds the hand-written encoder to
// encoding/json's output for any strings.
func FuzzTokenResponseBytesEqualEncodingJSON(f *testing.F) {
	for _, s := range tricky {
		f.Add(s, s, s, int64(900))
	}
	f.Fuzz(func(t *testing.T, tok, refresh, scope string, expires int64) {
		body := tokenResponse{Token: tok, AccessToken: tok, ExpiresIn: expires, IssuedAt: scope, RefreshToken: refresh, Scope: scope}
		want := encodingJSON(t, body)
		if got := appendTokenResponse(nil, body); !bytes.Equal(got, want) {
			t.Errorf("got %q\nwant %q", got, want)
		}
		issuedBody := newResponse(newIssued(tok, time.Unix(expires, 0), time.Duration(expires)))
		issuedBody.RefreshToken, issuedBody.Scope = refresh, scope
		if got, want := appendTokenResponse(nil, issuedBody), encodingJSON(t, issuedBody); !bytes.Equal(got, want) {
			t.Errorf("issued token: got %q\nwant %q", got, want)
		}
		body.AccessToken = refresh
		want = encodingJSON(t, body)
		if got := appendTokenResponse(nil, body); !bytes.Equal(got, want) {
			t.Errorf("different access_token: got %q\nwant %q", got, want)
		}
	})
}

// TestVerbatimBytesAreThoseEncodingJSONLeavesAlone checks the table
// against encoding/json one byte at a time.
func TestVerbatimBytesAreThoseEncodingJSONLeavesAlone(t *testing.T) {
	for c := 0; c < 256; c++ {
		s := string([]byte{byte(c)})
		b, _ := json.Marshal(s)
		asIs := string(b) == `"`+s+`"` && utf8.ValidString(s)
		if jsonVerbatim[c] != asIs {
			t.Errorf("byte %#x: verbatim %v, encoding/json leaves it as is: %v (%s)", c, jsonVerbatim[c], asIs, strings.TrimSpace(string(b)))
		}
	}
}
