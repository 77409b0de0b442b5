package regserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/regproxy"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// The pull-through cache (internal/regproxy) is hooked in here: proxied
// repositories refuse writes; their manifests, missing blobs and tag lists
// come from the upstream. Everything else (routing, auth, Accept, ranges
// of cached blobs, catalog, referrers, rendering) is the registry's, as for
// any repository.

// refuseProxiedWrite answers 405 UNSUPPORTED to a push or delete in a
// repository that mirrors an upstream, as registry:2's proxy does.
func (s *Server) refuseProxiedWrite(rt route, method string) error {
	if rt.name == "" || method == http.MethodGet || method == http.MethodHead || !s.proxy.Proxied(rt.name) {
		return nil
	}
	return errorf(http.StatusMethodNotAllowed, codeUnsupported,
		"%s is a pull-through cache of an upstream registry: pushes and deletes are not supported", rt.name).
		withHeader("Allow", "GET, HEAD")
}

// manifest returns a stored manifest, asking the upstream for proxied
// repositories.
func (s *Server) manifest(ctx context.Context, name, ref string) (storage.Manifest, error) {
	if !s.proxy.Proxied(name) {
		return s.store.GetManifest(ctx, name, ref)
	}
	m, err := s.proxy.Manifest(ctx, name, ref)
	return m, fromProxy(err)
}

// tagList lists tags, the upstream's for proxied repositories.
func (s *Server) tagList(ctx context.Context, name, last string, n int) ([]string, bool, error) {
	if !s.proxy.Proxied(name) {
		return s.store.Tags(ctx, name, last, n)
	}
	tags, more, err := s.proxy.Tags(ctx, name, last, n)
	return tags, more, fromProxy(err)
}

// proxyBlob serves a blob of a proxied repository that is not cached yet.
// It returns false, nil when the caller should serve the blob from storage.
func (s *Server) proxyBlob(w http.ResponseWriter, r *http.Request, name string, d digest.Digest) (bool, error) {
	if !s.proxy.Proxied(name) {
		return false, nil
	}
	served, err := s.proxy.ServeBlob(w, r, name, d)
	return served, fromProxy(err)
}

// fromProxy turns the cache's errors into the registry's.
func fromProxy(err error) error {
	var pe *regproxy.Error
	if errors.As(err, &pe) {
		return &Error{Status: pe.Status, Code: pe.Code, Message: pe.Message, Header: pe.Header, Err: pe.Err}
	}
	return err
}
