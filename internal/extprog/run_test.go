package extprog

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/authconfig"
)

// However many logins arrive at once, at most maxRunning copies of the
// program run: each copy counts the copies running beside it.
func TestAtMostMaxRunningCopiesRunAtOnce(t *testing.T) {
	old := maxRunning
	maxRunning = 2
	t.Cleanup(func() { maxRunning = old })
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "running"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "count.sh")
	body := "#!/bin/sh\nd=" + dir + "\ntouch $d/running/$$\nsleep 0.2\nls $d/running | wc -l > $d/seen.$$\nrm $d/running/$$\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	a := NewAuthenticator(&authconfig.ExtConfig{Path: script, TimeoutValue: time.Minute})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Authenticate(context.Background(), "u"+strconv.Itoa(i), "pw"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen, _ := filepath.Glob(filepath.Join(dir, "seen.*"))
	if len(seen) != 8 {
		t.Fatalf("%d runs recorded, want 8", len(seen))
	}
	for _, f := range seen {
		b, _ := os.ReadFile(f)
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n < 1 || n > 2 {
			t.Errorf("a copy saw %d copies running, want at most 2", n)
		}
	}
}
