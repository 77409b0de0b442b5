package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wharf-registry/wharf/internal/atomicfile"
)

// File modes: private keys are readable by their owner only; certificates
// are public.
const (
	keyMode  fs.FileMode = 0o600
	certMode fs.FileMode = 0o644
)

// pairFiles names the two files of one key pair inside the output directory.
type pairFiles struct {
	key, cert string
}

// Names of the files certgen manages, relative to --out.
var (
	caFiles     = pairFiles{key: "ca.key", cert: "ca.crt"}
	serverFiles = pairFiles{key: "server.key", cert: "server.crt"}
	tokenFiles  = pairFiles{key: "token.key", cert: "token.crt"}
)

// errAbsent means neither file of a pair exists: certgen may create it.
var errAbsent = errors.New("absent")

// loadPair reads a pair from dir. It returns errAbsent when neither file
// exists, and a descriptive error when only one does or they do not parse
// or belong together: certgen never silently overwrites what it did not
// understand (the user passes --force for that).
func loadPair(dir string, f pairFiles) (*pair, error) {
	keyPEM, kerr := os.ReadFile(filepath.Join(dir, f.key))
	certPEM, cerr := os.ReadFile(filepath.Join(dir, f.cert))
	switch {
	case errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist):
		return nil, errAbsent
	case kerr != nil:
		return nil, fmt.Errorf("%s exists but %s cannot be read: %w", f.cert, f.key, kerr)
	case cerr != nil:
		return nil, fmt.Errorf("%s exists but %s cannot be read: %w", f.key, f.cert, cerr)
	}
	p, err := decodePair(keyPEM, certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", f.key, f.cert, err)
	}
	return p, nil
}

// savePair writes a pair into dir, key first, each file atomically, so a
// crash never leaves a half-written key or a certificate without its key
// being replaced together with it.
func savePair(dir string, f pairFiles, p *pair) error {
	keyPEM, err := encodeKey(p.key)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, f.key), keyPEM, keyMode); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, f.cert), encodeCert(p.cert), certMode)
}

// owner is a numeric uid:gid given with --owner.
type owner struct {
	uid, gid int
	set      bool
}

// String implements flag.Value.
func (o *owner) String() string {
	if o == nil || !o.set {
		return ""
	}
	return fmt.Sprintf("%d:%d", o.uid, o.gid)
}

// Set implements flag.Value: "UID:GID" or "UID" (group = uid), numeric only,
// because the user usually exists only inside the container image.
func (o *owner) Set(s string) error {
	var uid, gid int
	if n, err := fmt.Sscanf(s, "%d:%d", &uid, &gid); err == nil && n == 2 && fmt.Sprintf("%d:%d", uid, gid) == s {
		*o = owner{uid: uid, gid: gid, set: true}
		return nil
	}
	if n, err := fmt.Sscanf(s, "%d", &uid); err == nil && n == 1 && fmt.Sprint(uid) == s {
		*o = owner{uid: uid, gid: uid, set: true}
		return nil
	}
	return fmt.Errorf("want numeric UID:GID, got %q", s)
}

// chownKeys gives the server and token keys to the user the containers run
// as (65532 in our images), so a key can stay mode 0600 and still be read
// through a bind mount. The CA key is left alone: no container needs it.
func chownKeys(dir string, o owner) error {
	if !o.set {
		return nil
	}
	for _, name := range []string{serverFiles.key, tokenFiles.key} {
		if err := os.Lchown(filepath.Join(dir, name), o.uid, o.gid); err != nil {
			return fmt.Errorf("%w (run as root, e.g. `sudo make certs`, or chown the keys to %s yourself)", err, o.String())
		}
	}
	return nil
}
