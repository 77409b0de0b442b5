package regserver

import (
	"slices"
	"strings"
	"testing"
)

// TestEndpointTemplatesParseToTheirRoute keeps Endpoints honest: every
// route has a template, and each template, filled in, is parsed back to the
// route it describes with the methods the router allows.
func TestEndpointTemplatesParseToTheirRoute(t *testing.T) {
	eps := Endpoints()
	if len(eps) != len(methods) {
		t.Fatalf("%d endpoints for %d routes", len(eps), len(methods))
	}
	fill := strings.NewReplacer("{name}", "team/app", "{reference}", "v1",
		"{digest}", "sha256:"+strings.Repeat("a", 64), "{uuid}", "6f1d0c87-0d8e-4a8e-9e70-2b4d5d2c9c11")
	for _, ep := range eps {
		t.Run(ep.Name, func(t *testing.T) {
			rt, err := parseRoute(strings.TrimPrefix(fill.Replace(ep.Path), "/v2"))
			if err != nil {
				t.Fatalf("%s does not parse: %v", ep.Path, err)
			}
			if rt.kind.String() != ep.Name || !slices.Equal(methods[rt.kind], ep.Methods) {
				t.Errorf("%s parses as %s with %v; endpoint says %s with %v", ep.Path, rt.kind, methods[rt.kind], ep.Name, ep.Methods)
			}
			if ep.Repository != (rt.name != "") {
				t.Errorf("%s: Repository %v but parsed name %q", ep.Path, ep.Repository, rt.name)
			}
		})
	}
}
