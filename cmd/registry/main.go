// Command registry is an OCI Distribution v1.1 registry that reads
// registry:2's config.yml and REGISTRY_* environment variables, serves
// registry:2's on-disk layout and trusts Docker registry tokens.
//
// Usage:
//
//	registry                          serve with the registry:2 image's defaults and REGISTRY_* variables
//	registry CONFIG                   serve (for images whose CMD passes only the path)
//	registry serve [CONFIG]           the same
//	registry garbage-collect [--dry-run] [--delete-untagged] [--grace-period 1h] CONFIG
//	                                  remove unreferenced blobs; print what goes (or would)
//	registry validate CONFIG          list every problem in CONFIG; exit 1 if any
//	registry fsck CONFIG              check every link points at content matching its digest
//	registry --version
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wharf-registry/wharf/internal/buildinfo"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the exit status.
func run(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return serve("", environ, stderr)
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		if len(rest) > 1 {
			fmt.Fprintln(stderr, "usage: registry serve [CONFIG]")
			return 2
		}
		path := ""
		if len(rest) == 1 {
			path = rest[0]
		}
		return serve(path, environ, stderr)
	case "garbage-collect":
		return garbageCollect(rest, environ, stdout, stderr)
	case "validate":
		if len(rest) != 1 {
			fmt.Fprintln(stderr, "usage: registry validate CONFIG")
			return 2
		}
		return validate(rest[0], environ, stdout, stderr)
	case "fsck":
		if len(rest) != 1 {
			fmt.Fprintln(stderr, "usage: registry fsck CONFIG")
			return 2
		}
		return fsck(rest[0], environ, stdout, stderr)
	case "version", "--version", "-version", "-v":
		fmt.Fprintln(stdout, "registry", versionString())
		return 0
	case "help", "--help", "-help", "-h":
		usage(stdout)
		return 0
	default:
		if strings.HasPrefix(cmd, "-") || len(rest) != 0 {
			usage(stderr)
			return 2
		}
		return serve(cmd, environ, stderr)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  registry [serve] [CONFIG]    serve; without CONFIG, registry:2's image defaults plus REGISTRY_* variables
  registry garbage-collect [--dry-run] [--delete-untagged] [--grace-period 1h] CONFIG
                               remove blobs (and with --delete-untagged, manifests) nothing references
  registry validate CONFIG     list every problem in CONFIG; exit 1 if any
  registry fsck CONFIG         check that every link points at content matching its digest
  registry --version
`)
}

func versionString() string { return buildinfo.Version(version) }
