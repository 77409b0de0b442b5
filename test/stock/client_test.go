package stock

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// account is a user of the generated auth config.
type account struct{ name, password string }

var (
	// admin may do anything, the catalog included.
	admin = account{"admin", "adminpassword"} // authtest.AdminHash
	// reader may pull every repository, and nothing else.
	reader = account{"reader", "readerpassword"} // authtest.ReaderHash
	// anonymous is no credentials at all; the config grants it nothing.
	anonymous = account{}
)

// client is go-containerregistry's remote package with one identity.
type client struct {
	who  string
	opts []remote.Option
}

// newClient authenticates as acct (anonymous when acct is zero). Its
// connections are closed when the test ends, so no idle one holds a
// server's graceful shutdown.
func newClient(t *testing.T, acct account) client {
	var auth authn.Authenticator = authn.Anonymous
	who := "anonymous"
	if acct.name != "" {
		auth = &authn.Basic{Username: acct.name, Password: acct.password}
		who = acct.name
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return client{who: who, opts: []remote.Option{
		remote.WithAuth(auth),
		remote.WithTransport(tr),
		// A single attempt: a retried 5xx would hide the very failure the
		// test is there to report.
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
	}}
}

func tagRef(t *testing.T, host, repo, tag string) name.Tag {
	t.Helper()
	r, err := name.NewTag(host+"/"+repo+":"+tag, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func digestRef(t *testing.T, host, repo, digest string) name.Digest {
	t.Helper()
	r, err := name.NewDigest(host+"/"+repo+"@"+digest, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantRefused checks that err is the registry's answer status with one of
// codes: a refusal a client shows as such, not a transport failure.
func wantRefused(t *testing.T, what string, err error, status int, codes ...transport.ErrorCode) {
	t.Helper()
	var terr *transport.Error
	if !errors.As(err, &terr) {
		t.Errorf("%s: want HTTP %d %v, got %v", what, status, codes, err)
		return
	}
	if terr.StatusCode != status {
		t.Errorf("%s: status %d, want %d (%v)", what, terr.StatusCode, status, err)
	}
	if len(terr.Errors) == 0 || !slices.Contains(codes, terr.Errors[0].Code) {
		t.Errorf("%s: error body %+v, want a code in %v", what, terr.Errors, codes)
	}
}
