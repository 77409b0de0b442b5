// Command htpasswd manages the bcrypt password files that the registry's
// htpasswd auth reads. It takes Apache htpasswd's flags, so the lines of the
// guides written for registry:2's image keep working against ours:
//
//	docker run --rm --entrypoint htpasswd wharf/registry -Bbn admin secret > auth/htpasswd
//
// Only bcrypt is written: the registry (like registry:2) accepts nothing
// else, so -m, -2, -5, -d, -s and -p are refused rather than writing a line
// it would reject. -B is accepted and implied.
//
//	htpasswd [-ciBD] [-C cost] passwordfile username
//	htpasswd -b[cBD] [-C cost] passwordfile username password
//	htpasswd -n[iB] [-C cost] username
//	htpasswd -nb[B] [-C cost] username password
//	htpasswd -v[ib] passwordfile username [password]
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  htpasswd [-ciBD] [-C cost] passwordfile username
  htpasswd -b[cBD] [-C cost] passwordfile username password
  htpasswd -n[iB] [-C cost] username
  htpasswd -nb[B] [-C cost] username password
  htpasswd -v[ib] passwordfile username [password]
 -c  create a new file (replacing one that exists)
 -n  print the line on standard output instead of updating a file
 -b  take the password from the command line
 -i  read the password from standard input, without asking twice
 -B  bcrypt (the default, and the only kind written)
 -C  bcrypt cost, 4 to 31 (default 10)
 -D  delete the user
 -v  verify the user's password
`

// options are the parsed flags.
type options struct {
	create, stdout, batch, stdin, del, verify bool
	cost                                      int
}

// run is main with its streams, so tests call it directly.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opt, rest, err := parseFlags(args)
	if err != nil {
		fmt.Fprintf(stderr, "htpasswd: %v\n%s", err, usage)
		return 2
	}
	if err := do(opt, rest, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "htpasswd:", err)
		if errors.Is(err, errUsage) {
			fmt.Fprint(stderr, usage)
			return 2
		}
		if errors.Is(err, errMismatch) {
			return 3 // as Apache htpasswd: verification failed
		}
		return 1
	}
	return 0
}

var (
	errUsage    = errors.New("wrong number of arguments")
	errMismatch = errors.New("password verification failed")
)

// parseFlags reads Apache's single-letter flags, which may be combined
// (-Bbn) and precede the operands. -C takes its value from the rest of its
// group (-C12) or the next argument.
func parseFlags(args []string) (options, []string, error) {
	opt := options{cost: bcrypt.DefaultCost}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			switch c := a[j]; c {
			case 'c':
				opt.create = true
			case 'n':
				opt.stdout = true
			case 'b':
				opt.batch = true
			case 'i':
				opt.stdin = true
			case 'B':
			case 'D':
				opt.del = true
			case 'v':
				opt.verify = true
			case 'C':
				v := a[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return opt, nil, errors.New("-C needs a cost")
					}
					i++
					v = args[i]
				}
				n, err := strconv.Atoi(v)
				if err != nil || n < bcrypt.MinCost || n > bcrypt.MaxCost {
					return opt, nil, fmt.Errorf("-C %q: the bcrypt cost must be a number from %d to %d", v, bcrypt.MinCost, bcrypt.MaxCost)
				}
				opt.cost = n
				j = len(a)
			case 'm', '2', '5', 'd', 's', 'p':
				return opt, nil, fmt.Errorf("-%c: only bcrypt (-B) is supported; the registry accepts no other kind of hash", c)
			case 'r':
				return opt, nil, errors.New("-r: rounds apply to SHA-256/512 hashes, which are not supported; use -C for bcrypt")
			default:
				return opt, nil, fmt.Errorf("unknown flag -%c", c)
			}
		}
	}
	modes := 0
	for _, m := range []bool{opt.stdout, opt.del, opt.verify} {
		if m {
			modes++
		}
	}
	switch {
	case modes > 1:
		return opt, nil, errors.New("-n, -D and -v exclude each other")
	case opt.create && (opt.stdout || opt.verify):
		return opt, nil, errors.New("-c updates a file: it cannot go with -n or -v")
	case opt.batch && opt.stdin:
		return opt, nil, errors.New("-b and -i exclude each other")
	}
	return opt, args[i:], nil
}

// do carries out the parsed command.
func do(opt options, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	want := 2 // passwordfile username
	if opt.stdout {
		want = 1 // username
	}
	if opt.batch && !opt.del {
		want++ // password
	}
	if len(args) != want {
		return errUsage
	}
	file, rest := "", args
	if !opt.stdout {
		file, rest = args[0], args[1:]
	}
	user := rest[0]
	if user == "" || strings.ContainsAny(user, ":\r\n") {
		return fmt.Errorf("user name %q: it may not be empty or contain ':' or a line break", user)
	}
	if opt.del {
		return deleteUser(file, user, stdout)
	}
	password, err := getPassword(opt, rest[1:], stdin, stderr)
	if err != nil {
		return err
	}
	if opt.verify {
		return verify(file, user, password, stderr)
	}
	hash, err := bcrypt.GenerateFromPassword(password, opt.cost)
	if err != nil {
		return err
	}
	// $2y$ as Apache writes it; the algorithm is the same as Go's $2a$.
	line := user + ":$2y$" + strings.TrimPrefix(string(hash), "$2a$")
	if opt.stdout {
		_, err := fmt.Fprintln(stdout, line)
		return err
	}
	return setUser(file, user, line, opt.create, stderr)
}

// getPassword takes the password from the arguments (-b), one line of
// standard input (-i, or any input that is not a terminal), or a prompt
// asked twice without echo.
func getPassword(opt options, args []string, stdin io.Reader, stderr io.Writer) ([]byte, error) {
	var pw []byte
	switch {
	case opt.batch:
		pw = []byte(args[0])
	case !opt.stdin && isTerminal(stdin):
		f := stdin.(*os.File)
		fmt.Fprint(stderr, "New password: ")
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		if !opt.verify {
			fmt.Fprint(stderr, "Re-type new password: ")
			again, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return nil, err
			}
			if string(first) != string(again) {
				return nil, errors.New("password verification error: the passwords differ")
			}
		}
		pw = first
	default:
		line, err := readLine(stdin)
		if err != nil {
			return nil, err
		}
		pw = line
	}
	if len(pw) > 72 {
		return nil, errors.New("password longer than 72 bytes: bcrypt would ignore the rest")
	}
	return pw, nil
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readLine reads one line (at most 4 KiB), without its line ending.
func readLine(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return nil, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return []byte(strings.TrimSuffix(line, "\r")), nil
}
