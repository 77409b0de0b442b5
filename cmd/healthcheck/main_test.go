package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestExitCodeFollowsTheStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   int
	}{
		{http.StatusOK, exitHealthy},
		{http.StatusNoContent, exitHealthy},
		{http.StatusFound, exitUnhealthy},
		{http.StatusUnauthorized, exitUnhealthy},
		{http.StatusServiceUnavailable, exitUnhealthy},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status == http.StatusFound {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			var out, errOut bytes.Buffer
			if got := run([]string{srv.URL + "/healthz"}, &out, &errOut); got != tc.want {
				t.Fatalf("exit %d, want %d; stderr: %s", got, tc.want, errOut.String())
			}
		})
	}
}

func TestLoopbackHTTPSIsProbedWithoutTrustingItsCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if got := run([]string{"https://" + net.JoinHostPort(host, port) + "/"}, &out, &errOut); got != exitHealthy {
				t.Fatalf("exit %d; stderr: %s", got, errOut.String())
			}
		})
	}
}

func TestOnlyLoopbackHostsSkipVerification(t *testing.T) {
	for _, tc := range []struct {
		host string
		skip bool
	}{
		{"localhost", true},
		{"127.0.0.1", true},
		{"127.3.4.5", true},
		{"::1", true},
		{"registry", false},
		{"example.com", false},
		{"10.0.0.1", false},
		{"localhost.example.com", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			conf, err := tlsConfigFor(tc.host, "")
			if err != nil {
				t.Fatal(err)
			}
			if conf.InsecureSkipVerify != tc.skip {
				t.Fatalf("InsecureSkipVerify = %v, want %v", conf.InsecureSkipVerify, tc.skip)
			}
		})
	}
}

func TestUnreachableServerIsUnhealthy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	var out, errOut bytes.Buffer
	if got := run([]string{"-timeout", "2s", "http://" + addr + "/healthz"}, &out, &errOut); got != exitUnhealthy {
		t.Fatalf("exit %d, want %d", got, exitUnhealthy)
	}
	if !strings.Contains(errOut.String(), "refused") {
		t.Errorf("stderr should say why: %q", errOut.String())
	}
}

func TestBadCommandLineIsAUsageError(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"a", "b"},
		{"ftp://127.0.0.1/"},
		{"127.0.0.1:5000/healthz"},
		{"-cacert", "/does/not/exist", "https://example.com/"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if got := run(args, &out, &errOut); got != exitUsage {
				t.Fatalf("exit %d, want %d", got, exitUsage)
			}
		})
	}
}
