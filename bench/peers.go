package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// Peers are the registries a user could pick instead of ours, measured in
// the same run on the same disk: the stock registry:3 (and registry:2)
// builds of scripts/stock-registries.sh, found as the tests find them,
// and any other binary named with -peer. A peer whose binary is absent is
// skipped with a line in the output and "skipped" in its column.

// Peer kinds: how a binary is configured and where it keeps blobs.
const (
	kindRegistry = "registry" // reads registry:2's config and serves our store as it is
	kindZot      = "zot"      // zot's JSON config and OCI-layout store of its own
)

// peerSpec is one peer: the stock ones, or a -peer flag.
type peerSpec struct {
	name, bin, kind string
	missing         string // why it is skipped; "" when the binary is there
}

// peerFlags collects -peer name=path,kind=registry|zot.
type peerFlags []peerSpec

func (p *peerFlags) String() string { return "" }

// Set parses one -peer value.
func (p *peerFlags) Set(v string) error {
	s := peerSpec{kind: kindRegistry}
	for i, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(part, "=")
		if !ok || val == "" {
			return fmt.Errorf("-peer %q: want name=path[,kind=registry|zot]", v)
		}
		switch {
		case i == 0:
			s.name, s.bin = k, val
		case k == "kind" && (val == kindRegistry || val == kindZot):
			s.kind = val
		default:
			return fmt.Errorf("-peer %q: unknown %q (want kind=registry or kind=zot)", v, part)
		}
	}
	if fi, err := os.Stat(s.bin); err != nil || fi.IsDir() {
		s.missing = fmt.Sprintf("%s is not a binary (%v)", s.bin, err)
	} else if abs, err := filepath.Abs(s.bin); err == nil {
		s.bin = abs
	}
	*p = append(*p, s)
	return nil
}

// stockPeers are the stock registries when stock is set: registry:3 first
// (the targets are ratios to it), then registry:2.
func stockPeers(stock bool) []peerSpec {
	if !stock {
		return nil
	}
	var out []peerSpec
	for _, r := range []testkit.StockRegistry{testkit.StockRegistryV3, testkit.StockRegistryV2} {
		s := peerSpec{name: "registry:" + r.Version[1:2] + " " + r.Version, kind: kindRegistry}
		if p, err := testkit.StockRegistryPath(r); err != nil {
			s.missing = err.Error()
		} else {
			s.bin = p
		}
		out = append(out, s)
	}
	return out
}

// peer is a running peer: open has auth off, tokenProc (started by the
// manifest row) checks our tokens.
type peer struct {
	peerSpec
	root string // its store: ours for kind registry
	open *proc
}

// isStockV3 tells the peer the targets are ratios to.
func (p *peer) isStockV3() bool { return strings.HasPrefix(p.name, "registry:3 ") }

// sharesStore tells whether the peer serves our store, so what we pushed
// is already there.
func (p *peer) sharesStore() bool { return p.kind == kindRegistry }

// peerEnv keeps registry:3 from sending traces to localhost:4318; the
// registry's own REGISTRY_* variables are left out, as for ours.
var peerEnv = []string{"OTEL_TRACES_EXPORTER=none"}

// startPeers starts every peer that is there with auth off. Kind registry
// serves our store; zot gets a store of its own in the scratch directory.
func (b *bench) startPeers() error {
	for _, s := range b.cfg.peers {
		p := &peer{peerSpec: s, root: b.storeRoot()}
		b.peers = append(b.peers, p)
		if s.missing != "" {
			fmt.Fprintf(b.log, "peer %s: skipped: %s\n", s.name, s.missing)
			continue
		}
		if !p.sharesStore() {
			p.root = filepath.Join(b.dir, "peer-"+safeName(s.name))
		}
		var err error
		if p.open, err = b.startPeer(p, "open", ""); err != nil {
			return fmt.Errorf("peer %s: %v", s.name, err)
		}
		fmt.Fprintf(b.log, "peer %s: %s (pid %d)\n", s.name, s.bin, p.open.Pid())
	}
	return nil
}

// startPeer starts the peer over its store, with token auth trusting our
// token server when realm is set.
func (b *bench) startPeer(p *peer, role, realm string) (*proc, error) {
	name := "peer-" + safeName(p.name) + "-" + role
	cfgFile := filepath.Join(b.dir, name+".conf")
	root := p.root
	if p.kind == kindZot && realm != "" {
		root += "-token" // two zot processes must not share a store
	}
	return startProcEnv(b.dir, name, p.bin, peerEnv, true, func(port int) ([]string, error) {
		var cfg []byte
		var err error
		switch p.kind {
		case kindZot:
			cfg, err = zotConfig(root, port, realm, b.files.certFile)
		default:
			auth := ""
			if realm != "" {
				auth = b.files.tokenAuthYAML(realm)
			}
			cfg = []byte(fmt.Sprintf(registryConfigYAML, root, port, auth))
		}
		if err != nil {
			return nil, err
		}
		return []string{"serve", cfgFile}, os.WriteFile(cfgFile, cfg, 0o600)
	})
}

// zotConfig is zot's config: root as its store (no dedupe, no garbage
// collection, as ours during a run), 127.0.0.1:port, and with realm a
// bearer challenge whose tokens zot checks with the signing certificate.
func zotConfig(root string, port int, realm, cert string) ([]byte, error) {
	httpCfg := map[string]any{"address": "127.0.0.1", "port": fmt.Sprint(port)}
	if realm != "" {
		httpCfg["auth"] = map[string]any{"bearer": map[string]any{"realm": realm, "service": service, "cert": cert}}
	}
	return json.MarshalIndent(map[string]any{
		"distSpecVersion": "1.1.0",
		"storage":         map[string]any{"rootDirectory": root, "dedupe": false, "gc": false},
		"http":            httpCfg,
		"log":             map[string]any{"level": "info"},
	}, "", "  ")
}

// blobPath is where the peer keeps a blob of repo, for evicting it.
func (p *peer) blobPath(b *bench, repo, dgst string) string {
	if p.sharesStore() {
		return filepath.Join(b.dir, blobFile(dgst))
	}
	d := digest.Digest(dgst)
	return filepath.Join(p.root, repo, "blobs", d.Algorithm().String(), d.Encoded())
}

// running are the peers that started.
func (b *bench) running() []*peer {
	var out []*peer
	for _, p := range b.peers {
		if p.open != nil {
			out = append(out, p)
		}
	}
	return out
}

// stopPeers stops every peer process.
func (b *bench) stopPeers() {
	for _, p := range b.peers {
		p.open.stop()
		p.open = nil
	}
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}
