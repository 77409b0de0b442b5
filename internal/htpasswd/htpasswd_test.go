package htpasswd

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// hash returns a bcrypt hash of password with the given version prefix
// ($2a$, $2b$ or $2y$: the same algorithm, different writers).
func hash(t *testing.T, password, prefix string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return prefix + string(h[4:])
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fakeClock lets tests step past the once-a-second reload check without
// sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// auth authenticates from an address of its own each time, so that the
// tests' failures never add up to a throttled address.
func auth(t *testing.T, f *File, user, password string) bool {
	t.Helper()
	n := addrs.Add(1)
	ok, err := f.Authenticate(context.Background(), user, password, netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}))
	if err != nil {
		t.Fatalf("Authenticate(%q): %v", user, err)
	}
	return ok
}

var addrs atomic.Uint32

func load(t *testing.T, content string) (*File, string, *fakeClock) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "htpasswd")
	write(t, path, content)
	f, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Now()}
	f.now = clock.Now
	f.checkedAt = clock.Now()
	return f, path, clock
}

func TestAuthenticateChecksEveryBcryptVariant(t *testing.T) {
	content := strings.Join([]string{
		"# users",
		"alice:" + hash(t, "a-pass", "$2y$", bcrypt.MinCost),
		"",
		"bob:" + hash(t, "b-pass", "$2a$", bcrypt.MinCost),
		"carol:" + hash(t, "c-pass", "$2b$", bcrypt.MinCost) + "  ",
	}, "\r\n")
	f, _, _ := load(t, content)
	tests := []struct {
		user, password string
		want           bool
	}{
		{"alice", "a-pass", true},
		{"bob", "b-pass", true},
		{"carol", "c-pass", true},
		{"alice", "b-pass", false},
		{"alice", "", false},
		{"Alice", "a-pass", false},
		{"dave", "a-pass", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+tt.password, func(t *testing.T) {
			for range 2 { // the second call may be answered from the cache
				if got := auth(t, f, tt.user, tt.password); got != tt.want {
					t.Fatalf("Authenticate(%q, %q) = %v, want %v", tt.user, tt.password, got, tt.want)
				}
			}
		})
	}
}

func TestUnknownUsersPayForTheCostliestComparison(t *testing.T) {
	f, path, clock := load(t, "alice:"+hash(t, "a-pass", "$2y$", bcrypt.MinCost+1)+"\nbob:"+hash(t, "b-pass", "$2y$", bcrypt.MinCost)+"\n")
	checks := func() uint64 { n, _ := f.Checks(); return n }
	for _, tt := range []struct{ user, password string }{
		{"mallory", "x"}, {"mallory", "x"}, {"bob", "wrong"}, {"alice", "a-pass"}, {"alice", "a-pass"},
	} {
		before := checks()
		auth(t, f, tt.user, tt.password)
		if n := checks() - before; n != 1 && !(tt.password == "a-pass" && n == 0) {
			t.Errorf("%s/%s: %d bcrypt checks, want one (none for a remembered password)", tt.user, tt.password, n)
		}
	}
	if c := f.decoys.MaxCost(); c != bcrypt.MinCost+1 {
		t.Errorf("unknown users are checked at cost %d, want the costliest in the file, %d", c, bcrypt.MinCost+1)
	}
	write(t, path, "carol:"+hash(t, "c-pass", "$2y$", bcrypt.MinCost+2)+"\n")
	clock.Advance(2 * time.Second)
	auth(t, f, "mallory", "x")
	if c := f.decoys.MaxCost(); c != bcrypt.MinCost+2 {
		t.Errorf("after a reload unknown users are checked at cost %d, want %d", c, bcrypt.MinCost+2)
	}
}

func TestParseRejectsWhatIsNotBcrypt(t *testing.T) {
	good := hash(t, "x", "$2y$", bcrypt.MinCost)
	tests := []struct {
		name, line, contains string
	}{
		{"apache md5", "bob:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/", `user "bob": not a bcrypt hash`},
		{"sha1", "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "not a bcrypt hash"},
		{"crypt", "bob:rl0aLnQ0yWH3I", "not a bcrypt hash"},
		{"truncated bcrypt", "bob:" + good[:40], "not a bcrypt hash"},
		{"no colon", "bob", "want user:hash"},
		{"empty user", ":" + good, "want user:hash"},
		{"duplicate user", "alice:" + good, `user "alice" given more than once`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := "alice:" + good + "\n" + tt.line + "\n"
			_, err := Parse("users.htpasswd", []byte(content))
			if err == nil || !strings.Contains(err.Error(), "users.htpasswd:2: ") || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("got %v, want an error at users.htpasswd:2 containing %q", err, tt.contains)
			}
		})
	}
}

func TestLoadFailsOnAMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope"), nil); err == nil {
		t.Fatal("want an error")
	}
}

func TestChangedFileIsReloaded(t *testing.T) {
	f, path, clock := load(t, "alice:"+hash(t, "a-pass", "$2y$", bcrypt.MinCost)+"\n")
	write(t, path, "bob:"+hash(t, "b-pass", "$2y$", bcrypt.MinCost)+"\n# a longer file\n")

	// Within a second of the last check the file is not looked at again.
	if !auth(t, f, "alice", "a-pass") || auth(t, f, "bob", "b-pass") {
		t.Fatal("reloaded before a second passed")
	}
	clock.Advance(2 * time.Second)
	if auth(t, f, "alice", "a-pass") {
		t.Error("alice, removed from the file, still authenticates")
	}
	if !auth(t, f, "bob", "b-pass") {
		t.Error("bob, added to the file, does not authenticate")
	}

	t.Run("an invalid new version keeps the last good one", func(t *testing.T) {
		write(t, path, "bob:$apr1$notbcrypt\n")
		clock.Advance(2 * time.Second)
		if !auth(t, f, "bob", "b-pass") {
			t.Error("bob lost after a bad edit")
		}
	})

	t.Run("a replaced file of the same size and mtime is noticed", func(t *testing.T) {
		write(t, path, "bob:"+hash(t, "b-pass", "$2y$", bcrypt.MinCost)+"\n")
		clock.Advance(2 * time.Second)
		if !auth(t, f, "bob", "b-pass") {
			t.Fatal("bob not loaded")
		}
		old, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		tmp := path + ".new"
		write(t, tmp, "bob:"+hash(t, "c-pass", "$2y$", bcrypt.MinCost)+"\n") // same length
		if err := os.Chtimes(tmp, old.ModTime(), old.ModTime()); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second)
		if !auth(t, f, "bob", "c-pass") {
			t.Error("new password for bob not accepted after the file was replaced")
		}
	})
}

func TestConcurrentAuthenticationDuringReloads(t *testing.T) {
	f, path, clock := load(t, "alice:"+hash(t, "a-pass", "$2y$", bcrypt.MinCost)+"\n")
	content := "alice:" + hash(t, "a-pass", "$2y$", bcrypt.MinCost) + "\n"
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				if i == 0 && j%5 == 0 {
					// Replace atomically, as editors and Kubernetes do.
					write(t, path+".tmp", content+strings.Repeat("#", j)+"\n")
					if err := os.Rename(path+".tmp", path); err != nil {
						t.Error(err)
					}
					clock.Advance(2 * time.Second)
				}
				if !auth(t, f, "alice", "a-pass") {
					failures.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d authentications failed while the file was rewritten with the same user", n)
	}
}
