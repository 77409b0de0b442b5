package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/regserver"
)

// Server timeouts. Only the header read is bounded: a blob upload or
// download may take as long as the client's bandwidth needs.
const (
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 5 * time.Minute
)

// serve runs the registry until SIGINT or SIGTERM, then drains.
func serve(path string, environ []string, stderr io.Writer) int {
	cfg, ok := loadConfig(path, environ, stderr)
	if !ok {
		return 1
	}
	logger := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	if err := runServer(ctx, cfg, logger, nil); err != nil {
		logger.Error("registry stopped", "err", err)
		return 1
	}
	return 0
}

// runServer serves cfg until ctx is done, then shuts down gracefully.
// ready, if set, is told the address once the listener is bound.
func runServer(ctx context.Context, cfg *regconfig.Config, logger *slog.Logger, ready func(net.Addr)) error {
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	store, err := openStore(cfg, logger)
	if err != nil {
		return err
	}
	srv, err := regserver.New(cfg, store, logger)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{
		Addr:              cfg.HTTP.Addr,
		Handler:           srv.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	useTLS := cfg.HTTP.TLS.Enabled()
	if useTLS {
		if httpSrv.TLSConfig, err = tlsConfig(cfg.HTTP.TLS); err != nil {
			return err
		}
		if cfg.HTTP.HTTP2.Disabled {
			httpSrv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		}
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	debugSrv, err := startDebug(cfg, srv, logger)
	if err != nil {
		ln.Close()
		return err
	}
	logger.Info("registry listening", "addr", ln.Addr().String(), "tls", useTLS, "auth", cfg.Auth.Mode(),
		"storage", cfg.Storage.Driver(), "root", cfg.Storage.Describe(), "redirect", cfg.Storage.Redirect.On() && cfg.Storage.S3 != nil,
		"version", versionString())
	if ready != nil {
		ready(ln.Addr())
	}

	jobsCtx, stopJobs := context.WithCancel(context.Background())
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		_ = srv.Run(jobsCtx)
	}()
	serveErr := make(chan error, 1)
	go func() {
		if useTLS {
			serveErr <- httpSrv.ServeTLS(ln, "", "")
		} else {
			serveErr <- httpSrv.Serve(ln)
		}
	}()

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		drain := cfg.HTTP.DrainTimeout.Duration // http.draintimeout
		logger.Info("shutting down: finishing requests in flight", "timeout", drain)
		sctx, cancel := context.WithTimeout(context.Background(), drain)
		err = httpSrv.Shutdown(sctx)
		cancel()
		if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	if debugSrv != nil {
		debugSrv.Close() // a profile being taken is cut short
	}
	stopJobs()
	<-jobsDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err == nil {
		logger.Info("registry stopped")
	}
	return err
}

// startDebug starts the debug listener when http.debug.addr is set:
// metrics, health and pprof, in plain HTTP as in registry:2, on its own
// port so that they never reach the public one.
func startDebug(cfg *regconfig.Config, srv *regserver.Server, logger *slog.Logger) (*http.Server, error) {
	addr := cfg.HTTP.Debug.Addr
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.debug.addr: %w", err)
	}
	debugSrv := &http.Server{
		Handler:           srv.DebugHandler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("debug listener: /metrics, /debug/health, /debug/pprof/; keep it off the public network", "addr", ln.Addr().String())
	go func() {
		if err := debugSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("debug listener stopped", "err", err)
		}
	}()
	return debugSrv, nil
}

// tlsConfig builds the listener's TLS settings from http.tls.
func tlsConfig(t regconfig.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.Certificate, t.Key)
	if err != nil {
		return nil, fmt.Errorf("http.tls: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if strings.EqualFold(t.MinimumTLS, "tls1.3") {
		c.MinVersion = tls.VersionTLS13
	}
	if len(t.ClientCAs) > 0 {
		pool := x509.NewCertPool()
		for _, f := range t.ClientCAs {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("http.tls.clientcas: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("http.tls.clientcas: %s holds no PEM certificate", f)
			}
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}
