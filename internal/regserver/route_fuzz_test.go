package regserver

import (
	"strconv"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// FuzzParseRoute: any escaped path either is refused or yields a route
// whose repository name is valid and is literally the start of the path,
// so authorization and the handler can only ever see the name the client
// wrote. Seeds are the path tricks of issue 6.
func FuzzParseRoute(f *testing.F) {
	dg := "sha256:" + strings.Repeat("a", 64)
	for _, p := range []string{
		"", "/", "/_catalog", "/_catalog/", "//_catalog", "/%5Fcatalog", "/a/tags/list", "/a/b/manifests/v1", "/a/blobs/" + dg,
		"/a/blobs/uploads/", "/a/blobs/uploads", "/a/blobs/uploads/x", "/a/referrers/" + dg, "/a/../b/manifests/v1",
		"/a%2Fb/manifests/v1", "/A/tags/list", "/x/blobs/uploads/blobs/uploads/", "/tags/list", "/a//b/tags/list",
		"/" + strings.Repeat("a/", 130) + "tags/list",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, err := parseRoute(p)
		if err != nil {
			if e := asError(err); e.Status != 400 && e.Status != 404 {
				t.Fatalf("parseRoute(%q) refused with %d", p, e.Status)
			}
			return
		}
		if _, ok := methods[rt.kind]; !ok {
			t.Fatalf("parseRoute(%q) gave unknown kind %d", p, rt.kind)
		}
		switch rt.kind {
		case routeBase, routeCatalog:
			if rt.name != "" {
				t.Fatalf("parseRoute(%q) named %q", p, rt.name)
			}
			return
		}
		if !reference.ValidRepository(rt.name) || !strings.HasPrefix(p, "/"+rt.name+"/") {
			t.Fatalf("parseRoute(%q) gave name %q", p, rt.name)
		}
		if strings.Contains(rt.ref, "/") {
			t.Fatalf("parseRoute(%q) gave reference %q", p, rt.ref)
		}
	})
}

// FuzzParseContentRange: a Content-Range is accepted only as a range of
// non-negative offsets, first <= last, and its canonical form reads back
// the same.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"0-0", "100-199", "bytes 0-99/100", "bytes=0-99", "0-99/*", "5-4", "-1-5", "0-", "a-b", " 0-9",
		"0-99999999999999999999", "999999999999999999-999999999999999999", "bytes */100", "0-9,20-29"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, ok := parseContentRange(s)
		if !ok {
			return
		}
		if first < 0 || last < first {
			t.Fatalf("parseContentRange(%q) = %d, %d", s, first, last)
		}
		canon := strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10)
		if f2, l2, ok := parseContentRange(canon); !ok || f2 != first || l2 != last {
			t.Fatalf("%q -> %q -> %d, %d, %v", s, canon, f2, l2, ok)
		}
	})
}
