package scaleout

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// cluster is several registry processes on one bucket and root directory,
// behind a round-robin proxy.
type cluster struct {
	s3       *s3Server
	root     string // rootdirectory in the bucket
	endpoint string // regionendpoint, as the registries reach the server
	regs     []*process
	configs  []string // each registry's config file ("" when it has none)
	proxy    *rrProxy
}

// clusterOptions shape a cluster's registries.
type clusterOptions struct {
	replicas int    // 3 when zero
	authYAML string // the auth section, "" for none
	redirect bool   // storage.redirect.disable: false
	endpoint string // the S3 endpoint the registries use ("": the server's)
}

// registryYAML is the S3 configuration the registries share, in registry:2's
// keys. %s slots: the credentials lines, then the auth section.
const registryYAML = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  s3:
%s    region: us-east-1
    regionendpoint: %q
    bucket: %q
    rootdirectory: %q
    secure: false
    forcepathstyle: true
    chunksize: 5242880
  delete:
    enabled: true
  redirect:
    disable: %v
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: "127.0.0.1:%d"
%s`

// startCluster starts the registries and the proxy. They are configured
// the three ways a deployment configures registry:2 on S3, so that each
// path is exercised against the same bucket:
//
//   - replica 0: a config file with accesskey and secretkey;
//   - replica 1: the same file without keys, credentials from
//     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY;
//   - replica 2: no config file at all (the registry:2 image's defaults)
//     turned to S3 by REGISTRY_STORAGE=s3 and REGISTRY_STORAGE_S3_*.
func startCluster(t testing.TB, s *s3Server, o clusterOptions) *cluster {
	t.Helper()
	if o.replicas == 0 {
		o.replicas = 3
	}
	c := &cluster{s3: s, root: "/" + uniqueRoot(t), endpoint: s.Endpoint}
	if o.endpoint != "" {
		c.endpoint = o.endpoint // a recording proxy in front of s
	}
	if o.redirect {
		// Presigned URLs name the endpoint as configured, and
		// go-containerregistry refuses redirects to private IP literals.
		c.endpoint = strings.Replace(s.Endpoint, "127.0.0.1", "localhost", 1)
	}
	dir := t.TempDir()
	home := t.TempDir() // no ~/.aws of the developer's
	for i := range o.replicas {
		var sp spec
		switch i % 3 {
		case 0, 1:
			creds := fmt.Sprintf("    accesskey: %q\n    secretkey: %q\n", s3AccessKey, s3SecretKey)
			env := []string{"HOME=" + home}
			if i%3 == 1 {
				creds = ""
				env = append(env, "AWS_ACCESS_KEY_ID="+s3AccessKey, "AWS_SECRET_ACCESS_KEY="+s3SecretKey)
			}
			path := fmt.Sprintf("%s/registry-%d.yml", dir, i)
			c.configs = append(c.configs, path)
			sp = spec{
				name: fmt.Sprintf("registry-%d", i), bin: registryBin, env: env,
				args: func(port int) []string {
					cfg := fmt.Sprintf(registryYAML, creds, c.endpoint, s3Bucket, c.root, !o.redirect, port, o.authYAML)
					testkit.WriteFile(t, dir, fmt.Sprintf("registry-%d.yml", i), []byte(cfg))
					return []string{"serve", path}
				},
			}
		case 2:
			c.configs = append(c.configs, "")
			sp = spec{
				name: fmt.Sprintf("registry-%d", i), bin: registryBin,
				args: func(int) []string { return []string{"serve"} },
				env: append([]string{
					"HOME=" + home,
					"REGISTRY_LOG_LEVEL=warn",
					"REGISTRY_LOG_ACCESSLOG_DISABLED=true",
					"REGISTRY_STORAGE=s3",
					"REGISTRY_STORAGE_S3_ACCESSKEY=" + s3AccessKey,
					"REGISTRY_STORAGE_S3_SECRETKEY=" + s3SecretKey,
					"REGISTRY_STORAGE_S3_REGION=us-east-1",
					"REGISTRY_STORAGE_S3_REGIONENDPOINT=" + c.endpoint,
					"REGISTRY_STORAGE_S3_BUCKET=" + s3Bucket,
					"REGISTRY_STORAGE_S3_ROOTDIRECTORY=" + c.root,
					"REGISTRY_STORAGE_S3_SECURE=false",
					"REGISTRY_STORAGE_S3_FORCEPATHSTYLE=true",
					"REGISTRY_STORAGE_S3_CHUNKSIZE=5242880",
					"REGISTRY_STORAGE_DELETE_ENABLED=true",
					"REGISTRY_STORAGE_REDIRECT_DISABLE=" + strconv.FormatBool(!o.redirect),
					"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED=false",
				}, authEnv(o.authYAML)...),
			}
			c.regs = append(c.regs, startWithAddrEnv(t, sp))
			continue
		}
		c.regs = append(c.regs, start(t, sp))
	}
	c.proxy = newRRProxy(t, c.regs)
	return c
}

// startWithAddrEnv starts a registry whose address comes from
// REGISTRY_HTTP_ADDR, as in a container without a config file.
func startWithAddrEnv(t testing.TB, sp spec) *process {
	t.Helper()
	ks := sp.kit()
	ks.Env = func(port int) []string {
		return append(append([]string{}, sp.env...), "REGISTRY_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port))
	}
	ks.FailTail = 40
	return wrap(testkit.Start(t, ks))
}

// authEnv turns an auth section written for a config file into
// REGISTRY_AUTH_TOKEN_* variables (the only auth the cluster tests use).
func authEnv(authYAML string) []string {
	if authYAML == "" {
		return nil
	}
	var env []string
	for _, line := range strings.Split(authYAML, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || v == "" {
			continue
		}
		env = append(env, "REGISTRY_AUTH_TOKEN_"+strings.ToUpper(k)+"="+strings.TrimSpace(v))
	}
	return env
}

// rrProxy is a reverse proxy sending each request to the next backend in
// turn, as a round-robin load balancer without session affinity does. It
// records which backend served each request.
type rrProxy struct {
	srv      *httptest.Server
	backends []*url.URL
	next     atomic.Uint64
	mu       sync.Mutex
	hits     []hit
}

// hit is one proxied request.
type hit struct {
	method, path string
	backend      int
}

func newRRProxy(t testing.TB, regs []*process) *rrProxy {
	t.Helper()
	p := &rrProxy{}
	for _, r := range regs {
		u, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(r.port))
		p.backends = append(p.backends, u)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	rp := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := int((p.next.Add(1) - 1) % uint64(len(p.backends)))
			pr.SetURL(p.backends[i])
			// The registries build Locations and challenges from the
			// name the client used.
			pr.Out.Host = pr.In.Host
			p.mu.Lock()
			p.hits = append(p.hits, hit{pr.In.Method, pr.In.URL.Path, i})
			p.mu.Unlock()
		},
	}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(func() {
		p.srv.Close()
		tr.CloseIdleConnections()
	})
	return p
}

// Host is "localhost:PORT", the registry name clients use.
func (p *rrProxy) Host() string {
	return "localhost:" + strings.TrimPrefix(p.srv.URL, "http://127.0.0.1:")
}

// URL is the proxy's base URL.
func (p *rrProxy) URL() string { return "http://" + p.Host() }

// backendsOf lists, in order, the backends that served requests with the
// method ("" for any) whose path has the prefix.
func (p *rrProxy) backendsOf(method, prefix string) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for _, h := range p.hits {
		if (method == "" || h.method == method) && strings.HasPrefix(h.path, prefix) {
			out = append(out, h.backend)
		}
	}
	return out
}
