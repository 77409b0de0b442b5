package regproxy

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wharf-registry/wharf/internal/regconfig"
)

// Timeouts of upstream requests. An upstream that is down or stuck must
// turn into a quick 503 for what is not cached, and into a stale answer
// for what is: never into a client left hanging.
const (
	dialTimeout           = 5 * time.Second
	tlsTimeout            = 10 * time.Second
	responseHeaderTimeout = 20 * time.Second
	// manifestTimeout bounds a whole manifest exchange (token included).
	manifestTimeout = 30 * time.Second
	// blobIdleTimeout ends a blob fetch whose upstream sent nothing for
	// that long; a blob as such may take as long as it takes.
	blobIdleTimeout = 60 * time.Second
)

// dockerHubHosts are the names of Docker Hub's registry. Their API lives
// at registry-1.docker.io, and a one-component name there is an official
// image under library/.
var dockerHubHosts = map[string]bool{
	"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true, "registry.hub.docker.com": true,
}

// upstream is one remote registry and how to talk to it.
type upstream struct {
	prefix    string // local repository prefix, "" for the whole registry
	base      string // scheme://host, no trailing slash
	label     string // metrics label: the prefix, or the host for proxy:
	dockerHub bool
	ttl       time.Duration // 0: never expire, revalidate tags on every pull
	idle      time.Duration // blobIdleTimeout, shorter in tests
	username  string
	password  string
	client    *http.Client
	now       func() time.Time

	mu     sync.Mutex
	scheme string           // the last challenge's scheme: "", "basic" or "bearer"
	tokens map[string]token // bearer tokens by scope
}

func newUpstream(e regconfig.ProxyEntry, now func() time.Time) *upstream {
	u, _ := url.Parse(e.RemoteURL) // validated by regconfig
	host := u.Host
	hub := dockerHubHosts[strings.ToLower(u.Hostname())]
	if hub && (u.Hostname() == "docker.io" || u.Hostname() == "index.docker.io") {
		host = "registry-1.docker.io"
	}
	label := e.Prefix
	if label == "" {
		label = host
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   tlsTimeout,
		ResponseHeaderTimeout: responseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &upstream{
		prefix: e.Prefix, base: u.Scheme + "://" + host, label: label, dockerHub: hub,
		ttl: e.ExpiresAfter(), idle: blobIdleTimeout, username: e.Username, password: e.Password,
		// No client timeout: a blob takes as long as it takes; the
		// transport bounds connecting and waiting for headers.
		client: &http.Client{Transport: tr},
		now:    now,
		tokens: map[string]token{},
	}
}

// owns reports whether the local repository name belongs to this upstream.
func (u *upstream) owns(name string) bool {
	return u.prefix == "" || strings.HasPrefix(name, u.prefix+"/")
}

// remoteName maps a local repository name to the upstream's: the prefix
// goes, and on Docker Hub a one-component name is an official image
// (hub/alpine is library/alpine), as the docker CLI does.
func (u *upstream) remoteName(name string) string {
	if u.prefix != "" {
		name = strings.TrimPrefix(name, u.prefix+"/")
	}
	if u.dockerHub && !strings.Contains(name, "/") {
		name = "library/" + name
	}
	return name
}

// do sends method for path (below /v2/<remote name>/) to the upstream,
// answering one authentication challenge on the way. A transport failure
// is a 503 *Error; any HTTP answer is returned for the caller to judge.
func (u *upstream) do(ctx context.Context, method, remote, path string, header http.Header) (*http.Response, error) {
	scope := "repository:" + remote + ":pull"
	target := u.base + "/v2/" + remote + path
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, target, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		u.authorize(req, scope)
		resp, err := u.client.Do(req)
		if err != nil {
			return nil, u.unavailable(err)
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		h := resp.Header.Get("WWW-Authenticate")
		resp.Body.Close()
		if h == "" {
			return nil, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
				Message: "upstream " + u.base + " answered 401 without a challenge"}
		}
		if err := u.login(ctx, h, scope); err != nil {
			return nil, err
		}
	}
}
