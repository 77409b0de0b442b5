package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/wharf-registry/wharf/internal/logtext"
	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/yamlconf"
	"github.com/wharf-registry/wharf/pkg/storage"
	"github.com/wharf-registry/wharf/pkg/storage/s3"
)

// loadConfig loads and validates the configuration, printing every problem
// to w when there are any.
func loadConfig(path string, environ []string, w io.Writer) (*regconfig.Config, bool) {
	cfg, err := regconfig.Load(path, environ)
	if err != nil {
		printProblems(w, err)
		return nil, false
	}
	return cfg, true
}

// printProblems writes one problem per line.
func printProblems(w io.Writer, err error) {
	var ps yamlconf.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(w, p.Error())
		}
		return
	}
	fmt.Fprintln(w, err)
}

// newLogger builds the logger log.level, log.formatter and log.fields ask
// for.
func newLogger(cfg *regconfig.Config, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(cfg.Log.Level) {
	case "debug", "trace":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error", "fatal", "panic":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = logtext.NewHandler(w, opts) // slog's text format, cheaper per line
	if f := strings.ToLower(cfg.Log.Formatter); f == "json" || f == "logstash" {
		h = slog.NewJSONHandler(w, opts)
	}
	logger := slog.New(h)
	for k, v := range cfg.Log.Fields {
		logger = logger.With(k, v)
	}
	return logger
}

// openStore opens the configured store: the filesystem, or an S3 bucket.
// Nothing is contacted yet: a registry may start before its storage, and
// the health check reports when it is unreachable.
func openStore(cfg *regconfig.Config, logger *slog.Logger) (*storage.Store, error) {
	opts := storage.Options{
		ReadOnly:       cfg.Storage.Maintenance.ReadOnly.Enabled,
		UploadPurgeAge: cfg.Storage.Maintenance.UploadPurging.Age.Duration,
		Logger:         logger,
	}
	if sc := cfg.Storage.S3; sc != nil {
		dc := sc.Config
		dc.Redirect = cfg.Storage.Redirect.On()
		d, err := s3.New(context.Background(), dc)
		if err != nil {
			return nil, err
		}
		opts.Redirect = dc.Redirect
		return storage.New(d, opts), nil
	}
	return storage.NewFilesystem(cfg.Storage.Filesystem.RootDirectory, opts)
}
