package main

import (
	"fmt"
	"io"

	"github.com/wharf-registry/wharf/internal/regserver"
)

// validate prints every problem with the configuration, including what
// only shows when its files are read (htpasswd entries, certificates), and
// exits 1 if there are any.
func validate(path string, environ []string, stdout, stderr io.Writer) int {
	cfg, ok := loadConfig(path, environ, stdout)
	if !ok {
		return 1
	}
	problems := 0
	if err := regserver.CheckAuth(cfg); err != nil {
		fmt.Fprintln(stdout, err)
		problems++
	}
	if cfg.HTTP.TLS.Enabled() {
		if _, err := tlsConfig(cfg.HTTP.TLS); err != nil {
			fmt.Fprintln(stdout, err)
			problems++
		}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if problems > 0 {
		return 1
	}
	fmt.Fprintf(stdout, "%s: configuration OK (auth: %s, storage: %s %s)\n", displayName(path), cfg.Auth.Mode(), cfg.Storage.Driver(), cfg.Storage.Describe())
	return 0
}

func displayName(path string) string {
	if path == "" {
		return "(defaults)"
	}
	return path
}
