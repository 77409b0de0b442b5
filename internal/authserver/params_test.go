package authserver

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// paramsQueries are queries and forms of every shape url.ParseQuery has a
// rule for: escapes in names and values, '+', bad escapes, ';', empty
// parts, names without '=', repeated names, and more parts than params
// keeps in place.
var paramsQueries = []string{
	"",
	"service=registry.local&scope=repository%3Abench%2Fapp%3Apull",
	"service=a&service=b&scope=x&scope=y&scope=",
	"service=&service=b",
	"serv%69ce=escaped+name&sco%70e=repository:a:pull",
	"service=a+b%20c&client_id=%E2%9C%93",
	"service=%zz&client_id=ok",
	"client_id=ok&service%=x",
	"service=a;b&client_id=c",
	"a=1;b=2&service=s",
	"&&service=s&&",
	"service&scope&=v&==",
	"account=%2",
	"grant_type=refresh_token&refresh_token=wrt1.eyJzdWIiOiJjaSJ9.c2ln&service=r&scope=repository%3Aa%3Apull&client_id=wharfbench&access_type=offline",
	strings.Repeat("scope=s&", maxFastParams-1) + "service=last",
	strings.Repeat("scope=s&", maxFastParams) + "service=over",
	strings.Repeat("&", 2*maxFastParams) + "service=amp",
}

// paramsNames are the names looked up, ours and others.
var paramsNames = []string{"service", "scope", "client_id", "account", "offline_token", "grant_type",
	"refresh_token", "access_type", "username", "password", "", "a", "b", "=", "missing"}

// checkParamsAsParseQuery fails t when params differs from url.ParseQuery
// on query for any of names or the names the query has.
func checkParamsAsParseQuery(t *testing.T, query string, names []string) {
	t.Helper()
	want, wantErr := url.ParseQuery(query)
	var p params
	gotErr := parseParams(&p, query)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Errorf("%q: error %v, url.ParseQuery's %v", query, gotErr, wantErr)
	}
	for name := range want {
		names = append(names, name)
	}
	for _, name := range names {
		if got, want := p.Get(name), want.Get(name); got != want {
			t.Errorf("%q: Get(%q) = %q, url.Values says %q", query, name, got, want)
		}
		got, want := p.All(name), want[name]
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
			t.Errorf("%q: All(%q) = %#v, url.Values says %#v", query, name, got, want)
		}
	}
}

func TestParamsAreURLParseQuerys(t *testing.T) {
	for _, q := range paramsQueries {
		checkParamsAsParseQuery(t, q, paramsNames)
	}
}

// With GODEBUG lowering url.ParseQuery's limit on parameters below what
// params keeps in place, the limit still holds: this package's tests run
// again in a child process with urlmaxqueryparams=3.
func TestParamsHonourAGODEBUGParameterLimit(t *testing.T) {
	if os.Getenv("WHARF_PARAMS_CHILD") != "" {
		if fastParamsAllowed {
			t.Fatal("GODEBUG urlmaxqueryparams=3, yet queries of 16 parameters take the fast path")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^(TestParamsHonourAGODEBUGParameterLimit|TestParamsAreURLParseQuerys)$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GODEBUG=urlmaxqueryparams=3", "WHARF_PARAMS_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child with GODEBUG=urlmaxqueryparams=3: %v\n%s", err, out)
	}
	if _, err := url.ParseQuery("a=1&b=2&c=3"); err != nil {
		t.Fatalf("this process has a parameter limit of its own: %v", err)
	}
}

func FuzzParamsAreURLParseQuerys(f *testing.F) {
	for _, q := range paramsQueries {
		f.Add(q, "service")
	}
	f.Fuzz(func(t *testing.T, query, name string) {
		checkParamsAsParseQuery(t, query, append([]string{name}, paramsNames...))
	})
}

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
