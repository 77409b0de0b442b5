// Command auth is a Docker registry token server that reads
// cesanta/docker_auth's YAML configuration (static users, ldap_auth,
// ext_auth, the ACL and ext_authz).
//
// Usage:
//
//	auth CONFIG                       serve (as docker_auth: command: /config/auth_config.yml)
//	auth serve CONFIG                 the same
//	auth validate CONFIG              list every problem in CONFIG; exit 1 if any
//	auth check CONFIG --account A [--scope S ...] [--service X] [--ip IP] [--password-stdin]
//	                                  show the account's labels (static, ext_auth, LDAP),
//	                                  what the ACL grants and which rule decides
//	auth hash [--cost N]              read a password, print its bcrypt hash
//	auth --version
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
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		if len(rest) != 1 {
			fmt.Fprintln(stderr, "usage: auth serve CONFIG")
			return 2
		}
		return serve(rest[0], stderr)
	case "validate":
		if len(rest) != 1 {
			fmt.Fprintln(stderr, "usage: auth validate CONFIG")
			return 2
		}
		return validate(rest[0], stdout, stderr)
	case "check":
		return check(rest, stdin, stdout, stderr)
	case "hash":
		return hash(rest, stdin, stdout, stderr)
	case "version", "--version", "-version", "-v":
		fmt.Fprintln(stdout, "auth", versionString())
		return 0
	case "help", "--help", "-help", "-h":
		usage(stdout)
		return 0
	default:
		if strings.HasPrefix(cmd, "-") || len(rest) != 0 {
			usage(stderr)
			return 2
		}
		return serve(cmd, stderr) // docker_auth's form: auth CONFIG
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  auth CONFIG                  serve (same as: auth serve CONFIG)
  auth validate CONFIG         list every problem in CONFIG; exit 1 if any
  auth check CONFIG --account A [--scope S ...] [--service X] [--ip IP] [--password-stdin]
                               show the account's labels (static users, ext_auth, LDAP),
                               what the ACL grants and which rule decides
  auth hash [--cost N]         read a password from stdin (or prompt), print a bcrypt hash
  auth --version
`)
}

func versionString() string { return buildinfo.Version(version) }
