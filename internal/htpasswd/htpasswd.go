// Package htpasswd checks Basic credentials against an htpasswd file of
// bcrypt entries, as `htpasswd -B` writes them and registry:2 reads them.
//
// Passwords are checked by internal/loginguard, as the token server's are:
// shared checks of the same credentials, at most NumCPU bcrypt at once,
// failed logins throttled per client address (loginguard's defaults: 10 a
// minute) and slowed per account, and every failure, an unknown user's
// included, as slow as a check against the costliest hash in the file. The
// file is re-read when it changes, without a restart.
package htpasswd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/credcache"
	"github.com/wharf-registry/wharf/internal/decoy"
	"github.com/wharf-registry/wharf/internal/loginguard"
)

// reloadEvery bounds how often the file is stat'ed: at most once a second,
// however many requests arrive.
const reloadEvery = time.Second

// File is a loaded htpasswd file. It is safe for concurrent use.
type File struct {
	path   string
	logger *slog.Logger
	cache  *credcache.Cache
	slots  *loginguard.Slots
	guard  *loginguard.Guard
	now    func() time.Time

	mu        sync.Mutex
	entries   map[string][]byte // user -> bcrypt hash
	decoys    *decoy.Set        // what makes every failure cost the same
	info      os.FileInfo       // of the version loaded
	checkedAt time.Time
}

// Load reads the htpasswd file at path. Errors name the file and line.
// logger receives reload failures (the last good entries stay in use); nil
// discards them.
func Load(path string, logger *slog.Logger) (*File, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &File{
		path:   path,
		logger: logger,
		cache:  credcache.New(4096, 5*time.Minute),
		slots:  loginguard.NewSlots(runtime.NumCPU()),
		now:    time.Now,
	}
	f.guard = loginguard.New(loginguard.Options{
		Slots: f.slots,
		Cache: f.cache,
		Throttle: loginguard.NewThrottle(loginguard.DefaultMaxFailures,
			loginguard.DefaultWindow, loginguard.DefaultMaxTracked),
	})
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := f.load(info); err != nil {
		return nil, err
	}
	f.checkedAt = f.now()
	return f, nil
}

// Authenticate reports whether password is user's, for a client at addr.
// It takes as long for an unknown user as for a known user with a wrong
// password. An address with too many failures gets a *loginguard.Throttled
// error; a client that went away gets ctx's.
func (f *File) Authenticate(ctx context.Context, user, password string, addr netip.Addr) (bool, error) {
	f.reloadIfChanged()
	f.mu.Lock()
	hash := f.entries[user]
	decoys := f.decoys
	f.mu.Unlock()
	return f.guard.Check(ctx, loginguard.Attempt{User: user, Password: password, Hash: hash, Addr: addr, Decoys: decoys})
}

// Checks returns how many bcrypt password checks ran, and how many wait
// for one of the NumCPU slots.
func (f *File) Checks() (ran uint64, queued int) {
	return f.slots.Checks(), f.slots.Waiting()
}

// Users returns how many users the file holds.
func (f *File) Users() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.entries)
}

// reloadIfChanged re-reads the file when its identity, size or mtime
// changed, checking at most once per reloadEvery. A file that no longer
// parses is logged and the previous entries stay in force.
func (f *File) reloadIfChanged() {
	f.mu.Lock()
	now := f.now()
	if now.Sub(f.checkedAt) < reloadEvery {
		f.mu.Unlock()
		return
	}
	f.checkedAt = now
	prev := f.info
	f.mu.Unlock()

	info, err := os.Stat(f.path)
	if err != nil {
		f.logger.Warn("htpasswd file unreadable; keeping the users loaded before", "path", f.path, "err", err)
		return
	}
	if os.SameFile(prev, info) && info.Size() == prev.Size() && info.ModTime().Equal(prev.ModTime()) {
		return
	}
	if err := f.load(info); err != nil {
		f.logger.Warn("htpasswd file changed but is invalid; keeping the users loaded before", "path", f.path, "err", err)
		return
	}
	f.logger.Info("htpasswd file reloaded", "path", f.path, "users", f.Users())
}

// load parses the file and swaps the entries in.
func (f *File) load(info os.FileInfo) error {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return err
	}
	entries, err := Parse(f.path, data)
	if err != nil {
		return err
	}
	hashes := make([][]byte, 0, len(entries))
	for _, h := range entries {
		hashes = append(hashes, h)
	}
	decoys, err := decoy.New(hashes)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.entries, f.decoys, f.info = entries, decoys, info
	f.mu.Unlock()
	f.cache.Purge()
	return nil
}

// Parse reads htpasswd content: one `user:hash` per line, blank lines and
// #-comments ignored. Only bcrypt hashes are accepted: the MD5, SHA-1 and
// crypt(3) kinds htpasswd can also write are too weak to keep supporting.
// name is used in errors.
func Parse(name string, data []byte) (map[string][]byte, error) {
	entries := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || user == "":
			return nil, fmt.Errorf("%s:%d: want user:hash", name, n)
		case !isBcrypt(hash):
			return nil, fmt.Errorf("%s:%d: user %q: not a bcrypt hash; only bcrypt entries ($2y$, as `htpasswd -B` writes) are supported", name, n, user)
		case entries[user] != nil:
			return nil, fmt.Errorf("%s:%d: user %q given more than once", name, n, user)
		}
		entries[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return entries, nil
}

func isBcrypt(hash string) bool {
	if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$") {
		return false
	}
	_, err := bcrypt.Cost([]byte(hash))
	return err == nil && len(hash) == 60
}
