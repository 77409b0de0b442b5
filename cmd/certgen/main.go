// Command certgen creates, with crypto/x509 alone, every certificate the
// compose deployment needs: a local CA, one TLS server certificate for the
// registry and the auth server signed by it, and the key and self-signed
// certificate the auth server signs tokens with (the registry's
// rootcertbundle). It replaces the openssl steps of a manual setup.
//
// Usage:
//
//	certgen --out DIR [--host NAME ...] [--force] [--owner UID:GID] [--token-key ecdsa|rsa]
//
// Files are created only when absent, so running it again is safe; the
// server certificate is re-issued (by the same CA) when it does not cover a
// requested --host. --force replaces everything, including the CA that
// clients were told to trust.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// dnsName is a host name (letters, digits, hyphens, dots), optionally a
// leading wildcard label.
var dnsName = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

// hostList collects repeated --host flags; a comma-separated list also works.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(s string) error {
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if net.ParseIP(name) == nil && !dnsName.MatchString(name) {
			return fmt.Errorf("bad host %q: give a DNS name or an IP address, without port", name)
		}
		*h = append(*h, name)
	}
	return nil
}

// options are certgen's parsed flags.
type options struct {
	out      string
	hosts    hostList
	force    bool
	owner    owner
	keyType  string
	tokenKey string
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("certgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "", "directory to write the certificates and keys to (required)")
	fs.Var(&o.hosts, "host", "extra `NAME` (DNS name or IP) for the server certificate; repeatable")
	fs.BoolVar(&o.force, "force", false, "replace existing files, including the CA")
	fs.Var(&o.owner, "owner", "chown server.key and token.key to `UID:GID` (the containers' user, 65532)")
	fs.StringVar(&o.keyType, "key-type", "ecdsa", "CA and server key type: ecdsa (P-256) or rsa (2048)")
	fs.StringVar(&o.tokenKey, "token-key", "ecdsa", "token signing key type: ecdsa (P-256, ES256) or rsa (2048, RS256)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: certgen --out DIR [--host NAME ...] [--force] [--owner UID:GID]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	report, err := generate(o)
	for _, line := range report {
		fmt.Fprintln(stdout, line)
	}
	if err != nil {
		fmt.Fprintln(stderr, "certgen:", err)
		return 1
	}
	printTrust(stdout, o)
	return 0
}

// generate creates what is missing in o.out and returns one line per file.
func generate(o options) ([]string, error) {
	for _, kind := range []string{o.keyType, o.tokenKey} {
		if kind != "ecdsa" && kind != "rsa" {
			return nil, fmt.Errorf("unknown key type %q (want ecdsa or rsa)", kind)
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	var report []string
	note := func(f pairFiles, what, why string) {
		report = append(report, fmt.Sprintf("  %-10s %-10s %s", f.cert, what, why))
	}

	ca, caNew, err := ensure(o, caFiles, func() (*pair, error) { return newCA(o.keyType) })
	if err != nil {
		return report, err
	}
	note(caFiles, state(caNew), "local CA: Docker clients and curl trust this")

	sans := sansFor(o.hosts)
	server, err := loadPair(o.out, serverFiles)
	why := "TLS for registry and auth: " + strings.Join(sans, ", ")
	switch {
	case o.force || caNew || errors.Is(err, errAbsent):
		server = nil
	case err != nil:
		return report, fmt.Errorf("%w (remove the files or use --force)", err)
	case !signedBy(server.cert, ca.cert):
		why = "re-issued: the old one was not signed by ca.crt"
		server = nil
	case len(missingSANs(server.cert, sans)) > 0:
		why = "re-issued to add " + strings.Join(missingSANs(server.cert, sans), ", ")
		// Keep the names the old certificate had: clients may use them.
		sans = union(sans, sanList(server.cert))
		server = nil
	}
	if server == nil {
		if server, err = newServer(o.keyType, ca, sans); err != nil {
			return report, err
		}
		if err := savePair(o.out, serverFiles, server); err != nil {
			return report, err
		}
		note(serverFiles, "created", why)
	} else {
		note(serverFiles, "kept", "TLS for registry and auth: "+strings.Join(sanList(server.cert), ", "))
	}

	_, tokenNew, err := ensure(o, tokenFiles, func() (*pair, error) { return newTokenSigner(o.tokenKey) })
	if err != nil {
		return report, err
	}
	note(tokenFiles, state(tokenNew), "token signer: auth's token.certificate, registry's rootcertbundle")

	return report, chownKeys(o.out, o.owner)
}

// ensure loads the pair f, or makes and saves a new one when it is absent
// or --force was given. It reports whether the pair is new.
func ensure(o options, f pairFiles, create func() (*pair, error)) (*pair, bool, error) {
	p, err := loadPair(o.out, f)
	switch {
	case err == nil && !o.force:
		return p, false, nil
	case err != nil && !errors.Is(err, errAbsent) && !o.force:
		return nil, false, fmt.Errorf("%w (remove the files or use --force)", err)
	}
	if p, err = create(); err != nil {
		return nil, false, err
	}
	if err := savePair(o.out, f, p); err != nil {
		return nil, false, err
	}
	return p, true, nil
}

func state(created bool) string {
	if created {
		return "created"
	}
	return "kept"
}

// printTrust tells the user how to make Docker and curl trust the CA.
// Docker reads /etc/docker/certs.d/<host:port>/ca.crt on every connection,
// so no daemon restart is needed.
func printTrust(w io.Writer, o options) {
	hosts := append([]string{"localhost"}, o.hosts...)
	fmt.Fprintf(w, "\nTrust the CA on every machine that runs docker (as root):\n")
	for _, h := range hosts {
		for _, port := range []string{"5000", "5001"} {
			fmt.Fprintf(w, "  mkdir -p /etc/docker/certs.d/%s:%s && cp %s/ca.crt /etc/docker/certs.d/%s:%s/ca.crt\n",
				h, port, o.out, h, port)
		}
	}
	fmt.Fprintf(w, "For curl: curl --cacert %s/ca.crt https://%s:5000/v2/\n", o.out, hosts[len(hosts)-1])
}
