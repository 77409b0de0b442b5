package credcache

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// verifier counts real bcrypt comparisons.
type verifier struct {
	mu    sync.Mutex
	calls int
}

func (v *verifier) bcrypt(hash []byte, password string) func() bool {
	return func() bool {
		v.mu.Lock()
		v.calls++
		v.mu.Unlock()
		return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	}
}

// check is the way internal/loginguard uses a Cache: bcrypt unless Known,
// Remember on success.
func check(c *Cache, user, password string, hash []byte, verify func() bool) bool {
	k := c.Key(user, password, hash)
	if c.Known(k) {
		return true
	}
	if !verify() {
		return false
	}
	c.Remember(k)
	return true
}

func TestCache(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)

	t.Run("a right password is verified once then remembered", func(t *testing.T) {
		c, v := New(10, time.Minute), &verifier{}
		for i := 0; i < 3; i++ {
			if !check(c, "alice", "secret", hash, v.bcrypt(hash, "secret")) {
				t.Fatal("right password refused")
			}
		}
		if v.calls != 1 {
			t.Fatalf("bcrypt ran %d times, want 1", v.calls)
		}
	})
	t.Run("a wrong password always pays bcrypt and is never remembered", func(t *testing.T) {
		c, v := New(10, time.Minute), &verifier{}
		check(c, "alice", "secret", hash, v.bcrypt(hash, "secret"))
		for i := 0; i < 3; i++ {
			if check(c, "alice", "wrong", hash, v.bcrypt(hash, "wrong")) {
				t.Fatal("wrong password accepted")
			}
		}
		if v.calls != 4 {
			t.Fatalf("bcrypt ran %d times, want 4", v.calls)
		}
	})
	t.Run("a changed stored hash or another user misses", func(t *testing.T) {
		c, v := New(10, time.Minute), &verifier{}
		check(c, "alice", "secret", hash, v.bcrypt(hash, "secret"))
		check(c, "alice", "secret", other, v.bcrypt(other, "secret"))
		check(c, "bob", "secret", hash, v.bcrypt(hash, "secret"))
		if v.calls != 3 {
			t.Fatalf("bcrypt ran %d times, want 3", v.calls)
		}
	})
	t.Run("entries expire", func(t *testing.T) {
		c, v := New(10, time.Minute), &verifier{}
		now := time.Unix(1000, 0)
		c.now = func() time.Time { return now }
		check(c, "alice", "secret", hash, v.bcrypt(hash, "secret"))
		now = now.Add(time.Minute)
		check(c, "alice", "secret", hash, v.bcrypt(hash, "secret"))
		if v.calls != 2 {
			t.Fatalf("bcrypt ran %d times, want 2", v.calls)
		}
	})
	t.Run("size is bounded", func(t *testing.T) {
		c, v := New(4, time.Minute), &verifier{}
		for _, u := range []string{"a", "b", "c", "d", "e", "f", "g"} {
			check(c, u, "secret", hash, v.bcrypt(hash, "secret"))
			if len(c.entries) > 4 {
				t.Fatalf("cache holds %d entries, bound is 4", len(c.entries))
			}
		}
	})
	t.Run("purge forgets", func(t *testing.T) {
		c, v := New(10, time.Minute), &verifier{}
		check(c, "alice", "secret", hash, v.bcrypt(hash, "secret"))
		c.Purge()
		check(c, "alice", "secret", hash, v.bcrypt(hash, "secret"))
		if v.calls != 2 {
			t.Fatalf("bcrypt ran %d times, want 2", v.calls)
		}
	})
	t.Run("disabled cache verifies every time", func(t *testing.T) {
		c, v := New(0, time.Minute), &verifier{}
		check(c, "alice", "secret", hash, v.bcrypt(hash, "secret"))
		check(c, "alice", "secret", hash, v.bcrypt(hash, "secret"))
		if v.calls != 2 {
			t.Fatalf("bcrypt ran %d times, want 2", v.calls)
		}
	})
}

func TestConcurrentChecks(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	c := New(8, time.Minute)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			user := string(rune('a' + i))
			for j := 0; j < 20; j++ {
				ok := check(c, user, "secret", hash, func() bool {
					return bcrypt.CompareHashAndPassword(hash, []byte("secret")) == nil
				})
				if !ok {
					t.Error("right password refused")
				}
			}
		}(i)
	}
	wg.Wait()
}

// TestKeysAreStableUnderConcurrency computes the same keys from many
// goroutines at once (the MACs are pooled) and compares them with those
// computed one at a time.
func TestKeysAreStableUnderConcurrency(t *testing.T) {
	c := New(10, time.Minute)
	type triple struct{ user, password, hash string }
	var triples []triple
	for i := range 50 {
		triples = append(triples, triple{fmt.Sprint("u", i), fmt.Sprint("p", i%7), fmt.Sprint("$2a$10$", i%3)})
	}
	want := make([]Key, len(triples))
	for i, tr := range triples {
		want[i] = c.Key(tr.user, tr.password, []byte(tr.hash))
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for round := range 20 {
				for i, tr := range triples {
					if got := c.Key(tr.user, tr.password, []byte(tr.hash)); got != want[i] {
						t.Errorf("round %d: key of %v changed", round, tr)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if want[0] == want[1] || c.Key("ab", "c", nil) == c.Key("a", "bc", nil) {
		t.Error("different triples share a key")
	}
}
