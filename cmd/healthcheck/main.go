// Command healthcheck is a tiny HTTP probe for images built FROM scratch,
// which have no curl or wget: `healthcheck URL` exits 0 when the URL answers
// 2xx and 1 otherwise, printing why. Compose and Kubernetes exec probes use it.
//
// Usage:
//
//	healthcheck [-timeout 5s] [-cacert FILE] URL
//
// For https to a loopback host (localhost, 127.0.0.0/8, ::1) certificate
// verification is skipped: the probe only ever talks to the container's own
// listener, whose certificate is issued for the public names and signed by a
// CA the image does not carry. Any other host is verified, against -cacert
// when given, else the system roots. Redirects are not followed: a probe
// should see the health endpoint itself, not wherever it points.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes: Docker reads 0 as healthy and 1 as unhealthy; 2 marks a usage
// error in the probe's own command line.
const (
	exitHealthy   = 0
	exitUnhealthy = 1
	exitUsage     = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	caFile := fs.String("cacert", "", "PEM `FILE` of CA certificates to verify non-loopback https hosts with")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: healthcheck [-timeout 5s] [-cacert FILE] URL")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	u, err := url.Parse(fs.Arg(0))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "healthcheck: want an http:// or https:// URL, got %q\n", fs.Arg(0))
		return exitUsage
	}
	tlsConf, err := tlsConfigFor(u.Hostname(), *caFile)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return exitUsage
	}
	client := &http.Client{
		Timeout:       *timeout,
		Transport:     &http.Transport{TLSClientConfig: tlsConf, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(u.String())
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return exitUnhealthy
	}
	defer resp.Body.Close()
	// Drain a little so the server sees a clean close; health bodies are tiny.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "healthcheck: %s answered %s\n", u.Redacted(), resp.Status)
		return exitUnhealthy
	}
	fmt.Fprintf(stdout, "healthcheck: %s answered %s\n", u.Redacted(), resp.Status)
	return exitHealthy
}

// tlsConfigFor decides how the probe verifies host's certificate: not at
// all for loopback hosts (see the package comment), otherwise against
// caFile or the system roots.
func tlsConfigFor(host, caFile string) (*tls.Config, error) {
	if isLoopback(host) {
		return &tls.Config{InsecureSkipVerify: true}, nil // only our own listener: see the package comment
	}
	conf := &tls.Config{}
	if caFile != "" {
		pemData, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, errors.New(caFile + ": no PEM certificates")
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// isLoopback reports whether host is "localhost" or a loopback IP literal.
// It never resolves names: a DNS answer must not turn verification off.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
