package authserver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Through the endpoints: GET ignores a malformed pair of its query, as
// net/http's Request.URL.Query does, and reads escaped names; POST refuses
// a malformed form.
func TestTokenRequestParameters(t *testing.T) {
	f := newFixture(t, strictConfig)
	get := func(rawQuery string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, f.ts.URL+"/auth?"+rawQuery, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", "adminpassword")
		return do(t, req)
	}
	for _, tc := range []struct {
		query string
		want  map[string]string // granted resource: actions
	}{
		{"service=registry.local&sco%70e=repository%3Aapp%3Apull", map[string]string{"repository:app": "pull"}},
		{"service=registry.local&scope=repository:app:pull&scope=repository:other:push&scope=bad%zz", map[string]string{"repository:app": "pull", "repository:other": "push"}},
		{"service=registry.local&scope=repository:app:pull;x&scope=repository:other:pull", map[string]string{"repository:other": "pull"}},
	} {
		resp := get(tc.query)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET ?%s: status %d %s", tc.query, resp.StatusCode, body(t, resp))
			continue
		}
		_, _, acc := verifyJose(t, tokenBody(t, resp).Token, f.kp.Public)
		if got := grants(acc); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("GET ?%s: granted %v, want %v", tc.query, got, tc.want)
		}
	}
	for _, form := range []string{
		"grant_type=password&username=admin&password=adminpassword&service=registry.local&scope=%zz",
		"grant_type=password&username=admin&password=adminpassword;&service=registry.local",
	} {
		resp, err := http.Post(f.ts.URL+"/auth", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		if b := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "malformed form body") {
			t.Errorf("POST %s: status %d %s, want 400 malformed form body", form, resp.StatusCode, b)
		}
	}
}
