package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wharf-registry/wharf/internal/authserver"
	"github.com/wharf-registry/wharf/internal/logtext"
)

// serve runs the token server until SIGINT or SIGTERM, reloading the
// configuration on SIGHUP and when its file changes.
func serve(path string, stderr io.Writer) int {
	tuneGC(os.Getenv)
	// Concurrent requests' lines go out together in one write (group
	// commit); every return below flushes what is queued.
	out := logtext.NewGroupWriter(stderr)
	defer out.Flush()
	stderr = out
	log := slog.New(logtext.NewHandler(out, nil)) // slog's text format, cheaper per line
	srv, err := authserver.New(path, log)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	cfg := srv.Config()
	ln, err := listen(cfg.Server.Net, cfg.Server.Addr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second, // covers a queue for bcrypt under load
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if tc := srv.TLSConfig(); tc != nil {
		hs.TLSConfig = tc
		ln = tls.NewListener(ln, tc)
		scheme = "https"
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Watch(ctx); err != nil {
		log.Warn("not watching the config file; reload with SIGHUP", "err", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				_ = srv.Reload() // logs its own outcome
			case <-ctx.Done():
				return
			}
		}
	}()

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme, "path_prefix", cfg.Server.PathPrefix, "version", versionString())

	select {
	case err := <-served:
		log.Error("server stopped", "err", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// listen opens server.addr. For a unix socket a stale socket file left by
// a previous run is removed first, as docker_auth users expect restarts to
// work.
func listen(network, addr string) (net.Listener, error) {
	if network == "unix" {
		if fi, err := os.Lstat(addr); err == nil && fi.Mode().Type() == fs.ModeSocket {
			_ = os.Remove(addr)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s %s: %w", network, addr, err)
	}
	return ln, nil
}
