package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/atomicfile"
)

// readLines reads an htpasswd file as lines, keeping comments and other
// users' lines exactly as they are.
func readLines(file string) ([]string, os.FileMode, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, 0, err
	}
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(file); err == nil {
		mode = fi.Mode().Perm()
	}
	text := strings.TrimSuffix(string(data), "\n")
	if text == "" {
		return nil, mode, nil
	}
	return strings.Split(text, "\n"), mode, nil
}

// userOf returns the user a line is for, or "" for blank and comment lines.
func userOf(line string) string {
	if strings.HasPrefix(strings.TrimSpace(line), "#") {
		return ""
	}
	user, _, ok := strings.Cut(line, ":")
	if !ok {
		return ""
	}
	return strings.TrimSpace(user)
}

// setUser replaces user's line in file, or appends it; create starts a new
// file. The file is replaced atomically: a crash leaves the old file or the
// new one, never half of it.
func setUser(file, user, line string, create bool, stderr io.Writer) error {
	var lines []string
	mode := fs.FileMode(0o644)
	if !create {
		var err error
		lines, mode, err = readLines(file)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot modify file %s; use -c to create it", file)
		}
		if err != nil {
			return err
		}
	}
	replaced := false
	for i, l := range lines {
		if userOf(l) == user {
			if replaced {
				return fmt.Errorf("%s:%d: user %q appears more than once; fix the file by hand", file, i+1, user)
			}
			lines[i], replaced = line, true
		}
	}
	verb := "Updating"
	if !replaced {
		lines = append(lines, line)
		verb = "Adding"
	}
	fmt.Fprintf(stderr, "%s password for user %s\n", verb, user)
	return atomicfile.Write(file, joinLines(lines), mode)
}

// deleteUser removes user's line from file.
func deleteUser(file, user string, stderr io.Writer) error {
	lines, mode, err := readLines(file)
	if err != nil {
		return err
	}
	kept := lines[:0]
	for _, l := range lines {
		if userOf(l) != user {
			kept = append(kept, l)
		}
	}
	if len(kept) == len(lines) {
		return fmt.Errorf("user %s not found", user)
	}
	fmt.Fprintf(stderr, "Deleting password for user %s\n", user)
	return atomicfile.Write(file, joinLines(kept), mode)
}

// verify checks password against user's line in file.
func verify(file, user string, password []byte, stderr io.Writer) error {
	lines, _, err := readLines(file)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if userOf(l) != user {
			continue
		}
		_, hash, _ := strings.Cut(strings.TrimSpace(l), ":")
		if bcrypt.CompareHashAndPassword([]byte(hash), password) != nil {
			return errMismatch
		}
		fmt.Fprintf(stderr, "Password for user %s correct.\n", user)
		return nil
	}
	return fmt.Errorf("user %s not found", user)
}

// joinLines is the file content of lines, each ended by a newline.
func joinLines(lines []string) []byte {
	if len(lines) == 0 {
		return nil
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}
