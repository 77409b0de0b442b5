package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

// maxPassword is bcrypt's input limit: longer passwords are refused rather
// than silently truncated.
const maxPassword = 72

// hash prints the bcrypt hash of a password read from stdin, or prompted
// for twice without echo on a terminal: our `htpasswd -nB`.
func hash(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auth hash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, fmt.Sprintf("bcrypt cost (%d-%d)", bcrypt.MinCost, bcrypt.MaxCost))
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: auth hash [--cost N] < password")
		return 2
	}
	if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
		fmt.Fprintf(stderr, "auth hash: --cost must be between %d and %d\n", bcrypt.MinCost, bcrypt.MaxCost)
		return 2
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "auth hash:", err)
		return 1
	}
	h, err := bcrypt.GenerateFromPassword(pw, *cost)
	if err != nil {
		fmt.Fprintln(stderr, "auth hash:", err)
		return 1
	}
	fmt.Fprintln(stdout, string(h))
	return 0
}

func readPassword(stdin io.Reader, stderr io.Writer) ([]byte, error) {
	var pw []byte
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		fmt.Fprint(stderr, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		if string(first) != string(again) {
			return nil, errors.New("the passwords differ")
		}
		pw = first
	} else {
		line, err := readLine(stdin)
		if err != nil {
			return nil, err
		}
		pw = []byte(line)
	}
	switch {
	case len(pw) == 0:
		return nil, errors.New("empty password")
	case len(pw) > maxPassword:
		return nil, fmt.Errorf("password longer than %d bytes (bcrypt would ignore the rest)", maxPassword)
	}
	return pw, nil
}

// readLine reads a password given on stdin: one line, so `echo pw | auth
// hash` and `auth hash < file` both work; the line ending is not part of
// the password.
func readLine(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}
